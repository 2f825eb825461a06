"""search.searcher.Searcher over a real index: modes, filters, options, errors, reloads."""

import json
import statistics
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from semsearch.indexer.encoders import Encoder, EncoderSpec
from semsearch.indexer.encoders.torch_backend import TorchEncoder
from semsearch.indexer.errors import IndexMismatchError, IndexNotFoundError
from semsearch.indexer.store import Store
from semsearch.indexer.sync import SyncOptions, sync_folder
from semsearch.search.errors import InvalidQueryError
from semsearch.search.hits import DocumentView, Highlight, Hit, SearchResponse
from semsearch.search.lexical import COLUMN_WEIGHTS, LexicalQuery, match_expression
from semsearch.search.options import Filters, Mode, SearchOptions
from semsearch.search.ranking import DOCUMENT_DENSE_WEIGHT, MEAN_VECTOR_SHARE
from semsearch.search.searcher import Searcher
from tests.helpers import (
    SEARCH_DOCS,
    SEARCH_MTIME_CUT,
    SEARCH_NEW_MTIME,
    SEARCH_OLD_DOCS,
    SEARCH_OLD_MTIME,
    SEARCH_SYNC_OPTIONS_KW,
    search_write_docs,
)

MODES = [Mode.DENSE, Mode.LEXICAL, Mode.HYBRID]
# A query with a word of every document, so each mode finds something under any filter.
BROAD_QUERY = ("zorblax tyre sourdough pasta rover budget fibonacci printing roses tomatoes "
               "绿茶 长城 高铁")


def _paths(response: SearchResponse) -> list[str]:
    return [hit.path for hit in response.results]


def _chunk_ids_of(index_dir: Path, keep: Callable[[str], bool]) -> set[int]:
    """Ids of the chunks whose document path passes `keep`, read from the store."""
    store = Store.open_readonly(index_dir)
    try:
        rows = store.connection.execute(
            "SELECT c.id, d.path FROM chunks c JOIN documents d ON d.id = c.doc_id").fetchall()
    finally:
        store.close()
    return {chunk_id for chunk_id, path in rows if keep(path)}


# --- finding the planted answer ----------------------------------------------------------

@pytest.mark.parametrize("mode, query, expected", [
    (Mode.LEXICAL, "zorblax", "biology/zorblax.txt"),
    (Mode.HYBRID, "zorblax enzyme", "biology/zorblax.txt"),
    (Mode.DENSE, "zorblax enzyme", "biology/zorblax.txt"),
    # Paraphrases: no shared content word with the answer but "wheel".
    (Mode.DENSE, "fix a punctured bike wheel", "cycling/flat_tyre.md"),
    (Mode.HYBRID, "fix a punctured bike wheel", "cycling/flat_tyre.md"),
    (Mode.DENSE, "who invented movable type", "history/printing_press.md"),
    (Mode.LEXICAL, "sourdough starter", "cooking/bread.md"),
])
def test_planted_answer_comes_first(search_searcher: Searcher, mode: Mode, query: str,
                                    expected: str) -> None:
    response = search_searcher.search(query, SearchOptions(k=1, mode=mode))
    assert response.query == query
    assert _paths(response)[0] == expected


def test_lexical_finds_only_chunks_holding_the_word(search_searcher: Searcher) -> None:
    response = search_searcher.search("zorblax", SearchOptions(k=10, mode="lexical"))
    assert _paths(response) == ["biology/zorblax.txt"]
    assert "zorblax" in response.results[0].text.lower()


@pytest.mark.parametrize("mode", [Mode.LEXICAL, Mode.HYBRID])
@pytest.mark.parametrize("query, expected", [
    ("怎么泡绿茶", "zh/green_tea.txt"),
    ("长城的历史", "zh/great_wall.txt"),
    ("高铁的速度", "zh/high_speed_rail.txt"),
])
def test_chinese_query_finds_the_chinese_document(search_searcher: Searcher, mode: Mode,
                                                  query: str, expected: str) -> None:
    assert _paths(search_searcher.search(query, SearchOptions(k=1, mode=mode)))[0] == expected


