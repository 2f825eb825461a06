"""Whole documents as ranking evidence: the per-document rows kept with the chunks
(indexer/whole_documents.py) and searches grouped by document that rank by them
(search/whole_documents.py)."""

import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from semsearch.indexer.encoders import Encoder, EncoderSpec
from semsearch.indexer.store import Store
from semsearch.indexer.sync import SyncOptions, sync_folder
from semsearch.indexer.whole_documents import READY_KEY, whole_text
from semsearch.search.document_memory import build_document_memory
from semsearch.search.options import Filters, Mode, SearchOptions
from semsearch.search.ranking import rank
from semsearch.search.searcher import Searcher
from semsearch.search.whole_documents import (
    DocumentQuery,
    IndexEvidence,
    group_whole_documents,
    mean_cosines,
)

QUERY = "quasar lattice"
# "spread.txt" says both query words three times, but in different chunks; "both.txt"
# says each once, in its one chunk: by chunk it wins, by whole document it loses.
DOCS = {
    "spread.txt": (
        "Field notes\n\n"
        "The quasar was first seen from the northern station on a clear and windless night. "
        "The quasar sent steady radio bursts to the station all through the long winter. "
        "Astronomers logged the quasar brightness every night until the spring thaw came. "
        "The lattice of the crystal was studied in the cold laboratory at low temperature. "
        "The lattice spacing shrank steadily under high pressure in the diamond anvil. "
        "Engineers measured the lattice with x rays before the samples were sealed."),
    "both.txt": (
        "Report\n\n"
        "A quasar and a lattice appear together in one odd report from the archive. The "
        "report was written by a retired clerk who kept careful records of the weather, "
        "of the harvest and of the prices at the market in the town."),
}
_FILLER = ("{0}\n\n" + " ".join([
    "This page is about {0} and nothing else of interest to the reader.",
    "It was written in a plain style for people who like {0} and want to learn more.",
    "Each paragraph repeats some advice about {0} that others have found useful.",
    "The advice is old but still sound, and most readers agree with it today.",
    "Nothing here is about the sky, the stars or any crystal in a laboratory.",
    "The last part lists a few books about {0} that a library may lend."]))
DOCS |= {f"{topic}.txt": _FILLER.format(topic)
         for topic in ("baking", "gardening", "cycling", "brewing")}
OPTIONS = SyncOptions(chunk_tokens=64, chunk_overlap=8)
GROUPED = SearchOptions(k=10, mode=Mode.LEXICAL, group_by="document", highlight=False)


def _sync(root: Path, index_dir: Path, encoder: Encoder) -> None:
    sync_folder(root, index_dir, EncoderSpec.of(encoder), OPTIONS)


def _write(root: Path, docs: dict[str, str]) -> None:
    for name, text in docs.items():
        (root / name).write_text(text, encoding="utf-8")


@pytest.fixture
def indexed(tmp_path: Path, encoder: Encoder) -> tuple[Path, Path]:
    root, index_dir = tmp_path / "docs", tmp_path / "index"
    root.mkdir()
    _write(root, DOCS)
    _sync(root, index_dir, encoder)
    return root, index_dir


def _rows(index_dir: Path) -> dict[str, tuple[str, int]]:
    """Each document's whole-text BM25 body and chunk count, by file name."""
    connection = sqlite3.connect(index_dir / "index.sqlite")
    try:
        return {Path(path).name: (body, chunks) for path, body, chunks in connection.execute(
            "SELECT d.path, f.body, v.chunks FROM documents d "
            "JOIN documents_fts f ON f.rowid = d.id JOIN document_vectors v ON v.doc_id = d.id")}
    finally:
        connection.close()


def _names(searcher: Searcher, options: SearchOptions, query: str = QUERY) -> list[str]:
    return [Path(hit.path).name for hit in searcher.search(query, options).results]


def test_whole_text_counts_each_overlap_once() -> None:
    text = "One two. Three four. Five six."
    chunks = [(text[0:20], 0, 20), (text[9:30], 9, 30), (text[21:30], 21, 30)]
    assert whole_text(chunks) == "One two. Three four.\n Five six."


