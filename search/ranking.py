"""From the legs' scores to ranked chunk ids, and from the few ids kept to hits.

Ranking needs scores only; SQLite rows are read for the hits that are returned (or
reranked), not for every candidate.
"""

import numpy as np
from numpy.typing import NDArray

from semsearch.indexer.errors import IndexCorruptError
from semsearch.indexer.store import ChunkRow
from semsearch.indexer.vector_index import VectorIndex
from semsearch.search.fuse import convex_fusion, z_score
from semsearch.search.hits import Hit
from semsearch.search.options import Mode

Ranked = list[tuple[int, float]]

_SCORE_KIND = {Mode.HYBRID: "fused", Mode.DENSE: "cosine", Mode.LEXICAL: "bm25"}
# Hybrid search grouped by document (`rank_documents`): the share of a document's dense
# score taken by the cosine of its mean chunk vector (the rest: its best chunk's cosine).
# Chosen on SciFact's 809 train queries at the fusion's usual dense weight, 0.5
# (`benchmarks/tune_ranking.py`): 0.3 and 0.5 tie, 0.5 has the better MRR. A dense weight
# of 0.7 scored higher there but sank a Chinese question of corpus/eval, where the English
# model's cosine is noise (docs/benchmarks.md).
MEAN_VECTOR_SHARE = 0.5
# The dense weight of that fusion, whose legs are z-scored over the candidate documents
# (`fuse.z_score`) rather than min-max scaled: about a thousand candidates, most of them
# weak, whose lowest set min-max's scale. Chosen on SciFact train with z-scores at dense
# weights 0.4-0.7: 0.7387, 0.7470, 0.7515, 0.7486, against 0.7472 shipped before.
DOCUMENT_DENSE_WEIGHT = 0.6


def rank(mode: Mode, dense: dict[int, float], lexical: dict[int, float]) -> Ranked:
    """(chunk id, score) of every candidate of either leg, best first (ties: lower id).

    In hybrid mode both legs must score every candidate (see `complete_dense`); a chunk
    missing from the lexical leg counts as BM25 0.
    """
    if mode == Mode.HYBRID:
        candidates = list(dict.fromkeys([*dense, *lexical]))
        scores = convex_fusion(np.array([dense[c] for c in candidates], dtype=np.float64),
                               np.array([lexical.get(c, 0.0) for c in candidates],
                                        dtype=np.float64))
    else:
        final = dense if mode == Mode.DENSE else lexical
        candidates = list(final)
        scores = np.fromiter(final.values(), dtype=np.float64, count=len(final))
    # Ordered by numpy rather than `sorted` with a key: `rank` of ~200 candidates took
    # 245 -> 168 us (hybrid), 110 -> 60 (dense), 141 -> 59 (lexical).
    chunk_ids = np.array(candidates, dtype=np.int64)
    order = np.lexsort((chunk_ids, -scores))
    return list(zip(chunk_ids[order].tolist(), scores[order].tolist(), strict=True))


def complete_dense(vectors: VectorIndex, query: NDArray[np.float32], candidates: list[int],
                   dense: dict[int, float]) -> dict[int, float]:
    """Cosine for every candidate, also those only the lexical leg found."""
    missing = [c for c in candidates if c not in dense]
    completed = dict(dense)
    if missing:
        scores = vectors.vectors(np.array(missing, dtype=np.int64)) @ query
        completed.update(zip(missing, scores.tolist(), strict=True))
    return completed


def gate(ranked: Ranked, dense: dict[int, float], min_score: float) -> Ranked:
    """Drop candidates below `min_score`: on the cosine when there is one, else the score."""
    return [(c, score) for c, score in ranked if dense.get(c, score) >= min_score]


def best_per_document(ranked: Ranked, documents: dict[int, int]) -> Ranked:
    """Each document's best chunk only; `documents` maps chunk id to document id.

    Raises:
        IndexCorruptError: a candidate has no row in SQLite.
    """
    _check_rows(ranked, documents)
    seen: set[int] = set()
    kept = []
    for chunk_id, score in ranked:
        if documents[chunk_id] not in seen:
            seen.add(documents[chunk_id])
            kept.append((chunk_id, score))
    return kept