def test_chinese_lexical_leaves_unrelated_documents_out(search_searcher: Searcher) -> None:
    paths = set(_paths(search_searcher.search("绿茶", SearchOptions(k=20, mode="lexical"))))
    assert paths == {"zh/green_tea.txt"}


# --- filters -----------------------------------------------------------------------------

FILTER_CASES = [
    (Filters(path_prefix="cooking/"), lambda p: p.startswith("cooking/")),
    (Filters(path_prefix="zh/"), lambda p: p.startswith("zh/")),
    # `_` and `%` are literal characters of a prefix, not wildcards.
    (Filters(path_prefix="zh/green_"), lambda p: p == "zh/green_tea.txt"),
    (Filters(path_prefix="zh/gree_"), lambda p: False),
    (Filters(path_prefix="zh/%"), lambda p: False),
    # Paths are case-sensitive.
    (Filters(path_prefix="COOKING/"), lambda p: False),
    (Filters(path_glob="*.md"), lambda p: p.endswith(".md")),
    (Filters(path_glob="zh/*"), lambda p: p.startswith("zh/")),
    (Filters(path_glob="*/g*"), lambda p: p.split("/")[1].startswith("g")),
    (Filters(file_types=("txt",)), lambda p: p.endswith(".txt")),
    (Filters(file_types=(".PY", "html")), lambda p: p.endswith((".py", ".html"))),
    (Filters(modified_before=SEARCH_MTIME_CUT), lambda p: p in SEARCH_OLD_DOCS),
    (Filters(modified_after=SEARCH_MTIME_CUT), lambda p: p not in SEARCH_OLD_DOCS),
    (Filters(modified_after=SEARCH_OLD_MTIME, modified_before=SEARCH_OLD_MTIME),
     lambda p: p in SEARCH_OLD_DOCS),  # both bounds are inclusive
    (Filters(modified_after=SEARCH_NEW_MTIME + 1), lambda p: False),
    (Filters(path_prefix="cooking/", file_types=("md",)), lambda p: p == "cooking/bread.md"),
    (Filters(path_glob="*.txt", modified_before=SEARCH_MTIME_CUT),
     lambda p: p in SEARCH_OLD_DOCS),
    (Filters(path_prefix="nowhere/"), lambda p: False),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("filters, keep", FILTER_CASES)
def test_filters_hold_in_every_mode(search_searcher: Searcher, search_index: tuple[Path, Path],
                                    mode: Mode, filters: Filters,
                                    keep: Callable[[str], bool]) -> None:
    k = 10
    allowed = _chunk_ids_of(search_index[1], keep)
    hits = search_searcher.search(BROAD_QUERY,
            SearchOptions(k=k, mode=mode, filters=filters)).results
    found = [hit.chunk_id for hit in hits]
    assert set(found) <= allowed
    assert all(keep(hit.path) for hit in hits)
    assert len(found) == len(set(found))
    if mode == Mode.LEXICAL:
        # Only chunks holding a query word; the broad query has a word of every document.
        if len(allowed) <= k:
            assert {hit.path for hit in hits} == {p for p in SEARCH_DOCS if keep(p)}
        else:
            assert len(found) == k
    else:
        # The filter works inside the search: fewer allowed chunks than k gives all of them.
        assert len(found) == min(k, len(allowed))
        if len(allowed) <= k:
            assert set(found) == allowed


def test_filter_cases_are_not_vacuous(search_index: tuple[Path, Path]) -> None:
    total = len(_chunk_ids_of(search_index[1], lambda p: True))
    sizes = [len(_chunk_ids_of(search_index[1], keep)) for _, keep in FILTER_CASES]
    assert any(0 < size < 10 for size in sizes) and any(size > 10 for size in sizes)
    assert all(size < total for size in sizes)


@pytest.mark.parametrize("mode", MODES)
def test_filtered_out_answer_never_appears(search_searcher: Searcher, mode: Mode) -> None:
    filters = Filters(path_prefix="cooking/")
    hits = search_searcher.search("zorblax enzyme",
            SearchOptions(k=10, mode=mode, filters=filters)).results
    assert "biology/zorblax.txt" not in {hit.path for hit in hits}


def test_filters_as_a_list_of_types(search_searcher: Searcher) -> None:
    filters = Filters(file_types=["md"])  # type: ignore[arg-type]
    hits = search_searcher.search("bread",
            SearchOptions(k=5, mode="dense", filters=filters)).results
    assert hits and all(hit.path.endswith(".md") for hit in hits)


# --- options -----------------------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_group_by_document_keeps_each_documents_best_chunk(search_searcher: Searcher,
                                                          mode: Mode) -> None:
    query = "printing press books"
    chunks = search_searcher.search(query, SearchOptions(k=5, mode=mode)).results
    doc_ids = [hit.doc_id for hit in chunks]
    assert len(doc_ids) > len(set(doc_ids)), "the long document must give several chunks"
    best = {}
    for hit in chunks:
        best.setdefault(hit.doc_id, hit.chunk_id)
    grouped = search_searcher.search(query,
            SearchOptions(k=len(best), mode=mode, group_by="document")).results
    assert [hit.doc_id for hit in grouped] == list(best)
    assert [hit.chunk_id for hit in grouped] == list(best.values())
    assert grouped[0].path == "history/printing_press.md"


