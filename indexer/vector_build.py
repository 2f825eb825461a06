"""Build a vector index from stored vectors: pick the kind, train, add, tune.

The kind comes from the policy (indexer/vector_policy.py); FAISS stays behind
`VectorIndex`. Vectors are read through a callable, so that a sync reads them from SQLite
and a benchmark generates them, block by block, without holding them all.
"""

from collections.abc import Callable, Iterable

import numpy as np
from numpy.typing import NDArray

from semsearch.indexer.neighbours import ExactNeighbours
from semsearch.indexer.vector_index import VectorIndex
from semsearch.indexer.vector_policy import FLAT, IVF, VectorIndexPolicy

Batches = Iterable[tuple[NDArray[np.int64], NDArray[np.float32]]]
# Reads the stored vectors of the given ids (sorted), or of every id when given None.
ReadVectors = Callable[[NDArray[np.int64] | None], Batches]
# Neighbours per tuning query: recall@10 is what the search effort is tuned for.
TUNING_K = 10


def build_vector_index(dimension: int, ids: NDArray[np.int64], read: ReadVectors,
                       policy: VectorIndexPolicy, seed: int = 0) -> VectorIndex:
    """Build the kind `policy` picks for `len(ids)` vectors, read through `read`.

    IVF trains on a random sample of the ids. Approximate kinds are then tuned: stored
    vectors serve as queries (their own id left out), their exact neighbours are found
    while the vectors stream in, and the least search effort reaching the policy's
    recall is kept in the index.
    """
    rng = np.random.default_rng(seed)
    kind = policy.kind_for(len(ids))
    if kind == IVF:
        lists = policy.ivf_lists(len(ids))
        wanted = min(len(ids), lists * policy.ivf_train_points_per_list)
        sample = _gather(read(np.sort(rng.choice(ids, wanted, replace=False))))
        index = VectorIndex.trained_ivf(sample, lists)
        del sample
    else:
        index = VectorIndex.empty(dimension, kind, policy)
    truth = None
    if kind != FLAT and len(ids) > TUNING_K:
        probe_ids = np.sort(rng.choice(ids, min(len(ids), policy.tuning_queries),
                                       replace=False))
        truth = ExactNeighbours(_gather(read(probe_ids)), TUNING_K, exclude=probe_ids)
    for batch_ids, batch in read(None):
        index.add(batch_ids, batch)
        if truth is not None:
            truth.update(batch_ids, batch)
    if truth is not None:
        index.tune(truth, policy.target_recall)
    return index


def _gather(batches: Batches) -> NDArray[np.float32]:
    parts = [vectors for _, vectors in batches]
    return np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)