def test_the_whole_document_wins_where_its_best_chunk_loses(indexed: tuple[Path, Path],
                                                            encoder: Encoder) -> None:
    _, index_dir = indexed
    store = Store.open_readonly(index_dir)
    chunks = [row.text for row in store.document_chunks(
        next(d.id for d in store.documents().values() if d.path.endswith("spread.txt")))]
    store.close()
    assert len(chunks) > 1 and not any("quasar" in c and "lattice" in c for c in chunks)
    searcher = Searcher(index_dir, EncoderSpec.of(encoder))
    try:
        by_chunk = _names(searcher, SearchOptions(k=10, mode=Mode.LEXICAL, highlight=False))
        assert by_chunk[0] == "both.txt"
        assert _names(searcher, GROUPED)[:2] == ["spread.txt", "both.txt"]
        hybrid = _names(searcher, SearchOptions(k=10, mode=Mode.HYBRID, group_by="document",
                                                highlight=False))
        assert {"spread.txt", "both.txt"} <= set(hybrid) and len(hybrid) == len(set(hybrid))
    finally:
        searcher.close()


def test_filters_and_min_score_apply_to_whole_documents(indexed: tuple[Path, Path],
                                                        encoder: Encoder) -> None:
    _, index_dir = indexed
    searcher = Searcher(index_dir, EncoderSpec.of(encoder))
    try:
        kept = SearchOptions(k=10, mode=Mode.LEXICAL, group_by="document", highlight=False,
                             filters=Filters(path_glob="*both.txt"))
        assert _names(searcher, kept) == ["both.txt"]
        hybrid = SearchOptions(k=10, mode=Mode.HYBRID, group_by="document", highlight=False)
        hits = searcher.search(QUERY, hybrid).results
        floor = sorted(h.scores["cosine"] for h in hits)[len(hits) // 2]
        gated = searcher.search(QUERY, SearchOptions(
            k=10, mode=Mode.HYBRID, group_by="document", highlight=False,
            min_score=floor)).results
        assert gated and all(h.scores["cosine"] >= floor for h in gated)
        assert len(gated) < len(hits)
    finally:
        searcher.close()


def test_a_document_found_by_its_whole_text_alone_is_ranked(indexed: tuple[Path, Path],
                                                            encoder: Encoder) -> None:
    """With a pool of one, the chunk legs miss "spread.txt"; its whole-text BM25 brings
    it back, its chunks scored by both legs."""
    _, index_dir = indexed
    searcher = Searcher(index_dir, EncoderSpec.of(encoder))
    try:
        vector = searcher.embed([QUERY])[0]
        with searcher.reader.snapshot() as snapshot:
            store = snapshot.store
            owners = store.chunk_documents(store.chunk_ids().tolist())
            names = {c: Path(store.document(d).path).name for c, d in owners.items()}
            both = next(c for c, name in names.items() if name == "both.txt")
            dense = {both: float(snapshot.vectors.vectors(np.array([both]))[0] @ vector)}
            for mode in (Mode.LEXICAL, Mode.HYBRID):
                lexical = {both: 1.0}
                grouped = group_whole_documents(
                    IndexEvidence(snapshot, QUERY), lambda: vector, mode, Filters(), None, 1,
                    rank(mode, dense if mode == Mode.HYBRID else {}, lexical),
                    dense if mode == Mode.HYBRID else {}, lexical)
                shown = [names[c] for c, _ in grouped.shown]
                assert sorted(shown) == ["both.txt", "spread.txt"], mode
                spread = [c for c, name in names.items() if name == "spread.txt"]
                assert all(c in grouped.lexical for c in spread)
                if mode == Mode.LEXICAL:
                    assert shown[0] == "spread.txt"
                else:
                    assert all(c in grouped.dense for c in spread)
    finally:
        searcher.close()


def test_the_memory_held_scores_as_sqlite_does(indexed: tuple[Path, Path]) -> None:
    """Whole-document BM25 and mean-vector cosines: the same from memory as from
    FTS5 and the stored vectors."""
    _, index_dir = indexed
    store = Store.open_readonly(index_dir)
    try:
        memory = build_document_memory(store, store.generation())
        assert memory is not None and memory.unit_means is not None
        doc_ids = memory.bm25.rowids.tolist()
        query = np.random.default_rng(0).standard_normal(memory.unit_means.shape[1])
        query = (query / np.linalg.norm(query)).astype(np.float32)
        held = memory.mean_cosines(doc_ids + [10**9], query)
        assert held == pytest.approx(mean_cosines(store, None, doc_ids, query), abs=1e-6)
        with store.transaction(write=False):
            for text in (QUERY, "winter crystal", "tomatoes"):
                from_memory = DocumentQuery(store, text, memory.bm25)
                from_fts = DocumentQuery(store, text, None)
                assert from_memory.scored is not None and from_fts.scored is None
                assert from_memory.scores(doc_ids) == pytest.approx(from_fts.scores(doc_ids))
                top, fts_top = from_memory.top(3, Filters()), from_fts.top(3, Filters())
                assert [d for d, _ in top] == [d for d, _ in fts_top]
                assert [s for _, s in top] == pytest.approx([s for _, s in fts_top])
    finally:
        store.close()


def test_edits_deletes_and_renames_keep_the_rows_in_step(indexed: tuple[Path, Path],
                                                         encoder: Encoder) -> None:
    root, index_dir = indexed
    rows = _rows(index_dir)
    assert set(rows) == set(DOCS)
    assert rows["spread.txt"][1] > 1 and rows["spread.txt"][0].count("quasar") == 3
    _write(root, {"spread.txt": DOCS["spread.txt"].replace("lattice", "mesh")})
    (root / "both.txt").unlink()
    (root / "brewing.txt").rename(root / "tea.txt")
    _sync(root, index_dir, encoder)
    rows = _rows(index_dir)
    assert set(rows) == set(DOCS) - {"both.txt", "brewing.txt"} | {"tea.txt"}
    assert "lattice" not in rows["spread.txt"][0] and "mesh" in rows["spread.txt"][0]
    store = Store.open_readonly(index_dir)
    try:
        assert store.connection.execute("SELECT count(*) FROM documents_fts").fetchone()[0] \
            == len(rows)
    finally:
        store.close()
    searcher = Searcher(index_dir, EncoderSpec.of(encoder))
    try:
        assert _names(searcher, GROUPED, "lattice") == []
        assert _names(searcher, GROUPED, "mesh") == ["spread.txt"]
    finally:
        searcher.close()


def _forget_whole_documents(index_dir: Path) -> None:
    """Make `index_dir` look like an index made before the whole-document rows."""
    connection = sqlite3.connect(index_dir / "index.sqlite")
    with connection:
        connection.execute("DROP TABLE documents_fts")
        connection.execute("DROP TABLE document_vectors")
        connection.execute("DELETE FROM meta WHERE key = ?", (READY_KEY,))
    connection.close()


def test_an_older_index_ranks_as_before_until_a_sync_fills_its_rows(
        indexed: tuple[Path, Path], tmp_path: Path, encoder: Encoder) -> None:
    """Ungrouped search is the same with or without the rows; grouped search without
    them ranks each document by its best chunk, as before; a sync writes them."""
    root, index_dir = indexed
    older = tmp_path / "older"
    shutil.copytree(index_dir, older)
    _forget_whole_documents(older)
    ungrouped = SearchOptions(k=20, mode=Mode.HYBRID, highlight=False)
    new, old = (Searcher(d, EncoderSpec.of(encoder)) for d in (index_dir, older))
    try:
        assert [(h.chunk_id, h.score) for h in old.search(QUERY, ungrouped).results] == \
            [(h.chunk_id, h.score) for h in new.search(QUERY, ungrouped).results]
        assert _names(old, GROUPED)[0] == "both.txt"
        assert _names(new, GROUPED)[0] == "spread.txt"
    finally:
        new.close()
        old.close()
    Store.open(older).close()  # what a sync does first: the rows are written
    assert _rows(older) == _rows(index_dir)
    searcher = Searcher(older, EncoderSpec.of(encoder))
    try:
        assert _names(searcher, GROUPED)[0] == "spread.txt"
    finally:
        searcher.close()