def test_group_by_document_with_small_k(search_searcher: Searcher) -> None:
    hits = search_searcher.search("printing press",
            SearchOptions(k=2, mode="hybrid", group_by="document")).results
    assert len(hits) == 2 and hits[0].doc_id != hits[1].doc_id


def test_min_score_drops_weak_hits_in_dense_mode(search_searcher: Searcher) -> None:
    assert search_searcher.search("qwxz vbnm plokij",
            SearchOptions(k=10, mode="dense", min_score=0.5)).results == []
    hits = search_searcher.search("zorblax enzyme",
            SearchOptions(k=10, mode="dense", min_score=0.3)).results
    assert [hit.path for hit in hits] == ["biology/zorblax.txt"]
    assert all(hit.score >= 0.3 for hit in hits)


def test_min_score_gates_hybrid_on_the_cosine(search_searcher: Searcher) -> None:
    query = "fix a punctured bike wheel"
    everything = search_searcher.search(query, SearchOptions(k=3, mode="hybrid")).results
    assert any(h.scores["cosine"] < 0.3 for h in everything)
    gated = search_searcher.search(query, SearchOptions(k=5, mode="hybrid", min_score=0.3)).results
    assert gated and gated[0].path == "cycling/flat_tyre.md"
    assert all(h.scores["cosine"] >= 0.3 for h in gated)
    expected = [h.chunk_id for h in everything if h.scores["cosine"] >= 0.3]
    assert [h.chunk_id for h in gated][:len(expected)] == expected


def test_min_score_gates_lexical_on_bm25(search_searcher: Searcher) -> None:
    everything = search_searcher.search("printing press",
            SearchOptions(k=50, mode="lexical")).results
    cut = (everything[0].score + everything[-1].score) / 2
    gated = search_searcher.search("printing press",
            SearchOptions(k=50, mode="lexical", min_score=cut)).results
    assert gated and len(gated) < len(everything)
    assert [h.chunk_id for h in gated] == [h.chunk_id for h in everything if h.score >= cut]


@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("mode", MODES)
def test_k_caps_the_hits(search_searcher: Searcher, mode: Mode, k: int) -> None:
    hits = search_searcher.search(BROAD_QUERY, SearchOptions(k=k, mode=mode)).results
    assert len(hits) == k
    longer = search_searcher.search(BROAD_QUERY, SearchOptions(k=k + 5, mode=mode)).results
    assert [h.chunk_id for h in hits] == [h.chunk_id for h in longer[:k]]


# --- what a hit holds --------------------------------------------------------------------

