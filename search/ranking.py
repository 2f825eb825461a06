"""From the legs' scores to ranked chunk ids, and from the few ids kept to hits.

Ranking needs scores only; SQLite rows are read for the hits that are returned (or
reranked), not for every candidate.
"""

import numpy as np
from numpy.typing import NDArray

from semsearch.indexer.errors import IndexCorruptError
from semsearch.indexer.store import ChunkRow
from semsearch.indexer.vector_index import VectorIndex
from semsearch.search.fuse import convex_fusion
from semsearch.search.hits import Hit
from semsearch.search.options import Mode

Ranked = list[tuple[int, float]]

_SCORE_KIND = {Mode.HYBRID: "fused", Mode.DENSE: "cosine", Mode.LEXICAL: "bm25"}


def rank(mode: Mode, dense: dict[int, float], lexical: dict[int, float]) -> Ranked:
    """(chunk id, score) of every candidate of either leg, best first (ties: lower id).

    In hybrid mode both legs must score every candidate (see `complete_dense`); a chunk
    missing from the lexical leg counts as BM25 0.
    """
    candidates = list(dict.fromkeys([*dense, *lexical]))
    if mode == Mode.HYBRID:
        if not candidates:
            return []
        fused = convex_fusion(np.array([dense[c] for c in candidates], dtype=np.float64),
                              np.array([lexical.get(c, 0.0) for c in candidates],
                                       dtype=np.float64))
        final = dict(zip(candidates, fused.tolist(), strict=True))
    else:
        final = dense if mode == Mode.DENSE else lexical
    return sorted(final.items(), key=lambda item: (-item[1], item[0]))


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
