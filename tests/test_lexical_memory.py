"""search.lexical_memory: BM25 from postings in memory equals FTS5's bm25(), on a real index."""

import logging
import sqlite3
from pathlib import Path

import pytest

from semsearch.indexer import lexical_text
from semsearch.indexer.encoders import Encoder, EncoderSpec
from semsearch.indexer.fts import FTS_SCHEMA, FtsTable, fts_tokens
from semsearch.indexer.store import Store
from semsearch.indexer.sync import SyncOptions, sync_folder
from semsearch.search import lexical
from semsearch.search import reader as reader_module
from semsearch.search.lexical import (
    COLUMN_WEIGHTS,
    LexicalQuery,
    build_memory_bm25,
    prepare_query_words,
)
from semsearch.search.lexical_memory import MemoryBM25
from semsearch.search.options import Filters, SearchOptions
from semsearch.search.searcher import Searcher
from tests.helpers import SEARCH_DOCS, SEARCH_SYNC_OPTIONS_KW, search_write_docs

QUERIES = [
    "printing press", "presses PRINTED printing", "Gutenbérg MAINZ", "zorblax enzyme",
    "rose tomato stems", "sourdough bread starter", "绿茶 冲泡", "长城的历史", "to be or not",
    "what is the", "nothingmatchesthis", "a b c", "press press press", "fibonacci number",
]


@pytest.fixture
def memory(store: Store) -> MemoryBM25:
    with store.transaction(write=False):
        generation = store.generation()
    built = build_memory_bm25(store, generation)
    assert built is not None
    return built


def _fts(store: Store, query: str, limit: int, filters: Filters | None = None) -> list:
    return LexicalQuery(store, query).top(limit, filters or Filters())


@pytest.mark.parametrize("query", QUERIES)
def test_memory_bm25_gives_fts5s_scores_in_fts5s_order(store: Store, memory: MemoryBM25,
                                                       query: str) -> None:
    expected = _fts(store, query, 1000)
    found = LexicalQuery(store, query, memory).top(1000, Filters())
    assert [chunk for chunk, _ in found] == [chunk for chunk, _ in expected]
    assert [score for _, score in found] == pytest.approx([s for _, s in expected], rel=1e-12)
    if query not in ("nothingmatchesthis",):
        assert found, query


@pytest.mark.parametrize("limit", [1, 2, 3, 5])
def test_memory_bm25_cuts_at_the_limit_like_fts5(store: Store, memory: MemoryBM25,
                                                 limit: int) -> None:
    query = "printing press rose tomato stems"
    full = LexicalQuery(store, query, memory).top(1000, Filters())
    assert len(full) > 5, full
    assert LexicalQuery(store, query, memory).top(limit, Filters()) == \
        full[:limit]
    assert [c for c, _ in _fts(store, "printing press rose tomato stems", limit)] == \
        [c for c, _ in full[:limit]]


@pytest.mark.parametrize("filters", [Filters(path_prefix="history/"),
                                     Filters(file_types=("txt",)),
                                     Filters(path_prefix="nowhere/")])
def test_memory_bm25_keeps_to_the_allowed_chunks(store: Store, memory: MemoryBM25,
                                                 filters: Filters) -> None:
    allowed = store.filtered_chunk_ids(filters)
    query = "printing press rose stems zorblax"
    found = LexicalQuery(store, query, memory).top(100, filters, allowed)
    expected = _fts(store, query, 100, filters)
    assert [c for c, _ in found] == [c for c, _ in expected]
    assert [s for _, s in found] == pytest.approx([s for _, s in expected], rel=1e-12)


def test_memory_bm25_scores_given_chunks_like_fts5(store: Store, memory: MemoryBM25) -> None:
    ids = [int(i) for i in store.chunk_ids()] + [10**9]  # and one that does not exist
    query = "printing press zorblax"
    found = LexicalQuery(store, query, memory).scores(ids)
    assert found == pytest.approx(LexicalQuery(store, query).scores(ids), rel=1e-12)
    assert found[10**9] == 0.0
    assert sum(score > 0 for score in found.values()) >= 3


