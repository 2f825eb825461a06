"""BM25 from postings held in memory: the scores SQLite's bm25() gives, without SQLite.

FTS5 calls its `bm25()` once per matching row; a SciFact query matches thousands of
chunks, which makes the lexical leg cost more than the rest of a hybrid query together.
Here the index's postings are read once per generation (from FTS5 itself, so the terms
are exactly FTS5's), each (term, chunk) pair's share of the score is computed in advance,
and a query adds up a few numpy slices. Queries are cut into terms by an FTS5 table of
the same tokenizer, so stemming, case folding and diacritics agree with the index.

The formula is FTS5's (`fts5_aux.c`): with N rows, n of them holding the term, a row of
D tokens in all columns, avgdl the mean D, f the column-weighted count of the term in the
row, k1 = 1.2 and b = 0.75, a term adds idf * f (k1 + 1) / (f + k1 (1 - b + b D / avgdl))
where idf = ln((N - n + 0.5) / (n + 0.5)), or 1e-6 where that is not positive.
"""

import numpy as np
from numpy.typing import NDArray

from semsearch.indexer.fts import FtsPostings, fts_tokens

# The index terms of each query term, in query order.
Tokens = tuple[tuple[str, ...], ...]

K1 = 1.2
B = 0.75
# Indexes up to this many chunks get their postings held in memory; above it FTS5 scores
# the queries. Measured on SciFact (12k chunks of up to 200 tokens): read and scored in
# about a second, 10 MiB held, 78 MiB more at the peak of the build; all of it grows with
# the number of chunks, so at this limit about 40 MiB held and 330 MiB at the peak.
MEMORY_BM25_MAX_CHUNKS = 50_000


class MemoryBM25:
    """Immutable once built, so any number of threads may search it at once."""

    def __init__(self, postings: FtsPostings, weights: tuple[float, ...]) -> None:
        """Precompute every (term, chunk) pair's contribution to a BM25 score.

        Args:
            postings: every occurrence of every term, from `FtsTable.postings`.
            weights: the weight of each FTS column, as passed to `bm25()`.
        """
        self.rowids = np.unique(postings.rowids)  # each chunk's position in the scores
        positions = np.searchsorted(self.rowids, postings.rowids).astype(np.int32)
        term_of = np.repeat(np.arange(len(postings.terms), dtype=np.int32), postings.counts)
        # One entry per (term, chunk): where the pair changes, a new entry starts.
        changes = np.r_[True, (np.diff(term_of) != 0) | (np.diff(positions) != 0)]
        starts = np.flatnonzero(changes[:len(positions)])
        del changes
        column_weights = np.asarray(weights, dtype=np.float64)[postings.columns]
        frequency = np.add.reduceat(column_weights, starts) if len(starts) else np.zeros(0)
        del column_weights
        pair_term, pair_position = term_of[starts], positions[starts]
        rows = len(self.rowids)
        lengths = np.bincount(positions, minlength=rows).astype(np.float64)
        del term_of, positions, starts
        average_length = float(lengths.sum()) / rows if rows else 1.0
        held = np.bincount(pair_term, minlength=len(postings.terms)).astype(np.float64)
        idf = np.log((rows - held + 0.5) / (held + 0.5))
        idf[idf <= 0.0] = 1e-6
        self.impacts = idf[pair_term] * (
            (frequency * (K1 + 1.0))
            / (frequency + K1 * (1 - B + B * lengths[pair_position] / average_length)))
        self.positions = pair_position
        self.offsets = np.r_[0, np.cumsum(held.astype(np.int64))]
        self.term_ids = {term: i for i, term in enumerate(postings.terms)}

    @property
    def chunk_count(self) -> int:
        return len(self.rowids)

    @staticmethod
    def tokens(terms: list[str]) -> Tokens | None:
        """The index terms of each query term; None if one is a phrase of several, which
        FTS5 would match by position (not held here)."""
        tokens = fts_tokens(tuple(terms))
        return None if any(len(found) > 1 for found in tokens) else tokens

    def score(self, tokens: Tokens) -> "ScoredQuery":
        """Every chunk's BM25 for `tokens` (from `tokens`), summed once."""
        scores = np.zeros(len(self.rowids), dtype=np.float64)
        hit = np.zeros(len(self.rowids), dtype=bool)
        for found in tokens:  # in query order, the order FTS5 sums them in
            term = self.term_ids.get(found[0]) if found else None
            if term is None:
                continue
            span = slice(self.offsets[term], self.offsets[term + 1])
            scores[self.positions[span]] += self.impacts[span]
            hit[self.positions[span]] = True
        return ScoredQuery(self.rowids, scores, np.flatnonzero(hit))


class ScoredQuery:
    """One query's BM25 over every chunk: its top chunks, and the score of any chunk."""

    def __init__(self, rowids: NDArray[np.int64], scores: NDArray[np.float64],
                 matched: NDArray[np.intp]) -> None:
        self.rowids, self.scores, self.matched = rowids, scores, matched

    def top(self, limit: int,
            allowed: NDArray[np.int64] | None = None) -> list[tuple[int, float]]:
        """Top `limit` (chunk id, BM25) pairs of the chunks holding a query term, within
        `allowed` chunk ids when given; best first, ties by chunk id."""
        scores, matched = self.scores, self.matched
        if allowed is not None:
            matched = matched[np.isin(self.rowids[matched], allowed)]
        if len(matched) > limit:
            # Keep every chunk that scores at least the limit-th best, ties at the cut too.
            cut = np.partition(-scores[matched], limit - 1)[limit - 1]
            matched = matched[-scores[matched] <= cut]
        best = matched[np.lexsort((self.rowids[matched], -scores[matched]))[:limit]]
        return [(int(r), float(s)) for r, s in zip(self.rowids[best], scores[best], strict=True)]

    def of(self, chunk_ids: list[int]) -> dict[int, float]:
        """BM25 of each chunk of `chunk_ids`: 0 for one without a query term (or unknown)."""
        if not len(self.rowids):
            return dict.fromkeys(chunk_ids, 0.0)
        ids = np.asarray(chunk_ids, dtype=np.int64)
        at = np.searchsorted(self.rowids, ids).clip(max=len(self.rowids) - 1)
        values = np.where(self.rowids[at] == ids, self.scores[at], 0.0)
        return {int(i): float(v) for i, v in zip(ids, values, strict=True)}
