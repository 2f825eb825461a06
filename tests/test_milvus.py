"""The Milvus store against a real `milvus-lite server` (issue 12): the same hits as the
embedded index, incremental syncs, a kill at any point of a sync, two readers."""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from semsearch.indexer import milvus_store
from semsearch.indexer.encoders import Encoder, EncoderSpec
from semsearch.indexer.errors import IndexMismatchError
from semsearch.indexer.milvus_lease import Claim, MilvusLease, MilvusLockedError
from semsearch.indexer.milvus_schema import PLACEHOLDER
from semsearch.indexer.milvus_stats import milvus_stats
from semsearch.indexer.milvus_store import MilvusStore, MilvusTarget, row_key
from semsearch.indexer.milvus_sync import sync_to_milvus
from semsearch.indexer.sync import SyncOptions
from semsearch.search.milvus_searcher import MilvusSearcher
from semsearch.search.options import Filters, Mode, SearchOptions
from semsearch.search.searcher import Searcher
from semsearch.search.whole_documents import document_evidence, group_whole_documents
from semsearch.settings import DEFAULT_MODEL
from tests.helpers import (
    SEARCH_DOCS,
    SEARCH_NEW_MTIME,
    SEARCH_SYNC_OPTIONS_KW,
    search_write_docs,
)
from tests.live_server import REPO, start_server, stop_server
from tests.milvus_server import milvus_lite_server

pytestmark = pytest.mark.scale

OPTIONS = SyncOptions(**SEARCH_SYNC_OPTIONS_KW)
QUERIES = ["zorblax enzyme", "how do I fix a flat tyre", "bake bread with yeast",
           "printing press books Europe", "绿茶怎么泡", "rose pruning in winter",
           "fibonacci number"]
FILTERS = [Filters(), Filters(path_prefix="cooking/"), Filters(path_glob="*/[bp]*.md"),
           Filters(path_glob="g*/*.txt"), Filters(file_types=("md", ".TXT")),
           Filters(modified_after=SEARCH_NEW_MTIME - 1),
           Filters(modified_before=SEARCH_NEW_MTIME - 1)]


@pytest.fixture(scope="module")
def search_store(milvus_uri: str, search_index: tuple[Path, Path],
                 encoder: Encoder) -> MilvusTarget:
    """SEARCH_DOCS (the folder of the embedded `search_index`) synced into Milvus."""
    target = MilvusTarget(milvus_uri, "search_docs")
    report = sync_to_milvus(search_index[0], target, EncoderSpec.of(encoder), OPTIONS)
    assert report.added == len(SEARCH_DOCS) and not report.skipped
    return target


@pytest.fixture(scope="module")
def milvus_searcher(search_store: MilvusTarget, encoder: Encoder) -> Any:
    searcher = MilvusSearcher(search_store, EncoderSpec.of(encoder))
    yield searcher
    searcher.close()


def _hits(searcher: Searcher, query: str, options: SearchOptions) -> list[tuple[Any, ...]]:
    return [(hit.path, hit.ordinal, hit.score_kind, round(hit.score, 4),
             {kind: round(score, 4) for kind, score in hit.scores.items()},
             [h.text for h in hit.highlights]) for hit in searcher.search(query, options).results]


@pytest.mark.parametrize("mode", ["dense", "lexical", "hybrid"])
def test_same_hits_as_the_embedded_index(search_searcher: Searcher, milvus_searcher: Any,
                                         mode: str) -> None:
    compared = 0
    for query in QUERIES:
        for filters in FILTERS:
            # Highlights (the model on every hit's sentences) once per query: unfiltered.
            options = SearchOptions(k=5, mode=mode, filters=filters,
                                    highlight=filters.is_empty())
            expected = _hits(search_searcher, query, options)
            assert _hits(milvus_searcher, query, options) == expected, (query, filters)
            compared += len(expected)
    assert compared > 30  # the filters leave hits to compare


