"""BM25 from postings held in memory: the scores SQLite's bm25() gives, without SQLite.

FTS5 calls its `bm25()` once per matching row; a SciFact query matches thousands of
chunks, which makes the lexical leg cost more than the rest of a hybrid query together.
Here the index's postings are read once per generation (from FTS5 itself, so the terms
are exactly FTS5's) into compressed-sparse-row arrays: for each term, the positions of
the chunks that hold it and that (term, chunk) pair's share of the score, computed in
advance. A query adds up the postings of its own terms (and scans one byte per chunk for
the ones it matched): about 1 ms of CPU at 100,000 chunks. Queries are cut into terms by
an FTS5 table of the same tokenizer, so stemming, case folding and diacritics agree with
the index.

The formula is FTS5's (`fts5_aux.c`): with N rows, n of them holding the term, a row of
D tokens in all columns, avgdl the mean D, f the column-weighted count of the term in the
row, k1 = 1.2 and b = 0.75, a term adds idf * f (k1 + 1) / (f + k1 (1 - b + b D / avgdl))
where idf = ln((N - n + 0.5) / (n + 0.5)), or 1e-6 where that is not positive. A row's
terms are added in query order, starting from 0, as FTS5 adds them, so the sums are the
same to the last bit.
"""

from collections.abc import Iterable

import numpy as np
from numpy.typing import NDArray

from semsearch.indexer.fts import FtsPostings, fts_tokens

# The index terms of each query term, in query order.
Tokens = tuple[tuple[str, ...], ...]

K1 = 1.2
B = 0.75
# Indexes up to this many chunks get their postings held in memory; above it FTS5 scores
# the queries. Held: 12 bytes per distinct (term, chunk) pair, about 70 pairs per SciFact
# chunk of up to 200 tokens (10 MiB at 12k chunks, 80 MiB at 100k), plus one batch of
# postings at the peak of the build; so about 1.7 GiB at this limit.
MEMORY_BM25_MAX_CHUNKS = 2_000_000
# Query terms whose index terms one `MemoryBM25` remembers. Whole queries seldom repeat but
# their words do, and cutting a query's new words is an SQLite round trip (~0.05-0.1 ms).
KNOWN_TERMS_MAX = 100_000


class MemoryBM25:
    """Immutable once built, so any number of threads may search it at once."""

    def __init__(self, rowids: NDArray[np.int64], offsets: NDArray[np.int64],
                 positions: NDArray[np.int32], impacts: NDArray[np.float64],
                 terms: list[str]) -> None:
        """Postings in CSR form: term i's chunks are `positions[offsets[i]:offsets[i+1]]`
        (ascending indexes into `rowids`, the chunk ids), with their `impacts`."""
        self.rowids, self.offsets = rowids, offsets
        self.positions, self.impacts = positions, impacts
        self.term_ids = {term: i for i, term in enumerate(terms)}
        # Only ever added to (up to KNOWN_TERMS_MAX), so threads may read it as it grows.
        self._known_terms: dict[str, tuple[str, ...]] = {}

    @classmethod
    def build(cls, rowids: NDArray[np.int64], lengths: NDArray[np.int64],
              batches: Iterable[FtsPostings], size: tuple[int, int],
              weights: tuple[float, ...], k1: float = K1, b: float = B) -> "MemoryBM25":
        """Precompute every (term, chunk) pair's contribution to a BM25 score.

        Args:
            rowids: every row of the FTS table, ascending; lengths: its tokens per row.
            batches: every occurrence of every term, from `FtsTable.postings`.
            size: (terms, (term, row) pairs) in the index, from `FtsTable.vocabulary_size`.
            weights: the weight of each FTS column, as passed to `bm25()`.
            k1, b: BM25's parameters; FTS5's (`K1`, `B`) unless a benchmark tries others.
        """
        term_count, pair_count = size
        offsets = np.zeros(term_count + 1, dtype=np.int64)
        positions = np.empty(pair_count, dtype=np.int32)
        impacts = np.empty(pair_count, dtype=np.float64)
        rows = len(rowids)
        average_length = float(lengths.sum()) / rows if rows else 1.0
        # k1 (1 - b + b D / avgdl) of each row, as FTS5 computes it per match.
        length_norm = k1 * (1 - b + b * lengths.astype(np.float64) / average_length)
        terms: list[str] = []
        for batch in batches:
            pair_term, pair_position, frequency = _pairs(batch, rowids, weights)
            held = np.bincount(pair_term, minlength=len(batch.terms))
            idf = np.log((rows - held + 0.5) / (held + 0.5))
            idf[idf <= 0.0] = 1e-6
            start, first = int(offsets[len(terms)]), len(terms)
            end = start + len(pair_term)
            positions[start:end] = pair_position
            impacts[start:end] = idf[pair_term] * (
                (frequency * (k1 + 1.0)) / (frequency + length_norm[pair_position]))
            offsets[first + 1:first + len(batch.terms) + 1] = start + np.cumsum(held)
            terms.extend(batch.terms)
        if len(terms) != term_count or offsets[-1] != pair_count:
            raise RuntimeError("the FTS index changed while its postings were read")
        return cls(rowids, offsets, positions, impacts, terms)

    @property
    def chunk_count(self) -> int:
        return len(self.rowids)

    @property
    def nbytes(self) -> int:
        """Bytes of the arrays held (the term dictionary not counted)."""
        return sum(a.nbytes for a in (self.rowids, self.offsets, self.positions, self.impacts))

    def tokens(self, terms: list[str]) -> Tokens | None:
        """The index terms of each query term; None if one is a phrase of several, which
        FTS5 would match by position (not held here).

        FTS5 cuts each term on its own, so the terms not seen before are cut together
        and the others are remembered.
        """
        known = self._known_terms
        new = tuple(dict.fromkeys(term for term in terms if term not in known))
        cut = dict(zip(new, fts_tokens(new), strict=True)) if new else {}
        if len(known) < KNOWN_TERMS_MAX:
            known.update(cut)
        tokens = tuple(cut[term] if term in cut else known[term] for term in terms)
        return None if any(len(found) > 1 for found in tokens) else tokens

    def score(self, tokens: Tokens) -> "ScoredQuery":
        """The BM25 of every chunk holding a term of `tokens` (from `tokens`)."""
        spans = [slice(self.offsets[t], self.offsets[t + 1]) for t in
                 (self.term_ids.get(found[0]) if found else None for found in tokens)
                 if t is not None]
        if len(spans) == 1:  # one term: its postings are the answer, already in order
            return ScoredQuery(self.rowids, self.positions[spans[0]], self.impacts[spans[0]])
        # Index-sized arrays, but fresh zeroed pages cost nothing until touched, and the
        # nonzero scan of a bool array is cheap (measured at 100k chunks: 0.6 ms for a
        # SciFact query, against 1.0 ms for a reused float array reset after each query).
        scores = np.zeros(len(self.rowids), dtype=np.float64)
        hit = np.zeros(len(self.rowids), dtype=bool)
        for span in spans:  # in query order, the order FTS5 sums them in
            where = self.positions[span]
            scores[where] += self.impacts[span]  # a term holds each chunk once
            hit[where] = True
        matched = np.flatnonzero(hit)
        return ScoredQuery(self.rowids, matched, scores[matched])


