"""BM25 as sparse vectors: the scores FTS5 gives the embedded index, for a Milvus store.

A chunk's terms are cut by an in-memory FTS5 table of the index's own tokenizer
(`fts.term_counts`: Porter stems, case folding, diacritics), from the same segmented
text (`lexical_text.segment`: Chinese runs cut by jieba), so the terms are exactly those
the embedded index holds. Each term becomes one dimension of a sparse vector (a 32-bit hash
of the term; two terms sharing one would be scored as one).

What is stored must not depend on the rest of the collection (a chunk's row is the same
whichever sync wrote it), so the stored weight of a term is BM25's term-frequency part
with a fixed reference length in place of the collection's mean length:
`f (k1 + 1) / (f + k1 (1 - b + b D / reference))`. Milvus ranks candidates by the inner
product of that with the query's IDFs; the candidates are then scored exactly, with the
committed collection's own N, document frequencies and mean length (`exact_bm25`), from
the term counts recovered from the stored weights.
"""

import hashlib
from dataclasses import dataclass

import numpy as np

from semsearch.indexer.fts import term_counts

# FTS5's bm25() constants (fts5_aux.c), as in search/lexical_memory.py.
K1 = 1.2
B = 0.75
# The smallest IDF FTS5 gives a term (a term in more than half the rows).
MIN_IDF = 1e-6
# Sparse dimensions are uint32; Milvus reserves the largest.
_DIMENSIONS = 2**32 - 1

SparseVector = dict[int, float]


@dataclass(frozen=True)
class LexicalRow:
    """A chunk's lexical part: weights by dimension, and its length in terms."""

    weights: SparseVector
    length: int


def term_dimension(term: str) -> int:
    """The sparse dimension of an index term."""
    digest = hashlib.blake2b(term.encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") % _DIMENSIONS


def lexical_rows(texts: list[tuple[str, str]], reference_length: float) -> list[LexicalRow]:
    """The stored sparse vector and length of each (lexical title, lexical body)."""
    rows = []
    for counts in term_counts(texts):
        length = sum(counts.values())
        norm = K1 * (1 - B + B * length / reference_length)
        weights: SparseVector = {}
        for term, count in counts.items():
            dimension = term_dimension(term)
            weights[dimension] = weights.get(dimension, 0.0) + count
        rows.append(LexicalRow(
            {d: f * (K1 + 1) / (f + norm) for d, f in weights.items()}, length))
    return rows


def recover_counts(weights: SparseVector, length: int,
                   reference_length: float) -> dict[int, float]:
    """The term counts behind stored weights (the inverse of `lexical_rows`), rounded:
    the weights are float32 in Milvus."""
    norm = K1 * (1 - B + B * length / reference_length)
    return {d: float(round(w * norm / (K1 + 1 - w))) for d, w in weights.items()}


def stored_bm25(query: dict[int, float], weights: SparseVector, length: int,
                reference_length: float, mean_length: float) -> float:
    """FTS5's BM25 of a row from its stored `weights` (`lexical_rows`) and `length`:
    `exact_bm25` of the counts recovered at the query's dimensions only (a row holds
    hundreds of terms; the query a few)."""
    held = {d: weights[d] for d in query if d in weights}
    return exact_bm25(query, recover_counts(held, length, reference_length), length,
                      mean_length)


def idf(document_frequency: int, rows: int) -> float:
    """FTS5's IDF of a term held by `document_frequency` of `rows` chunks."""
    value = float(np.log((rows - document_frequency + 0.5) / (document_frequency + 0.5)))
    return value if value > 0 else MIN_IDF


def exact_bm25(query: dict[int, float], counts: dict[int, float], length: int,
               mean_length: float) -> float:
    """FTS5's BM25 of one chunk: `query` holds each query dimension's IDF (times the
    times the query names it), `counts` the chunk's term counts."""
    norm = K1 * (1 - B + B * length / mean_length)
    score = 0.0
    for dimension, weight in query.items():
        f = counts.get(dimension, 0.0)
        if f:
            score += weight * f * (K1 + 1) / (f + norm)
    return score