@pytest.mark.parametrize("mode", ["lexical", "hybrid"])
def test_same_grouped_hits_as_the_embedded_index(search_searcher: Searcher,
                                                 milvus_searcher: Any, mode: str) -> None:
    """Grouped by document, both stores rank whole documents alike: BM25 over each
    document's whole text, and in hybrid the cosine of its mean chunk vector."""
    compared = 0
    for query in QUERIES:
        for filters in FILTERS:
            options = SearchOptions(k=5, mode=mode, filters=filters, group_by="document",
                                    highlight=filters.is_empty())
            expected = _tied_by_path(_hits(search_searcher, query, options))
            found = _tied_by_path(_hits(milvus_searcher, query, options))
            assert found == expected, (query, filters)
            compared += len(expected)
    assert compared > 20  # the filters leave hits to compare


def _tied_by_path(hits: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """`hits` with equal scores put in path order: a tie goes to the lower chunk id, and
    ids differ between the stores (two documents fuse to 0.5 each when each wins a leg).
    """
    return sorted(hits, key=lambda hit: (-hit[3], hit[0]))


@pytest.mark.parametrize("mode", [Mode.LEXICAL, Mode.HYBRID])
def test_documents_found_by_their_whole_text_alone(search_searcher: Searcher,
                                                   milvus_searcher: Any, mode: Mode) -> None:
    """No chunk candidates at all: every document comes from the whole-text BM25's top,
    its chunks scored by both legs, as in the embedded index."""
    shown = []
    for searcher in (search_searcher, milvus_searcher):
        vector = searcher.embed(["sourdough bread and pasta with tomato"])[0]
        with searcher.reader.snapshot() as snapshot:
            evidence = document_evidence(snapshot, "sourdough bread and pasta with tomato")
            assert evidence is not None
            grouped = group_whole_documents(evidence, lambda v=vector: v, mode, Filters(),
                                            None, 2, [], {}, {})
            rows = snapshot.store.chunks([c for c, _ in grouped.shown])
            shown.append(sorted(((rows[c].path, rows[c].ordinal, round(score, 4))
                                 for c, score in grouped.shown),
                                key=lambda hit: (-hit[2], hit[0])))  # ties: ids differ
    assert sorted(path for path, _, _ in shown[0]) == ["cooking/bread.md", "cooking/pasta.txt"]
    assert shown[1] == shown[0]


def test_grouping_min_score_and_documents(search_searcher: Searcher,
                                          milvus_searcher: Any) -> None:
    options = SearchOptions(k=3, group_by="document", min_score=0.2)
    expected = _hits(search_searcher, "printing press", options)
    assert _hits(milvus_searcher, "printing press", options) == expected
    hit = milvus_searcher.search("printing press", options).results[0]
    embedded = search_searcher.search("printing press", options).results[0]
    document, embedded_document = (milvus_searcher.document(hit.doc_id),
                                   search_searcher.document(embedded.doc_id))
    assert document is not None and embedded_document is not None
    assert [c.text for c in document.chunks] == [c.text for c in embedded_document.chunks]
    assert len(document.chunks) > 1
    assert milvus_searcher.document(12345) is None


def test_a_grouped_search_reads_the_frequencies_once_and_pages_through_nothing(
        milvus_searcher: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A grouped hybrid search reads the BM25 document frequencies of chunks and of
    whole documents in one request to `_terms` (each is a scan in milvus-lite), and its
    reads of rows fit one request each (an iterator costs two more)."""
    client = milvus_searcher.reader.milvus.client
    asked: list[tuple[str, str]] = []

    def counted(method: str, call: Any) -> Any:
        def request(collection: str, *args: Any, **kwargs: Any) -> Any:
            asked.append((method, collection))
            return call(collection, *args, **kwargs)
        return request

    for method in ("query", "search", "query_iterator"):
        monkeypatch.setattr(client, method, counted(method, getattr(client, method)))
    options = SearchOptions(k=5, mode="hybrid", group_by="document", highlight=False)
    assert milvus_searcher.search("bake bread with yeast", options).results
    assert [call for call in asked if call[1].endswith("_terms")] == [
        ("query", "search_docs_terms")]
    assert ("search", "search_docs_documents") in asked  # ranked by whole documents
    assert not [call for call in asked if call[0] == "query_iterator"]


def test_a_read_past_one_query_window_pages_through_every_row(
        search_store: MilvusTarget, monkeypatch: pytest.MonkeyPatch) -> None:
    """`MilvusStore.query` answers in one request what fits Milvus' window of one query,
    and pages through the rest: the same rows, in key order, either way."""
    client = MilvusStore(search_store)
    try:
        state = client.require_committed()
        store = client.at(state.build)
        expression = f"generation <= {state.generation}"
        whole = store.query(store.chunks, expression, ["pk", "ordinal"])
        monkeypatch.setattr(milvus_store, "QUERY_WINDOW", 3)
        assert store.query(store.chunks, expression, ["pk", "ordinal"]) == whole
    finally:
        client.close()
    assert len(whole) > 3
    assert [row["pk"] for row in whole] == sorted(row["pk"] for row in whole)


def test_native_bm25_finds_the_documents_with_the_words(milvus_uri: str,
                                                        search_store: MilvusTarget,
                                                        encoder: Encoder) -> None:
    searcher = MilvusSearcher(search_store, EncoderSpec.of(encoder), lexical="native")
    try:
        hits = searcher.search("zorblax", SearchOptions(mode="lexical")).results
        assert [hit.path for hit in hits] == ["biology/zorblax.txt"]
        filtered = searcher.search("zorblax", SearchOptions(
            mode="lexical", filters=Filters(path_prefix="cooking/"))).results
        assert filtered == []
    finally:
        searcher.close()


# --- syncs -----------------------------------------------------------------------------

def _snapshot(target: MilvusTarget) -> dict[str, Any]:
    """What a collection holds at its committed generation: chunk ids with their rows and
    vectors, the documents with their whole-document evidence, the BM25 statistics."""
    client = MilvusStore(target)
    try:
        state = client.require_committed()
        store = client.at(state.build)
        generation = state.generation
        visible = f"generation <= {generation} and (retired == 0 or retired > {generation})"
        chunks = store.query(store.chunks, "", ["pk", "path", "ordinal", "text", "dense",
                                                "lexical", "generation", "retired"])
        documents = store.query(store.documents, visible, [
            "path", "content_hash", "size", "mtime", "status", "error", "file_type",
            "whole_length", "whole_lexical", "mean"])
        terms = store.query(store.terms, visible, ["dimension", "frequency"])
        assert client.builds() == [state.build], "a finished sync leaves no other build"
    finally:
        client.close()
    assert all(row["generation"] <= generation and row["retired"] == 0 for row in chunks), \
        "a finished sync leaves no row of another generation"
    return {"chunks": {row["pk"]: (row["path"], row["ordinal"], row["text"],
                                   np.asarray(row["dense"], dtype=np.float32),
                                   row["lexical"]) for row in chunks},
            "documents": sorted(tuple(value for name, value in row.items()
                                      if name not in ("whole_lexical", "mean"))
                                for row in documents),
            "evidence": {row["path"]: (np.asarray(row["mean"], dtype=np.float32),
                                       sorted(row["whole_lexical"]))
                         for row in documents},
            "terms": sorted((row["dimension"], row["frequency"]) for row in terms),
            "counts": (state.chunks, state.lexical_length, state.documents,
                       state.document_length, state.document_reference_length)}


def _assert_same(state: dict[str, Any], clean: dict[str, Any]) -> None:
    assert state["chunks"].keys() == clean["chunks"].keys()
    for key, (path, ordinal, text, vector, lexical) in clean["chunks"].items():
        other = state["chunks"][key]
        assert other[:3] == (path, ordinal, text)
        # Equal up to float32 rounding: a batch of other texts pads differently.
        assert np.allclose(other[3], vector, atol=1e-5)
        assert other[4].keys() == lexical.keys()
    assert state["documents"] == clean["documents"]
    assert state["evidence"].keys() == clean["evidence"].keys()
    for path, (mean, dimensions) in clean["evidence"].items():
        assert np.allclose(state["evidence"][path][0], mean, atol=1e-5)
        assert state["evidence"][path][1] == dimensions
    assert state["terms"] == clean["terms"]
    assert state["counts"] == clean["counts"]


def _change(root: Path) -> None:
    """An edit, a deletion, a rename, a new file and a copy of a file."""
    (root / "cooking/pasta.txt").write_text("Cooking rice.\nRinse the rice, then simmer it.\n")
    (root / "finance/budget.txt").unlink()
    (root / "gardening/roses.txt").rename(root / "gardening/old_roses.txt")
    (root / "new.md").write_text("# Kites\n\nA kite flies on a windy beach.\n")
    shutil.copy2(root / "cooking/bread.md", root / "bread_copy.md")


def _clean(root: Path, milvus_uri: str, name: str, encoder: Encoder) -> dict[str, Any]:
    target = MilvusTarget(milvus_uri, name)
    sync_to_milvus(root, target, EncoderSpec.of(encoder), OPTIONS)
    return _snapshot(target)


def _synced(tmp_path: Path, milvus_uri: str, name: str,
            encoder: Encoder) -> tuple[Path, MilvusTarget, EncoderSpec]:
    """SEARCH_DOCS written under `tmp_path` and synced into collection `name`."""
    root = tmp_path / "docs"
    search_write_docs(root, SEARCH_DOCS)
    target = MilvusTarget(milvus_uri, name)
    spec = EncoderSpec.of(encoder)
    sync_to_milvus(root, target, spec, OPTIONS)
    return root, target, spec


def test_incremental_syncs_equal_a_clean_run(tmp_path: Path, milvus_uri: str,
                                             encoder: Encoder) -> None:
    root, target, spec = _synced(tmp_path, milvus_uri, "incremental", encoder)
    again = sync_to_milvus(root, target, spec, OPTIONS)
    assert (again.chunks_encoded, again.unchanged) == (0, len(SEARCH_DOCS))
    _change(root)
    report = sync_to_milvus(root, target, spec, OPTIONS)
    assert (report.added, report.updated, report.removed, report.renamed) == (2, 1, 1, 1)
    assert report.chunks_encoded == 3  # the edit, the new file and the copy: a chunk each
    _assert_same(_snapshot(target), _clean(root, milvus_uri, "incremental_clean", encoder))


KILLER = """
import os, signal, sys
from pathlib import Path
from semsearch.indexer.encoders import EncoderSpec
from semsearch.indexer.milvus_store import MilvusStore, MilvusTarget
from semsearch.indexer.milvus_sync import sync_to_milvus
from semsearch.indexer.sync import SyncOptions

root, uri, name, method, calls, model, files, rebuild = sys.argv[1:]
original = getattr(MilvusStore, method)
seen = []

def killing(self, *args, **kwargs):
    seen.append(method)
    if len(seen) > int(calls):
        os.kill(os.getpid(), signal.SIGKILL)
    return original(self, *args, **kwargs)

setattr(MilvusStore, method, killing)
sync_to_milvus(Path(root), MilvusTarget(uri, name), EncoderSpec(model, "torch", "cpu"),
               SyncOptions(chunk_tokens=64, chunk_overlap=8, generation_files=int(files),
                           rebuild=rebuild == "rebuild"))
"""


@pytest.mark.parametrize(("method", "calls", "files", "committed"), [
    ("insert", 2, 500, False),   # amid the new chunks
    ("mark", 0, 500, False),     # the documents written, nothing retired yet
    ("commit", 0, 500, False),   # everything written, the manifest not flipped
    ("finish", 1, 500, True),    # flipped, the replaced rows not deleted
    ("commit", 1, 2, None),      # a generation of two files committed, the next not
])
def test_a_kill_anywhere_then_a_rerun_equals_a_clean_run(
        tmp_path: Path, milvus_uri: str, encoder: Encoder, method: str, calls: int,
        files: int, committed: bool | None) -> None:
    name = f"killed_{method}_{calls}_{files}"
    root, target, spec = _synced(tmp_path, milvus_uri, name, encoder)
    searcher = MilvusSearcher(target, spec)
    before = _hits(searcher, "bread", SearchOptions(k=20))
    _change(root)
    _kill_a_sync(root, milvus_uri, name, method, calls, files)
    # A search in between sees one committed state: the old one, or the new one in full
    # (or, in generations, the first generation's files changed and the others not).
    during = _hits(searcher, "bread", SearchOptions(k=20))
    if committed is not None:
        assert ("bread_copy.md" in {hit[0] for hit in during}) == committed
    if committed is False:
        assert during == before
    searcher.close()
    rerun = sync_to_milvus(root, target, spec, OPTIONS)
    if committed is None:  # the committed generation's files are not encoded again
        assert 0 < rerun.chunks_encoded < 3 and rerun.generations == 1
    _assert_same(_snapshot(target), _clean(root, milvus_uri, f"clean_{name}", encoder))


def _kill_a_sync(root: Path, milvus_uri: str, name: str, method: str, calls: int,
                 files: int, rebuild: bool = False) -> None:
    """Run a sync of `root` in a process killed (SIGKILL) as it calls `MilvusStore.method`
    for the `calls` + 1-th time."""
    killed = subprocess.run([sys.executable, "-c", KILLER, str(root), milvus_uri, name,
                             method, str(calls), DEFAULT_MODEL, str(files),
                             "rebuild" if rebuild else "sync"], cwd=REPO, timeout=300,
                            capture_output=True)
    assert killed.returncode == -9, killed.stderr.decode()


@pytest.mark.parametrize(("method", "calls", "switched"), [
    ("insert", 1, False),     # amid the new build's chunks
    ("drop_build", 0, True),  # the new build committed, the old one not dropped yet
])
def test_a_killed_rebuild_leaves_the_old_build_searchable(
        tmp_path: Path, milvus_uri: str, encoder: Encoder, method: str, calls: int,
        switched: bool) -> None:
    name = f"rebuilt_{method}"
    root, target, spec = _synced(tmp_path, milvus_uri, name, encoder)
    searcher = MilvusSearcher(target, spec)
    try:
        before = _hits(searcher, "bread", SearchOptions(k=20))
        _change(root)
        _kill_a_sync(root, milvus_uri, name, method, calls, 500, rebuild=True)
        during = _hits(searcher, "bread", SearchOptions(k=20))
        assert ("bread_copy.md" in {hit[0] for hit in during}) == switched
        if not switched:
            assert during == before
        # The killed sync's lease (its process is gone) does not stop the next one.
        sync_to_milvus(root, target, spec, replace(OPTIONS, rebuild=True))
        assert "bread_copy.md" in {hit[0] for hit in _hits(searcher, "bread",
                                                           SearchOptions(k=20))}
    finally:
        searcher.close()
    _assert_same(_snapshot(target), _clean(root, milvus_uri, f"clean_{name}", encoder))


def _as_built_before_whole_documents(target: MilvusTarget) -> None:
    """Make the committed build of `target` what a sync before whole-document evidence
    made: document rows with a placeholder vector (and no type), no whole-document
    frequencies, no whole-document statistics in the manifest row."""
    from pymilvus import DataType

    store = MilvusStore(target)
    try:
        state = store.require_committed()
        rows = store.query(store.documents, "", [
            "pk", "doc_id", "path", "content_hash", "size", "mtime", "title", "format",
            "status", "error", "indexed_at", "generation", "retired"])
        schema = store.client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("pk", DataType.INT64, is_primary=True)
        for name, kind, options in [
                ("doc_id", DataType.INT64, {}), ("path", DataType.VARCHAR, {"max_length": 4096}),
                ("content_hash", DataType.VARCHAR, {"max_length": 64}),
                ("size", DataType.INT64, {}), ("mtime", DataType.DOUBLE, {}),
                ("title", DataType.VARCHAR, {"max_length": 65535}),
                ("format", DataType.VARCHAR, {"max_length": 64}),
                ("status", DataType.VARCHAR, {"max_length": 16}),
                ("error", DataType.VARCHAR, {"max_length": 65535}),
                ("indexed_at", DataType.DOUBLE, {}), ("generation", DataType.INT64, {}),
                ("retired", DataType.INT64, {}),
                ("placeholder", DataType.FLOAT_VECTOR, {"dim": len(PLACEHOLDER)})]:
            schema.add_field(name, kind, **options)
        params = store.client.prepare_index_params()
        params.add_index("placeholder", index_type="FLAT", metric_type="L2")
        store.client.drop_collection(store.documents)
        store.client.create_collection(store.documents, schema=schema, index_params=params,
                                       consistency_level="Strong")
        store.insert(store.documents, [{**row, "placeholder": PLACEHOLDER} for row in rows])
        store.delete(store.terms, f"dimension >= {2**32}")
        store.commit(replace(state, documents=0, document_length=0,
                             document_reference_length=None))
        store.flush()
    finally:
        store.close()


def test_a_store_built_before_whole_documents_syncs_and_ranks_by_best_chunks(
        tmp_path: Path, milvus_uri: str, encoder: Encoder,
        search_searcher: Searcher) -> None:
    """A build without the evidence: syncs go on without it and grouped searches rank
    documents by their best chunks, until a rebuild writes it."""
    root, target, spec = _synced(tmp_path, milvus_uri, "before_whole", encoder)
    _as_built_before_whole_documents(target)
    query = "bake bread with yeast"
    options = SearchOptions(k=5, mode="hybrid", group_by="document")
    searcher = MilvusSearcher(target, spec)
    try:
        (root / "new.md").write_text("# Kites\n\nA kite flies on a windy beach.\n")
        assert sync_to_milvus(root, target, spec, OPTIONS).added == 1
        with searcher.reader.snapshot() as snapshot:
            assert document_evidence(snapshot, query) is None
        assert searcher.search("kite on the beach", options).results[0].path == "new.md"
        (root / "new.md").unlink()
        assert sync_to_milvus(root, target, spec, OPTIONS).removed == 1
        expected = _tied_by_path(_hits(search_searcher, query, options))
        assert _tied_by_path(_hits(searcher, query, options)) != expected
        sync_to_milvus(root, target, spec, replace(OPTIONS, rebuild=True))
        assert _tied_by_path(_hits(searcher, query, options)) == expected
    finally:
        searcher.close()


def test_a_second_sync_is_refused_while_one_holds_the_store(
        tmp_path: Path, milvus_uri: str, encoder: Encoder) -> None:
    root, target, spec = _synced(tmp_path, milvus_uri, "leased", encoder)
    (root / "new.md").write_text("# Kites\n\nA kite flies on a windy beach.\n")
    store = MilvusStore(target)
    try:
        generation = store.require_committed().generation
        with MilvusLease(store):
            with pytest.raises(MilvusLockedError, match=re.escape(
                    f"Another sync is already running on Milvus collection 'leased' at "
                    f"{milvus_uri} (host {socket.gethostname()}, pid {os.getpid()})")):
                sync_to_milvus(root, target, spec, OPTIONS)
            assert store.require_committed().generation == generation
        # Claims of dead owners: a process gone on this host, an expired lease elsewhere.
        gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)
        _claim(store, Claim("gone", socket.gethostname(), int(gone.stdout), time.time() + 600))
        _claim(store, Claim("expired", "elsewhere", 1, time.time() - 1))
        report = sync_to_milvus(root, target, spec, OPTIONS)
        assert report.added == 1
        assert MilvusLease(store).claims() == []
        _claim(store, Claim("alive", "elsewhere", 1, time.time() + 600))
        with pytest.raises(MilvusLockedError, match="host elsewhere, pid 1"):
            sync_to_milvus(root, target, spec, OPTIONS)
    finally:
        store.close()


def _claim(store: MilvusStore, claim: Claim) -> None:
    """Write `claim` as another sync's lease row."""
    store.client.upsert(store.manifest_collection, [
        {"pk": row_key("lease", claim.owner), "state": json.dumps({"lease": asdict(claim)}),
         "placeholder": PLACEHOLDER}])


def test_an_approximate_dense_index_answers(tmp_path: Path, milvus_uri: str,
                                            encoder: Encoder,
                                            search_searcher: Searcher) -> None:
    root = tmp_path / "docs"
    search_write_docs(root, SEARCH_DOCS)
    target = MilvusTarget(milvus_uri, "approximate", dense_index="HNSW")
    spec = EncoderSpec.of(encoder)
    sync_to_milvus(root, target, spec, OPTIONS)
    store = MilvusStore(target)
    try:
        assert store.client.describe_index(store.chunks, "dense")["index_type"] == "HNSW"
    finally:
        store.close()
    assert "Milvus HNSW" in milvus_stats(target).index_type
    searcher = MilvusSearcher(target, spec)
    try:
        options = SearchOptions(k=5, mode="dense")
        for query in QUERIES:  # a graph over a few dozen vectors: every one is visited
            assert _hits(searcher, query, options) == _hits(search_searcher, query, options)
    finally:
        searcher.close()
    asked = MilvusTarget(milvus_uri, "approximate", dense_index="IVF_FLAT")
    with pytest.raises(IndexMismatchError, match="HNSW dense index, not IVF_FLAT.*--rebuild"):
        sync_to_milvus(root, asked, spec, OPTIONS)
    sync_to_milvus(root, asked, spec, replace(OPTIONS, rebuild=True))
    assert "Milvus IVF_FLAT" in milvus_stats(target).index_type


def test_a_sync_in_generations_equals_one_in_one(tmp_path: Path, milvus_uri: str,
                                                 encoder: Encoder) -> None:
    root, target, spec = _synced(tmp_path, milvus_uri, "in_generations", encoder)
    _change(root)
    report = sync_to_milvus(root, target, spec, SyncOptions(
        **SEARCH_SYNC_OPTIONS_KW, generation_files=1, commit_share=1.0))
    assert report.generations > 3
    _assert_same(_snapshot(target), _clean(root, milvus_uri, "in_one", encoder))


def test_a_store_answers_and_syncs_after_milvus_lite_restarts(tmp_path: Path,
                                                               encoder: Encoder) -> None:
    """milvus-lite forgets what it had loaded when it restarts: a reader and a sync of a
    store it holds load it again (the manifest was read before anything loaded it)."""
    data = tmp_path / "milvus"
    with milvus_lite_server(data) as uri:
        root, target, spec = _synced(tmp_path, uri, "restarted", encoder)
    with milvus_lite_server(data) as uri:
        target = replace(target, uri=uri)
        searcher = MilvusSearcher(target, spec)
        try:
            assert searcher.search("bake bread with yeast").results
        finally:
            searcher.close()
        _change(root)
        assert sync_to_milvus(root, target, spec, OPTIONS).added


def test_two_searchers_answer_alike_and_see_a_sync(tmp_path: Path, milvus_uri: str,
                                                   encoder: Encoder) -> None:
    root, target, spec = _synced(tmp_path, milvus_uri, "two_readers", encoder)
    first, second = MilvusSearcher(target, spec), MilvusSearcher(target, spec)
    try:
        for query in QUERIES:
            assert _hits(first, query, SearchOptions()) == _hits(second, query, SearchOptions())
        (root / "new.md").write_text("# Kites\n\nA kite flies on a windy beach.\n")
        sync_to_milvus(root, target, spec, OPTIONS)
        for searcher in (first, second):
            assert searcher.search("kite on the beach").results[0].path == "new.md"
    finally:
        first.close()
        second.close()


def test_two_servers_answer_alike_and_see_a_sync_by_one(tmp_path: Path, milvus_uri: str,
                                                        encoder: Encoder) -> None:
    root, _, _ = _synced(tmp_path, milvus_uri, "two_servers", encoder)
    env = {"SEMSEARCH_MILVUS_URI": milvus_uri, "SEMSEARCH_MILVUS_COLLECTION": "two_servers"}
    servers = [start_server(tmp_path / "unused", env) for _ in range(2)]
    bases = [base for _, base in servers]
    try:
        answers = [[httpx.post(base + "/search", json={"query": query, "k": 5},
                               timeout=60).json()["results"] for query in QUERIES]
                   for base in bases]
        stats = [httpx.get(base + "/stats", timeout=60).json() for base in bases]
        (root / "new.md").write_text("# Kites\n\nA kite flies on a windy beach.\n")
        started = httpx.post(bases[0] + "/index", json={}, timeout=60)
        assert started.status_code == 202, started.text
        status = started.json()
        while status["running"]:
            time.sleep(0.2)
            status = httpx.get(bases[0] + "/index/status", timeout=60).json()
        found = httpx.post(bases[1] + "/search", json={"query": "kite on the beach"},
                           timeout=60).json()["results"]
    finally:
        for process, _ in servers:
            stop_server(process)
    assert answers[0] == answers[1] and all(answers[0])
    assert stats[0] == stats[1]
    assert stats[0]["documents"] == len(SEARCH_DOCS)
    assert status["last_error"] is None and status["last_report"]["added"] == 1
    assert status["generation"] == 2  # the first sync's and the server's
    assert found[0]["path"] == "new.md"


def test_no_index_in_a_collection_is_a_clear_error(milvus_uri: str, encoder: Encoder) -> None:
    from semsearch.indexer.errors import IndexNotFoundError

    with pytest.raises(IndexNotFoundError, match="semsearch index PATH --milvus"):
        MilvusSearcher(MilvusTarget(milvus_uri, "nothing_here"), EncoderSpec.of(encoder))


def test_the_cli_on_milvus(tmp_path: Path, milvus_uri: str,
                           loads: list[tuple[Any, ...]]) -> None:
    from typer.testing import CliRunner

    from semsearch.cli import app

    root = tmp_path / "docs"
    root.mkdir()
    (root / "a.txt").write_text("Cats sleep most of the day.", encoding="utf-8")
    (root / "b.md").write_text("# Dogs\n\nDogs like long walks.\n", encoding="utf-8")
    (root / "broken.pdf").write_bytes(b"%PDF-1.4\nnot really")
    store = ["--milvus", milvus_uri, "--collection", "cli"]
    runner = CliRunner()
    indexed = runner.invoke(app, ["index", str(root), *store, "--backend", "torch", "--json"])
    assert indexed.exit_code == 0, indexed.output
    report = json.loads(indexed.output)
    assert (report["added"], len(report["skipped"])) == (2, 1)
    found = runner.invoke(app, ["search", "a cat sleeping", *store, "--json"])
    assert found.exit_code == 0, found.output
    assert json.loads(found.output)["results"][0]["path"] == "a.txt"
    stats = json.loads(runner.invoke(app, ["stats", *store, "--json"]).output)
    assert (stats["documents"], stats["chunks"], stats["skipped"]) == (2, 2, 1)
    assert stats["skipped_files"][0]["path"] == "broken.pdf"
    missing = runner.invoke(app, ["search", "cats", "--milvus", milvus_uri,
                                  "--collection", "missing"])
    assert missing.exit_code == 2
    assert "semsearch index PATH --milvus" in missing.output
