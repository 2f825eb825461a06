"""BM25 over the chunks' FTS5 table, kept in the same SQLite file as the vectors."""

from indexer.lexical_text import STOP_WORDS, words
from indexer.store import DocumentFilter, Store

# Weights of the FTS columns (title with headings, body) in SQLite's bm25().
COLUMN_WEIGHTS = (1.0, 1.0)


def match_expression(query: str) -> str | None:
    """An FTS5 query that ORs the query's words (Chinese segmented), or None if it has none.

    Stop words are dropped unless the query holds nothing else.
    Each word is quoted, so FTS5 syntax in user input is taken literally.
    """
    terms = list(dict.fromkeys(words(query)))
    content = [term for term in terms if term not in STOP_WORDS]
    terms = content or terms  # a query of stop words alone still searches for them
    if not terms:
        return None
    return " OR ".join(f'"{term}"' for term in terms)


def lexical_search(
    store: Store, query: str, limit: int, document_filter: DocumentFilter
) -> list[tuple[int, float]]:
    """Top `limit` (chunk id, BM25 score) pairs, best first; higher is better."""
    expression = match_expression(query)
    if expression is None:
        return []
    return store.bm25_search(expression, limit, document_filter, COLUMN_WEIGHTS)


def lexical_scores(store: Store, query: str, chunk_ids: list[int]) -> dict[int, float]:
    """BM25 of each chunk of `chunk_ids` for `query`: 0 for a chunk without a query word.

    Hybrid search completes the lexical leg with it: the exact score of each dense
    candidate, read for those chunks alone instead of ranking thousands of matches.
    """
    expression = match_expression(query)
    found = store.bm25_scores(expression, chunk_ids, COLUMN_WEIGHTS) if (
        expression is not None and chunk_ids) else {}
    return {chunk_id: found.get(chunk_id, 0.0) for chunk_id in chunk_ids}
