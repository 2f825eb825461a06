"""BM25 over the chunks' FTS5 table, kept in the same SQLite file as the vectors.

FTS5 scores a query on disk; a `MemoryBM25` built from its postings, when the Searcher
holds one for the generation being read, gives the same scores in a fraction of the time.
"""

import numpy as np
from numpy.typing import NDArray

from semsearch.indexer.lexical_text import STOP_WORDS, has_chinese, segment, words
from semsearch.indexer.store import DocumentFilter, Store
from semsearch.search.lexical_memory import MEMORY_BM25_MAX_CHUNKS, MemoryBM25

# Weights of the FTS columns (title with headings, body) in SQLite's bm25().
COLUMN_WEIGHTS = (1.0, 1.0)


def query_terms(query: str) -> list[str]:
    """The query's distinct words (Chinese segmented), stop words dropped unless the
    query holds nothing else."""
    terms = list(dict.fromkeys(words(query)))
    content = [term for term in terms if term not in STOP_WORDS]
    return content or terms  # a query of stop words alone still searches for them


def match_expression(query: str) -> str | None:
    """An FTS5 query that ORs the query's terms, or None if it has none.

    Each term is quoted, so FTS5 syntax in user input is taken literally.
    """
    return _or_expression(query_terms(query))


def _or_expression(terms: list[str]) -> str | None:
    return " OR ".join(f'"{term}"' for term in terms) if terms else None


class LexicalQuery:
    """One query's BM25, for its top chunks and then the scores of other chunks; with
    `memory` (the postings of the generation `store` reads) it is scored once, in memory."""

    def __init__(self, store: Store, query: str, memory: MemoryBM25 | None = None) -> None:
        self.store = store
        self.terms = query_terms(query)
        tokens = memory.tokens(self.terms) if memory is not None and self.terms else None
        self.scored = memory.score(tokens) if memory is not None and tokens is not None \
            else None

    def top(self, limit: int, document_filter: DocumentFilter,
            allowed: NDArray[np.int64] | None = None) -> list[tuple[int, float]]:
        """Top `limit` (chunk id, BM25 score) pairs, best first; higher is better.

        `allowed`, the chunk ids that pass `document_filter` (None for all), is what the
        in-memory scores are restricted by.
        """
        if not self.terms:
            return []
        if self.scored is not None:
            return self.scored.top(limit, allowed)
        return self.store.bm25_search(str(_or_expression(self.terms)), limit,
                                      document_filter, COLUMN_WEIGHTS)

    def scores(self, chunk_ids: list[int]) -> dict[int, float]:
        """BM25 of each chunk of `chunk_ids`: 0 for a chunk without a query word.

        Hybrid search completes the lexical leg with it: the exact score of each dense
        candidate, read for those chunks alone instead of ranking thousands of matches.
        """
        if not self.terms or not chunk_ids:
            return dict.fromkeys(chunk_ids, 0.0)
        if self.scored is not None:
            return self.scored.of(chunk_ids)
        found = self.store.fts.scores(str(_or_expression(self.terms)), chunk_ids,
                                       COLUMN_WEIGHTS)
        return {chunk_id: found.get(chunk_id, 0.0) for chunk_id in chunk_ids}


def build_memory_bm25(store: Store, generation: int) -> MemoryBM25 | None:
    """The postings of `generation`, scored in advance; None if the store has moved on
    to another generation or holds more than `MEMORY_BM25_MAX_CHUNKS` chunks."""
    with store.transaction(write=False):
        if store.generation() != generation or \
                store.chunk_count() > MEMORY_BM25_MAX_CHUNKS:
            return None
        rowids, lengths = store.fts.row_lengths()
        return MemoryBM25.build(rowids, lengths, store.fts.postings(),
                                store.fts.vocabulary_size(), COLUMN_WEIGHTS)


def prepare_query_words(memory: MemoryBM25) -> None:
    """Load what cutting queries for this index needs: jieba's dictionary when the index
    holds Chinese terms (1.6 s on first use, which the first Chinese query would pay)."""
    if any(has_chinese(term) for term in memory.term_ids):
        segment("中文")