@pytest.mark.parametrize("mode, kind, legs", [
    (Mode.DENSE, "cosine", {"cosine"}),
    (Mode.LEXICAL, "bm25", {"bm25"}),
    (Mode.HYBRID, "fused", {"cosine", "bm25", "fused"}),
])
def test_hits_carry_every_field(search_searcher: Searcher, search_index: tuple[Path, Path],
                                mode: Mode, kind: str, legs: set[str]) -> None:
    response = search_searcher.search("how do I repair a flat bicycle tyre",
            SearchOptions(k=3, mode=mode))
    assert set(response.timings_ms) >= {"embed", "dense", "lexical", "fuse", "rows",
                                        "highlight", "total"}
    hits = response.results
    assert hits
    store = Store.open_readonly(search_index[1])
    try:
        rows = store.chunks([hit.chunk_id for hit in hits])
    finally:
        store.close()
    for hit in hits:
        assert isinstance(hit, Hit)
        row = rows[hit.chunk_id]
        assert (hit.doc_id, hit.path, hit.title, hit.text) == (row.doc_id, row.path, row.title,
                                                               row.text)
        assert (hit.start, hit.end, hit.page) == (row.start, row.end, None)
        assert hit.end - hit.start == len(hit.text)
        assert hit.score_kind == kind
        assert set(hit.scores) == legs
        assert hit.score == pytest.approx(hit.scores[kind])
        assert hit.highlights and all(isinstance(h, Highlight) for h in hit.highlights)
    scores = [hit.score for hit in hits]
    assert scores == sorted(scores, reverse=True)
    top = hits[0]
    assert top.path == "cycling/flat_tyre.md"
    assert top.title == "Repairing a flat bicycle tyre"
    assert top.headings == ["Repairing a flat bicycle tyre"]
    assert top.text == SEARCH_DOCS[top.path][top.start:top.end]
    assert json.loads(json.dumps(response.to_dict()))["results"][0]["path"] == top.path


def test_hybrid_scores_are_the_fusion_of_the_legs(search_searcher: Searcher,
                                                  search_index: tuple[Path, Path],
                                                  encoder: Encoder) -> None:
    """Fused = 0.5 * minmax(cosine) + 0.5 * minmax(BM25) over every candidate; with this
    few chunks, every chunk is a candidate (the dense leg returns them all)."""
    query = "zorblax enzyme"
    store = Store.open_readonly(search_index[1])
    try:
        (ids, vectors), = list(store.embeddings())
        cosines = dict(zip(ids.tolist(), (vectors @ encoder.encode([query])[0]).tolist(),
                           strict=True))
        bm25 = dict(LexicalQuery(store, query).top(1000, Filters()))
    finally:
        store.close()
    lexical = {chunk_id: bm25.get(chunk_id, 0.0) for chunk_id in cosines}
    hits = search_searcher.search(query, SearchOptions(k=3, mode="hybrid")).results
    assert hits[0].scores["fused"] == pytest.approx(1.0)  # best in both legs
    low, high = min(cosines.values()), max(cosines.values())
    low_bm25, high_bm25 = min(lexical.values()), max(lexical.values())
    for hit in hits:
        assert hit.scores["cosine"] == pytest.approx(cosines[hit.chunk_id], abs=1e-4)
        assert hit.scores["bm25"] == pytest.approx(lexical[hit.chunk_id])
        dense = (cosines[hit.chunk_id] - low) / (high - low)
        sparse = (lexical[hit.chunk_id] - low_bm25) / (high_bm25 - low_bm25)
        assert hit.score == pytest.approx(0.5 * dense + 0.5 * sparse, abs=1e-3)