def _pairs(batch: FtsPostings, rowids: NDArray[np.int64], weights: tuple[float, ...]
           ) -> tuple[NDArray[np.int64], NDArray[np.int32], NDArray[np.float64]]:
    """(term within the batch, chunk position, column-weighted count) of each distinct
    (term, chunk) pair of `batch`, in term then chunk order."""
    positions = np.searchsorted(rowids, batch.rowids).astype(np.int32)
    term_of = np.repeat(np.arange(len(batch.terms), dtype=np.int64), batch.counts)
    # One entry per (term, chunk): where the pair changes, a new entry starts.
    changes = np.r_[True, (np.diff(term_of) != 0) | (np.diff(positions) != 0)]
    starts = np.flatnonzero(changes[:len(positions)])
    column_weights = np.asarray(weights, dtype=np.float64)[batch.columns]
    frequency = np.add.reduceat(column_weights, starts) if len(starts) else np.zeros(0)
    return term_of[starts], positions[starts], frequency


class ScoredQuery:
    """One query's BM25: its top chunks, and the score of any chunk."""

    def __init__(self, rowids: NDArray[np.int64], matched: NDArray[np.integer],
                 scores: NDArray[np.float64]) -> None:
        """`matched`: ascending positions in `rowids` of the chunks holding a query term,
        `scores` their BM25."""
        self.rowids, self.matched, self.scores = rowids, matched, scores

    def top(self, limit: int,
            allowed: NDArray[np.int64] | None = None) -> list[tuple[int, float]]:
        """Top `limit` (chunk id, BM25) pairs of the chunks holding a query term, within
        `allowed` chunk ids when given; best first, ties by chunk id."""
        ids, scores = self.rowids[self.matched], self.scores
        if allowed is not None:
            keep = np.isin(ids, allowed)
            ids, scores = ids[keep], scores[keep]
        if len(ids) > limit:
            # Keep every chunk that scores at least the limit-th best, ties at the cut too.
            cut = np.partition(scores, len(scores) - limit)[len(scores) - limit]
            keep = scores >= cut
            ids, scores = ids[keep], scores[keep]
        best = np.lexsort((ids, -scores))[:limit]
        return list(zip(ids[best].tolist(), scores[best].tolist(), strict=True))

    def of(self, chunk_ids: list[int]) -> dict[int, float]:
        """BM25 of each chunk of `chunk_ids`: 0 for one without a query term (or unknown)."""
        ids = np.asarray(chunk_ids, dtype=np.int64)
        values = np.zeros(len(ids))
        if len(self.matched) and len(ids):
            at = np.searchsorted(self.rowids, ids).clip(max=len(self.rowids) - 1)
            where = np.searchsorted(self.matched, at).clip(max=len(self.matched) - 1)
            hit = (self.rowids[at] == ids) & (self.matched[where] == at)
            values[hit] = self.scores[where[hit]]
        return dict(zip(ids.tolist(), values.tolist(), strict=True))