def test_postings_read_in_small_batches_give_the_same_arrays(store: Store,
                                                             memory: MemoryBM25) -> None:
    """The build streams the postings a batch of terms at a time; the cut between
    batches changes nothing."""
    with store.transaction(write=False):
        rowids, lengths = store.fts.row_lengths()
        small = MemoryBM25.build(rowids, lengths, store.fts.postings(terms_per_batch=3),
                                 store.fts.vocabulary_size(), COLUMN_WEIGHTS)
    assert small.term_ids == memory.term_ids
    for name in ("rowids", "offsets", "positions", "impacts"):
        assert (getattr(small, name) == getattr(memory, name)).all(), name
    assert memory.nbytes == sum(getattr(memory, name).nbytes
                                for name in ("rowids", "offsets", "positions", "impacts"))


def test_row_lengths_are_the_tokens_of_each_row(store: Store) -> None:
    """FTS5's docsize records (what bm25() reads as a row's length) against a count of
    the row's term occurrences."""
    with store.transaction(write=False):
        rowids, lengths = store.fts.row_lengths()
        counted: dict[int, int] = {}
        for batch in store.fts.postings():
            for rowid in batch.rowids.tolist():
                counted[rowid] = counted.get(rowid, 0) + 1
    assert rowids.tolist() == sorted(int(i) for i in store.chunk_ids())
    assert dict(zip(rowids.tolist(), lengths.tolist(), strict=True)) == counted


def test_row_lengths_of_long_rows() -> None:
    """Lengths above 127 take several bytes in FTS5's docsize records."""
    connection = sqlite3.connect(":memory:")
    connection.executescript(FTS_SCHEMA)
    rows = [(7, "a title", "word " * 300), (9, "", "x"), (12, "t " * 20000, "body")]
    connection.executemany("INSERT INTO chunks_fts (rowid, title, body) VALUES (?, ?, ?)",
                           rows)
    rowids, lengths = FtsTable(connection).row_lengths()
    assert rowids.tolist() == [7, 9, 12]
    assert lengths.tolist() == [302, 1, 20001]


def test_a_build_over_a_changed_index_is_refused(store: Store) -> None:
    with store.transaction(write=False):
        rowids, lengths = store.fts.row_lengths()
        terms, pairs = store.fts.vocabulary_size()
        with pytest.raises(RuntimeError, match="changed while its postings were read"):
            MemoryBM25.build(rowids, lengths, store.fts.postings(), (terms, pairs + 1),
                             COLUMN_WEIGHTS)


def test_terms_are_cut_by_the_index_tokenizer() -> None:
    assert fts_tokens(("presses", "Gutenbérg", "MAINZ")) == (("press",), ("gutenberg",),
                                                             ("mainz",))
    assert fts_tokens(("a_b", "?")) == (("a", "b"), ())


def test_remembered_terms_keep_their_own_tokens(memory: MemoryBM25) -> None:
    """A query mixing terms cut for an earlier query with new ones gets each term's own
    tokens, in its order."""
    assert memory.tokens(["presses", "MAINZ"]) == (("press",), ("mainz",))
    assert memory.tokens(["Gutenbérg", "MAINZ", "presses", "Gutenbérg"]) == (
        ("gutenberg",), ("mainz",), ("press",), ("gutenberg",))
    assert memory.tokens(["?", "presses"]) == ((), ("press",))
    assert memory.tokens(["MAINZ", "a_b"]) is None


def test_a_term_of_several_tokens_is_left_to_fts5(store: Store, memory: MemoryBM25) -> None:
    """FTS5 matches `a_b` as a phrase (by position), which memory does not hold."""
    assert memory.tokens(["zorblax", "a_b"]) is None
    assert LexicalQuery(store, "zorblax a_b", memory).top(10, Filters()) == \
        _fts(store, "zorblax a_b", 10)


def test_an_empty_index_holds_empty_postings(tmp_path: Path) -> None:
    store = Store.open(tmp_path, create=True)
    try:
        with store.transaction(write=False):
            generation = store.generation()
        memory = build_memory_bm25(store, generation)
        assert memory is not None and memory.chunk_count == 0
        assert LexicalQuery(store, "anything", memory).top(10, Filters()) == []
        assert LexicalQuery(store, "anything", memory).scores([1, 2]) == {1: 0.0, 2: 0.0}
    finally:
        store.close()