def test_hybrid_documents_fuse_whole_document_evidence(search_searcher: Searcher,
                                                       search_index: tuple[Path, Path],
                                                       encoder: Encoder) -> None:
    """With group_by="document", a document's fused score is w * z(its dense score) +
    (1 - w) * z(BM25 over its whole text), z-scored over the documents (w:
    `DOCUMENT_DENSE_WEIGHT`), where its
    dense score mixes its best chunk's cosine with its mean chunk vector's
    (`MEAN_VECTOR_SHARE`); with this few chunks, every chunk is a candidate. In the long
    document about printing, the query's best chunk for the cosine is not its best for
    BM25, and its whole text outscores its best chunk."""
    query = "printing roses tomatoes garden"
    vector = encoder.encode([query])[0]
    store = Store.open_readonly(search_index[1])
    try:
        (ids, vectors), = list(store.embeddings())
        cosines = dict(zip(ids.tolist(), (vectors @ vector).tolist(), strict=True))
        bm25 = dict(LexicalQuery(store, query).top(1000, Filters()))
        documents = store.chunk_documents(list(cosines))
        whole = dict(store.document_bm25_search(match_expression(query) or "", 1000,
                                                Filters(), COLUMN_WEIGHTS))
        doc_ids, means = store.whole_documents.mean_vectors(sorted(set(documents.values())))
    finally:
        store.close()
    best_cosine: dict[int, float] = {}
    best_bm25: dict[int, float] = {}
    for chunk_id, doc_id in documents.items():
        best_cosine[doc_id] = max(best_cosine.get(doc_id, -1.0), cosines[chunk_id])
        best_bm25[doc_id] = max(best_bm25.get(doc_id, 0.0), bm25.get(chunk_id, 0.0))
    assert any(cosines[c] == best_cosine[d] and bm25.get(c, 0.0) < best_bm25[d]
               for c, d in documents.items()), "no document where the legs' best chunks differ"
    assert any(whole.get(d, 0.0) > best for d, best in best_bm25.items())
    mean_cosine = dict(zip(doc_ids.tolist(), (means @ vector / np.linalg.norm(
        means, axis=1)).tolist(), strict=True))

    def scaled(scores: dict[int, float]) -> dict[int, float]:
        mean, spread = statistics.fmean(scores.values()), statistics.pstdev(scores.values())
        return {doc_id: (score - mean) / spread for doc_id, score in scores.items()}

    dense = scaled({d: (1 - MEAN_VECTOR_SHARE) * best_cosine[d]
                    + MEAN_VECTOR_SHARE * mean_cosine[d] for d in best_cosine})
    lexical = scaled({d: whole.get(d, 0.0) for d in best_cosine})
    expected = {doc_id: DOCUMENT_DENSE_WEIGHT * dense[doc_id]
                + (1 - DOCUMENT_DENSE_WEIGHT) * lexical[doc_id] for doc_id in dense}
    hits = search_searcher.search(query, SearchOptions(k=len(expected), mode="hybrid",
                                                       group_by="document")).results
    assert {hit.doc_id: hit.score for hit in hits} == pytest.approx(expected, abs=1e-3)
    assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)


def test_dense_scores_are_cosines(search_searcher: Searcher, encoder: Encoder) -> None:
    hit = search_searcher.search("zorblax enzyme", SearchOptions(k=1, mode="dense")).results[0]
    query, passage = encoder.encode(["zorblax enzyme", hit.text])
    assert hit.score == pytest.approx(float(query @ passage), abs=1e-4)


def test_document_view(search_searcher: Searcher) -> None:
    hit = search_searcher.search("printing press", SearchOptions(k=1, mode="lexical")).results[0]
    view = search_searcher.document(hit.doc_id)
    assert isinstance(view, DocumentView)
    assert (view.doc_id, view.path, view.format) == (hit.doc_id, "history/printing_press.md",
                                                    "markdown")
    assert view.mtime == SEARCH_NEW_MTIME
    assert view.size == len(SEARCH_DOCS[view.path].encode())
    assert [c.ordinal for c in view.chunks] == list(range(len(view.chunks)))
    assert len(view.chunks) > 1
    assert hit.chunk_id in {c.chunk_id for c in view.chunks}
    for chunk in view.chunks:
        assert chunk.text == SEARCH_DOCS[view.path][chunk.start:chunk.end]
    assert search_searcher.document(10_000_000) is None


# --- invalid queries ---------------------------------------------------------------------

@pytest.mark.parametrize("kwargs", [
    {"query": ""},
    {"query": "   "},
    {"query": "\n\t "},
    {"query": "bread", "k": 0},
    {"query": "bread", "k": -3},
    {"query": "bread", "mode": "fuzzy"},
    {"query": "bread", "mode": "DENSE"},
    {"query": "bread", "group_by": "page"},
    {"query": "bread", "group_by": ""},
])
def test_invalid_queries_raise(search_searcher: Searcher, kwargs: dict[str, object]) -> None:
    options = {key: value for key, value in kwargs.items() if key != "query"}
    with pytest.raises(InvalidQueryError):
        search_searcher.search(str(kwargs["query"]), SearchOptions(**options))  # type: ignore[arg-type]


