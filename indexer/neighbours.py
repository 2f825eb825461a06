"""Exact nearest neighbours by brute force, block by block: the ground truth.

Numpy only. Tunes the search effort of approximate indexes (indexer/vector_build.py) and
scores them in benchmarks/bench_scale.py and the tests.
"""

import numpy as np
from numpy.typing import NDArray


class ExactNeighbours:
    """Exact top-`k` neighbours of fixed queries, gathered block by block (numpy only).

    The ground truth for tuning and benchmarks: never holds more than one block of the
    data. A query's own id (`exclude`, one per query) is never its neighbour.
    """

    def __init__(self, queries: NDArray[np.float32], k: int,
                 exclude: NDArray[np.int64] | None = None) -> None:
        self.queries = np.ascontiguousarray(queries, dtype=np.float32)
        self.k = k
        self.exclude = exclude
        self.scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
        self.ids = np.full((len(queries), k), -1, dtype=np.int64)

    def update(self, ids: NDArray[np.int64], vectors: NDArray[np.float32]) -> None:
        similarity = self.queries @ np.asarray(vectors, dtype=np.float32).T
        if self.exclude is not None:
            similarity[self.exclude[:, None] == ids[None, :]] = -np.inf
        if similarity.shape[1] > self.k:  # the block's own top k first: small merges
            columns = np.argpartition(-similarity, self.k - 1, axis=1)[:, :self.k]
        else:
            columns = np.broadcast_to(np.arange(similarity.shape[1]), similarity.shape)
        scores = np.concatenate([self.scores, np.take_along_axis(similarity, columns, 1)], 1)
        labels = np.concatenate([self.ids, ids[columns]], axis=1)
        order = np.argsort(-scores, axis=1, kind="stable")[:, :self.k]
        self.scores = np.take_along_axis(scores, order, 1)
        self.ids = np.take_along_axis(labels, order, 1)

    def recall(self, found: NDArray[np.int64]) -> float:
        """Mean share of the true top-k found in each row of `found` (excluded ids ignored)."""
        hits = 0
        for row, (truth, got) in enumerate(zip(self.ids, found, strict=True)):
            if self.exclude is not None:
                got = got[got != self.exclude[row]]
            hits += len(np.intersect1d(truth[truth >= 0], got[:self.k]))
        return hits / max(1, int((self.ids >= 0).sum()))