def fuse_documents(ranked: Ranked, dense: dict[int, float], lexical: dict[int, float],
                   documents: dict[int, int]) -> Ranked:
    """Hybrid ranking by document: one (chunk id, score) per document, best first.

    Each leg scores a document by its best chunk on that leg, and the two are fused over
    the documents (`convex_fusion`), so that a document whose best passage for the
    cosine is not its best passage for BM25 keeps both. The chunk shown for a document
    is its first in `ranked` (the best fused chunk). Measured on SciFact against
    fusing chunks and keeping each document's best: nDCG@10 train 0.7349 -> 0.7369,
    test 0.7368 -> 0.7412 (`benchmarks/tune_ranking.py`).

    Raises:
        IndexCorruptError: a candidate has no row in SQLite.
    """
    _check_rows(ranked, documents)
    if not ranked:
        return []
    chunk_ids = np.array([c for c, _ in ranked], dtype=np.int64)
    owners = np.array([documents[c] for c, _ in ranked], dtype=np.int64)
    # `first`: where each document first appears in `ranked`, i.e. its shown chunk.
    _, first, slot = np.unique(owners, return_index=True, return_inverse=True)
    best_dense = np.full(len(first), -np.inf)
    np.maximum.at(best_dense, slot, np.array([dense[c] for c in chunk_ids.tolist()]))
    best_lexical = np.zeros(len(first))
    np.maximum.at(best_lexical, slot,
                  np.array([lexical.get(c, 0.0) for c in chunk_ids.tolist()]))
    fused = convex_fusion(best_dense, best_lexical)
    shown = chunk_ids[first]
    order = np.lexsort((shown, -fused))  # best first, ties by chunk id
    return list(zip(shown[order].tolist(), fused[order].tolist(), strict=True))


def rank_documents(mode: Mode, ranked: Ranked, documents: dict[int, int],
                   dense: dict[int, float], document_bm25: dict[int, float],
                   mean_cosine: dict[int, float]) -> Ranked:
    """Hybrid or lexical ranking of whole documents: (chunk id, score), one per document.

    A document's lexical score is `document_bm25` (BM25 over its whole text, by document
    id). In hybrid mode its dense score mixes its best chunk's cosine in `ranked` with
    `mean_cosine` (the cosine of its mean chunk vector), `MEAN_VECTOR_SHARE` of the
    latter, and the two are fused over the documents (`convex_fusion` of their z-scores,
    `DOCUMENT_DENSE_WEIGHT`). The chunk
    shown for a document is its first in `ranked`. A document missing from a dict
    scores 0 there.

    Raises:
        IndexCorruptError: a candidate has no row in SQLite.
    """
    shown = best_per_document(ranked, documents)
    if not shown:
        return []
    owners = [documents[c] for c, _ in shown]
    lexical = np.array([document_bm25.get(d, 0.0) for d in owners])
    final = lexical
    if mode == Mode.HYBRID:
        slot = {d: i for i, d in enumerate(owners)}
        best = np.full(len(owners), -np.inf)
        np.maximum.at(best, [slot[documents[c]] for c, _ in ranked],
                      [dense[c] for c, _ in ranked])
        mean = np.array([mean_cosine.get(d, 0.0) for d in owners])
        final = convex_fusion((1 - MEAN_VECTOR_SHARE) * best + MEAN_VECTOR_SHARE * mean,
                              lexical, DOCUMENT_DENSE_WEIGHT, z_score)
    chunk_ids = np.array([c for c, _ in shown], dtype=np.int64)
    order = np.lexsort((chunk_ids, -final))  # best first, ties by chunk id
    return list(zip(chunk_ids[order].tolist(), final[order].tolist(), strict=True))


def make_hits(ranked: Ranked, rows: dict[int, ChunkRow], mode: Mode,
              dense: dict[int, float], lexical: dict[int, float]) -> list[Hit]:
    """Hits of `ranked`, in order, with each leg's score.

    Raises:
        IndexCorruptError: a ranked chunk has no row in SQLite.
    """
    _check_rows(ranked, rows)
    hits = []
    for chunk_id, score in ranked:
        row = rows[chunk_id]
        scores = {}
        if chunk_id in dense:
            scores["cosine"] = dense[chunk_id]
        if mode != Mode.DENSE:
            scores["bm25"] = lexical.get(chunk_id, 0.0)
        if mode == Mode.HYBRID:
            scores["fused"] = score
        hits.append(Hit(chunk_id=chunk_id, doc_id=row.doc_id, path=row.path, title=row.title,
                        ordinal=row.ordinal,
                        text=row.text, page=row.page, start=row.start, end=row.end,
                        headings=list(row.headings), score=score,
                        score_kind=_SCORE_KIND[mode], scores=scores))
    return hits


def _check_rows(ranked: Ranked, rows: dict[int, ChunkRow] | dict[int, int]) -> None:
    missing = [chunk_id for chunk_id, _ in ranked if chunk_id not in rows]
    if missing:
        raise IndexCorruptError(
            f"chunk ids {sorted(missing)[:5]} are in the vector index but not in SQLite; "
            "rebuild with `semsearch index PATH --rebuild`")