def test_invalid_batches_raise(search_searcher: Searcher) -> None:
    with pytest.raises(InvalidQueryError):
        search_searcher.search_batch([])
    with pytest.raises(InvalidQueryError):
        search_searcher.search_batch(["bread", " "])


def test_mode_given_as_text_or_enum(search_searcher: Searcher) -> None:
    as_text = search_searcher.search("sourdough bread", SearchOptions(k=1, mode="dense"))
    as_enum = search_searcher.search("sourdough bread", SearchOptions(k=1, mode=Mode.DENSE))
    assert [h.chunk_id for h in as_text.results] == [h.chunk_id for h in as_enum.results]


# --- batches -----------------------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_search_batch_answers_each_query(search_searcher: Searcher, mode: Mode) -> None:
    queries = ["zorblax enzyme", "sourdough bread", "长城的历史"]
    responses = search_searcher.search_batch(queries, SearchOptions(k=1, mode=mode))
    assert [r.query for r in responses] == queries
    assert [r.results[0].path for r in responses] == [
        "biology/zorblax.txt", "cooking/bread.md", "zh/great_wall.txt"]
    for query, response in zip(queries, responses, strict=True):
        single = search_searcher.search(query, SearchOptions(k=1, mode=mode)).results
        assert [h.chunk_id for h in response.results] == [h.chunk_id for h in single]
        assert response.results[0].score == pytest.approx(single[0].score, abs=1e-4)


# --- opening an index --------------------------------------------------------------------

def test_missing_index_raises(tmp_path: Path, encoder: Encoder) -> None:
    with pytest.raises(IndexNotFoundError):
        Searcher(tmp_path / "nope", EncoderSpec.of(encoder))
    (tmp_path / "empty").mkdir()
    with pytest.raises(IndexNotFoundError):
        Searcher(tmp_path / "empty", EncoderSpec.of(encoder))


def test_encoder_of_another_model_raises(search_index: tuple[Path, Path],
                                         encoder: Encoder) -> None:
    other = TorchEncoder(model_name="other", device="cpu", model=encoder.model)
    with pytest.raises(IndexMismatchError):
        Searcher(search_index[1], EncoderSpec.of(other))


def test_search_sees_a_later_sync(tmp_path: Path, encoder: Encoder) -> None:
    """A new generation (file added, file removed) is picked up by an open Searcher."""
    root, index_dir = tmp_path / "docs", tmp_path / "index"
    start = {p: SEARCH_DOCS[p] for p in ("cooking/bread.md", "cooking/pasta.txt",
                                         "finance/budget.txt")}
    search_write_docs(root, start)
    options = SyncOptions(**SEARCH_SYNC_OPTIONS_KW)
    sync_folder(root, index_dir, EncoderSpec.of(encoder), options)
    searcher = Searcher(index_dir, EncoderSpec.of(encoder))
    try:
        assert searcher.search("zorblax", SearchOptions(k=5, mode="lexical")).results == []
        assert "biology/zorblax.txt" not in _paths(searcher.search("zorblax enzyme",
                SearchOptions(k=5, mode="dense")))

        search_write_docs(root, {"biology/zorblax.txt": SEARCH_DOCS["biology/zorblax.txt"]})
        report = sync_folder(root, index_dir, EncoderSpec.of(encoder), options)
        assert report.added == 1
        for mode in MODES:
            assert _paths(searcher.search("zorblax enzyme", SearchOptions(k=5, mode=mode)))[0] == \
                "biology/zorblax.txt"

        (root / "cooking/bread.md").unlink()
        sync_folder(root, index_dir, EncoderSpec.of(encoder), options)
        for mode in MODES:
            assert "cooking/bread.md" not in _paths(searcher.search("sourdough bread",
                    SearchOptions(k=10, mode=mode)))
    finally:
        searcher.close()


def test_each_search_thread_runs_faiss_on_one_thread(search_searcher: Searcher) -> None:
    import threading

    import faiss

    seen: list[int] = []

    def request() -> None:  # as a server's worker thread
        faiss.omp_set_num_threads(2)
        search_searcher.search("zorblax enzyme", SearchOptions(k=1, mode="dense"))
        seen.append(faiss.omp_get_max_threads())

    worker = threading.Thread(target=request)
    worker.start()
    worker.join()
    assert seen == [1]
