"""search.lexical: user text becomes a safe FTS5 query; BM25 through the real SQLite file."""

import sqlite3

import pytest

from semsearch.indexer.store import Store
from semsearch.search.lexical import LexicalQuery, match_expression
from semsearch.search.options import Filters, Mode, SearchOptions
from semsearch.search.searcher import Searcher

HOSTILE = [
    "AND", "OR", "NOT", "zorblax AND", "AND zorblax", "zorblax OR", "NOT zorblax",
    '"zorblax', 'zorblax"', '"', '""', "(zorblax", "zorblax)", "()", "*", "zorb*", "*zorblax",
    "NEAR(zorblax enzyme)", "NEAR(", "NEAR(zorblax, 2)", "zorblax NEAR/2 enzyme",
    "^zorblax", "-zorblax", "+zorblax", "title:zorblax", "body:zorblax", "{title}: zorblax",
    "zorblax's enzyme", "zorblax:", ":", "a_b", "___", "\\", "'; DROP TABLE chunks; --",
    "é", "\u0301", "１２３", "zorblax\x00enzyme",
]
PUNCTUATION = ["?!.", "...", "*", '"', "()", "- + :", "？！。", "—"]


def test_match_expression_quotes_and_ors_the_words() -> None:
    assert match_expression("zorblax enzyme") == '"zorblax" OR "enzyme"'
    assert match_expression("Zorblax ZORBLAX zorblax") == '"zorblax"'
    assert match_expression('NEAR(zorblax AND "enzyme")') == '"near" OR "zorblax" OR "enzyme"'


def test_match_expression_drops_stop_words_unless_nothing_else_is_left() -> None:
    assert match_expression("what is the zorblax of an enzyme") == '"zorblax" OR "enzyme"'
    assert match_expression("to be or not to be") == '"to" OR "be" OR "or" OR "not"'


def test_match_expression_of_no_words_is_none() -> None:
    for query in PUNCTUATION + ["", "   "]:
        assert match_expression(query) is None, query


def test_match_expression_segments_chinese() -> None:
    expression = match_expression("怎么泡绿茶")
    assert expression is not None
    assert '"绿茶"' in expression.split(" OR ")
    assert '"怎么泡绿茶"' not in expression


@pytest.mark.parametrize("query", HOSTILE)
def test_match_expression_is_valid_fts5(query: str) -> None:
    """Whatever the user typed, FTS5 parses the expression (on an in-memory table)."""
    expression = match_expression(query)
    if expression is None:
        return
    connection = sqlite3.connect(":memory:")
    try:
        connection.execute("CREATE VIRTUAL TABLE t USING fts5 (title, body, "
                           "tokenize = 'porter unicode61 remove_diacritics 2')")
        connection.execute("INSERT INTO t VALUES ('NEAR AND', 'zorblax and enzyme a b')")
        connection.execute("SELECT rowid FROM t WHERE t MATCH ?", (expression,)).fetchall()
    finally:
        connection.close()


@pytest.mark.parametrize("query", HOSTILE)
def test_fts_syntax_in_the_query_never_raises(search_searcher: Searcher, query: str) -> None:
    response = search_searcher.search(query, SearchOptions(k=3, mode="lexical"))
    paths = [hit.path for hit in response.results]
    if "zorblax" in query.lower() and query != "zorblax\x00enzyme":
        assert paths[0] == "biology/zorblax.txt"


@pytest.mark.parametrize("query", ['NEAR(zorblax AND "enzyme"', "zorblax* OR -(", "*"])
def test_fts_syntax_in_the_query_never_raises_in_hybrid(search_searcher: Searcher,
                                                        query: str) -> None:
    response = search_searcher.search(query, SearchOptions(k=2, mode="hybrid"))
    assert len(response.results) == 2


@pytest.mark.parametrize("query", PUNCTUATION)
def test_punctuation_only_query_finds_nothing_lexically(search_searcher: Searcher,
                                                        query: str) -> None:
    assert search_searcher.search(query, SearchOptions(k=5, mode="lexical")).results == []


def test_punctuation_only_query_in_hybrid_still_answers(search_searcher: Searcher) -> None:
    hits = search_searcher.search("?!", SearchOptions(k=2, mode=Mode.HYBRID)).results
    assert len(hits) == 2
    assert all(hit.scores["bm25"] == 0.0 for hit in hits)


def test_lexical_search_ranks_by_bm25(store: Store) -> None:
    results = LexicalQuery(store, "printing press").top(10, Filters())
    assert results
    scores = [score for _, score in results]
    assert scores == sorted(scores, reverse=True)
    assert all(score > 0 for score in scores)
    rows = store.chunks([chunk_id for chunk_id, _ in results])
    assert {row.path for row in rows.values()} == {"history/printing_press.md"}
    assert LexicalQuery(store, "printing press").top(1, Filters()) == results[:1]
    assert LexicalQuery(store, "?!").top(10, Filters()) == []


def test_lexical_search_applies_the_filter(store: Store) -> None:
    assert LexicalQuery(store, "zorblax").top(10, Filters(path_prefix="cooking/")) == []
    found = LexicalQuery(store, "zorblax").top(10, Filters(file_types=("txt",)))
    assert [store.chunks([i])[i].path for i, _ in found] == ["biology/zorblax.txt"]