def test_jieba_is_loaded_with_the_postings_of_an_index_with_chinese(
        store: Store, memory: MemoryBM25, tmp_path: Path) -> None:
    empty = Store.open(tmp_path, create=True)
    try:
        no_chinese = build_memory_bm25(empty, empty.generation())
    finally:
        empty.close()
    assert no_chinese is not None
    lexical_text._jieba.cache_clear()
    prepare_query_words(no_chinese)
    assert lexical_text._jieba.cache_info().currsize == 0
    prepare_query_words(memory)  # the search fixtures hold Chinese documents
    assert lexical_text._jieba.cache_info().currsize == 1


def test_a_moved_on_or_large_store_gets_no_memory_bm25(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    with store.transaction(write=False):
        generation = store.generation()
    assert build_memory_bm25(store, generation + 1) is None
    monkeypatch.setattr(lexical, "MEMORY_BM25_MAX_CHUNKS", store.chunk_count() - 1)
    assert build_memory_bm25(store, generation) is None


def test_searcher_uses_memory_bm25_and_answers_as_with_fts5(
        search_index: tuple[Path, Path], encoder: Encoder,
        monkeypatch: pytest.MonkeyPatch) -> None:
    with_memory = Searcher(search_index[1], EncoderSpec.of(encoder))
    assert with_memory.wait_for_bm25(60)
    monkeypatch.setattr(lexical, "MEMORY_BM25_MAX_CHUNKS", 0)
    without = Searcher(search_index[1], EncoderSpec.of(encoder))
    try:
        assert not without.wait_for_bm25(60)
        for query in QUERIES:
            for mode in ("lexical", "hybrid"):
                a = with_memory.search(query,
                        SearchOptions(k=5, mode=mode, highlight=False)).results
                b = without.search(query, SearchOptions(k=5, mode=mode, highlight=False)).results
                assert [h.chunk_id for h in a] == [h.chunk_id for h in b], (query, mode)
                assert [h.scores for h in a] == [h.scores for h in b]
    finally:
        with_memory.close()
        without.close()


def test_searcher_rebuilds_memory_bm25_for_each_generation(tmp_path: Path,
                                                           encoder: Encoder) -> None:
    root, index_dir = tmp_path / "docs", tmp_path / "index"
    search_write_docs(root, {"cooking/bread.md": SEARCH_DOCS["cooking/bread.md"]})
    options = SyncOptions(**SEARCH_SYNC_OPTIONS_KW)
    sync_folder(root, index_dir, EncoderSpec.of(encoder), options)
    searcher = Searcher(index_dir, EncoderSpec.of(encoder))
    try:
        assert searcher.wait_for_bm25(60)
        assert searcher.search("zorblax", SearchOptions(k=5, mode="lexical")).results == []
        search_write_docs(root, {"biology/zorblax.txt": SEARCH_DOCS["biology/zorblax.txt"]})
        sync_folder(root, index_dir, EncoderSpec.of(encoder), options)
        # The first search after the sync is answered (by FTS5 or memory) for the new
        # generation; then the new postings are held in memory.
        assert [h.path for h in searcher.search("zorblax",
                SearchOptions(k=5, mode="lexical")).results] == \
            ["biology/zorblax.txt"]
        assert searcher.wait_for_bm25(60)
        found = searcher.search("zorblax", SearchOptions(k=5, mode="lexical", highlight=False))
        assert [h.path for h in found.results] == ["biology/zorblax.txt"]
    finally:
        searcher.close()


def test_a_failed_memory_build_is_logged_and_fts5_answers(
        search_index: tuple[Path, Path], encoder: Encoder, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    def broken(store: Store, generation: int) -> MemoryBM25:
        raise MemoryError("no room")

    monkeypatch.setattr(reader_module, "build_memory_bm25", broken)
    with caplog.at_level(logging.ERROR):
        searcher = Searcher(search_index[1], EncoderSpec.of(encoder))
        try:
            assert not searcher.wait_for_bm25(60)
            hits = searcher.search("zorblax enzyme", SearchOptions(k=3, mode="lexical")).results
            assert hits[0].path == "biology/zorblax.txt"
        finally:
            searcher.close()
    assert "FTS5 scores queries" in caplog.text
