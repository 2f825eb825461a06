"""The one place that uses FAISS: an exact inner-product index keyed by chunk id.

Vectors are L2-normalised before they get here, so inner product is cosine similarity.
"""

import os
import tempfile
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from numpy.typing import NDArray


class VectorIndex:
    """Chunk vectors in a FAISS `IndexIDMap2(IndexFlatIP)`: ids are SQLite chunk ids."""

    def __init__(self, index: Any) -> None:  # faiss's SWIG types confuse type checkers
        self._index = index

    @classmethod
    def empty(cls, dimension: int) -> "VectorIndex":
        # Inner product over unit vectors = cosine similarity.
        return cls(faiss.IndexIDMap2(faiss.IndexFlatIP(dimension)))

    @classmethod
    def load(cls, path: Path) -> "VectorIndex":
        return cls(faiss.read_index(str(path)))

    @property
    def dimension(self) -> int:
        return int(self._index.d)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def ids(self) -> NDArray[np.int64]:
        """Every chunk id held, in storage order."""
        return faiss.vector_to_array(self._index.id_map).astype(np.int64)

    def vectors(self, ids: NDArray[np.int64]) -> NDArray[np.float32]:
        """The stored vectors of `ids` (each must be held)."""
        return np.asarray(self._index.reconstruct_batch(np.ascontiguousarray(ids, np.int64)),
                          dtype=np.float32)

    def add(self, ids: NDArray[np.int64], vectors: NDArray[np.float32]) -> None:
        if len(ids):
            self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32),
                                     np.ascontiguousarray(ids, dtype=np.int64))

    def remove(self, ids: NDArray[np.int64]) -> None:
        if len(ids):
            self._index.remove_ids(np.ascontiguousarray(ids, dtype=np.int64))

    def search(
        self, queries: NDArray[np.float32], k: int, allowed_ids: NDArray[np.int64] | None = None
    ) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        """Top-`k` (scores, ids) per query row; with `allowed_ids`, only among those.

        FAISS pads rows with id -1 when fewer than `k` vectors qualify; callers drop them.
        """
        k = max(1, min(k, len(self) or 1))
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if allowed_ids is None:
            scores, ids = self._index.search(queries, k)
        else:
            selector = faiss.IDSelectorBatch(np.ascontiguousarray(allowed_ids, dtype=np.int64))
            parameters = faiss.SearchParameters(sel=selector)  # type: ignore[call-arg]
            scores, ids = self._index.search(queries, k, params=parameters)
        return scores, ids

    def save(self, path: Path) -> None:
        """Write atomically: a temporary file in the same folder, then a rename."""
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        os.close(handle)
        try:
            faiss.write_index(self._index, temporary)
            with open(temporary, "rb+") as written:
                os.fsync(written.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
