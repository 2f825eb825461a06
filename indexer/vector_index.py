"""The one place that uses FAISS: chunk vectors keyed by SQLite chunk id.

Vectors are L2-normalised before they get here and every index kind uses inner product,
so a score is cosine similarity. Three kinds (which one: indexer/vector_policy.py):

- flat: `IndexIDMap2(IndexFlatIP)`, exact.
- hnsw: `IndexIDMap2(IndexHNSWFlat)`. HNSW cannot delete, so a removed vector becomes a
  tombstone: its id in the id map is set to -1 and searches skip it (an IDSelector); the
  index is rebuilt once tombstones pass a share of it (`needs_rebuild`).
- ivf: `IndexIVFScalarQuantizer` (8 bits per dimension), trained on a sample, holding the
  chunk ids itself; it deletes for real, and a hashtable direct map finds a vector by id.
  Its scores and stored vectors are 8-bit approximations (cosine within about 1e-3).

Approximate kinds carry their search effort (efSearch, nprobe) in the file, tuned at build
time to reach the policy's recall@10 against exact search (`tune`).
"""

import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from numpy.typing import NDArray

from semsearch.indexer.neighbours import ExactNeighbours
from semsearch.indexer.vector_policy import FLAT, HNSW, IVF, VectorIndexPolicy

# A filter this selective is answered exactly from the allowed vectors: graph and list
# walks find too few allowed neighbours when most of what they visit is filtered out.
EXACT_FILTER_LIMIT = 20_000
EXACT_FILTER_SHARE = 0.05
# Filters and tombstones make the walk look further, by 1/share, at most this many times.
MAX_EFFORT_SCALE = 16
# Chunk ids are positive; tombstones are -1. Searches of an index with tombstones keep
# the ids in [0, _ID_END).
_ID_END = 1 << 62
# IVF indexes with more lists than this find a vector's list through an HNSW graph.
FLAT_QUANTIZER_LISTS = 4096
# Search efforts tried by `tune`, cheapest first: nprobe (ivf), efSearch (hnsw).
_NPROBE_LADDER = (1, 2, 4, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 1024)
_EF_LADDER = (16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024)
TUNE_SLACK = 0.005


def limit_threads(count: int) -> None:
    """Let FAISS calls made from the calling thread use at most `count` OpenMP threads.

    OpenMP keeps this per thread, so each searching thread calls it once. One query's
    search is too small to share out: with one thread per request, concurrent requests
    use the cores without FAISS's thread teams waiting on each other. Measured, one
    query's top 100 of 12k vectors (flat) on a busy 2-core machine: p50 91 ms with two
    threads, 1.7 ms with one. torch uses the same OpenMP runtime, so its operations in
    the thread (a query's encode) follow the limit as well.
    """
    faiss.omp_set_num_threads(max(1, count))


class ReadOnlyIndexError(RuntimeError):
    """A memory-mapped index was asked to change; load it without `mapped` to edit it."""


@dataclass(frozen=True)
class VectorIndexInfo:
    """What `/stats` shows of a vector index."""

    type: str
    params: dict[str, int | str] = field(default_factory=dict)
    vectors: int = 0
    tombstones: int = 0

    def to_dict(self) -> dict[str, object]:
        return {"type": self.type, "params": dict(self.params), "vectors": self.vectors,
                "tombstones": self.tombstones}


class VectorIndex:
    """Chunk vectors in a FAISS index of one of three kinds; ids are SQLite chunk ids."""

    def __init__(self, index: Any, *, mapped: bool = False) -> None:  # SWIG types
        self._owner = index  # keeps the Python wrapper, and what it references, alive
        self._index: Any = faiss.downcast_index(index)
        self._inner: Any
        self._mapped = mapped
        if isinstance(self._index, faiss.IndexIDMap2):
            self._inner = faiss.downcast_index(self._index.index)
            self.kind = HNSW if isinstance(self._inner, faiss.IndexHNSW) else FLAT
        elif isinstance(self._index, faiss.IndexIVF):
            self._inner, self.kind = self._index, IVF
        else:
            raise TypeError(f"unsupported FAISS index {type(self._index).__name__}")
        self._live: NDArray[np.int64] | None = None  # sorted live ids, built on demand
        self._tombstones = 0
        if self.kind == HNSW:
            self._tombstones = int((self._labels() < 0).sum())

    # --- construction ---------------------------------------------------------------
    @classmethod
    def empty(cls, dimension: int, kind: str = FLAT,
              policy: VectorIndexPolicy | None = None) -> "VectorIndex":
        """An empty flat or hnsw index (ivf must be trained: see `build`)."""
        policy = policy or VectorIndexPolicy()
        # Inner product over unit vectors = cosine similarity, for every kind.
        if kind == FLAT:
            return cls(faiss.IndexIDMap2(faiss.IndexFlatIP(dimension)))
        if kind == HNSW:
            graph = faiss.IndexHNSWFlat(dimension, policy.hnsw_neighbors,
                                        faiss.METRIC_INNER_PRODUCT)
            graph.hnsw.efConstruction = policy.hnsw_ef_construction
            graph.hnsw.efSearch = 64
            return cls(faiss.IndexIDMap2(graph))
        raise ValueError(f"an empty index is flat or hnsw, not {kind!r}")

    @classmethod
    def trained_ivf(cls, sample: NDArray[np.float32], lists: int) -> "VectorIndex":
        """An empty IVF index with `lists` lists, trained by spherical k-means on `sample`.

        Sync builds indexes through indexer/vector_build.py, which picks the kind.
        """
        dimension = sample.shape[1]
        # Past FLAT_QUANTIZER_LISTS lists, finding a vector's list by scanning every
        # centroid dominates adding; an HNSW graph over the centroids finds it faster.
        coarse = "" if lists <= FLAT_QUANTIZER_LISTS else "_HNSW32"
        index: Any = faiss.index_factory(dimension, f"IVF{lists}{coarse},SQ8",
                                         faiss.METRIC_INNER_PRODUCT)
        index.cp.spherical = True  # centroids on the sphere, like the vectors
        index.cp.niter = 10
        index.cp.max_points_per_centroid = max(64, len(sample) // lists + 1)
        # Each dimension's 8-bit range: the sample's, widened by 10% on both sides so
        # that vectors added later, a little outside it, are not clipped.
        index.sq.rangestat_arg = 0.1
        index.train(np.ascontiguousarray(sample, dtype=np.float32))
        index.set_direct_map_type(faiss.DirectMap.Hashtable)  # type: ignore[attr-defined]
        index.nprobe = min(lists, 16)
        return cls(index)

    @classmethod
    def load(cls, path: Path, *, mapped: bool = False) -> "VectorIndex":
        """Read `path`; `mapped` maps the vectors from the file instead (read-only).

        Raises:
            RuntimeError: FAISS cannot read the file.
        """
        if mapped:
            try:
                flags = faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY
                return cls(faiss.read_index(str(path), flags), mapped=True)
            except RuntimeError:
                pass  # this kind or build cannot map: read it whole below
        return cls(faiss.read_index(str(path)))

    # --- what it holds --------------------------------------------------------------
    @property
    def dimension(self) -> int:
        return int(self._index.d)

    def __len__(self) -> int:
        """Vectors searchable (tombstones excluded)."""
        return int(self._index.ntotal) - self._tombstones

    @property
    def tombstones(self) -> int:
        return self._tombstones

    @property
    def search_effort(self) -> int:
        """efSearch (hnsw), nprobe (ivf); 0 for flat, which always scans everything."""
        if self.kind == HNSW:
            return int(self._inner.hnsw.efSearch)
        return int(self._inner.nprobe) if self.kind == IVF else 0

    @search_effort.setter
    def search_effort(self, value: int) -> None:
        if self.kind == HNSW:
            self._inner.hnsw.efSearch = int(value)
        elif self.kind == IVF:
            self._inner.nprobe = max(1, min(int(value), int(self._inner.nlist)))

    def info(self) -> VectorIndexInfo:
        params: dict[str, int | str] = {"metric": "cosine"}
        if self.kind == HNSW:
            params.update(M=int(self._inner.hnsw.nb_neighbors(1)),
                          ef_construction=int(self._inner.hnsw.efConstruction),
                          ef_search=self.search_effort)
        elif self.kind == IVF:
            coarse = faiss.downcast_index(self._inner.quantizer)
            params.update(nlist=int(self._inner.nlist), nprobe=self.search_effort, codec="SQ8",
                          quantizer="hnsw" if isinstance(coarse, faiss.IndexHNSW) else "flat")
        return VectorIndexInfo(self.kind, params, len(self), self._tombstones)

    def needs_rebuild(self, policy: VectorIndexPolicy) -> bool:
        """True when `policy` wants another kind for this size, an HNSW index holds too
        many tombstones, or an IVF index's lists no longer fit its size."""
        if policy.kind_for(len(self), self.kind) != self.kind:
            return True
        if self.kind == HNSW:
            return self._tombstones > policy.compact_fraction * max(int(self._index.ntotal), 1)
        if self.kind == IVF:
            return policy.lists_are_off(int(self._inner.nlist), len(self))
        return False

    def ids(self) -> NDArray[np.int64]:
        """Every live chunk id held, in storage order."""
        if self.kind == IVF:
            return _ivf_ids(self._inner)
        labels = self._labels()
        return labels[labels >= 0] if self._tombstones else labels

    def vectors(self, ids: NDArray[np.int64]) -> NDArray[np.float32]:
        """The stored vectors of `ids` (each must be held; ivf: 8-bit approximations)."""
        ids = np.ascontiguousarray(ids, np.int64)
        if not len(ids):
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.asarray(self._index.reconstruct_batch(ids), dtype=np.float32)

    # --- changes --------------------------------------------------------------------
    def add(self, ids: NDArray[np.int64], vectors: NDArray[np.float32]) -> None:
        self._writable()
        if len(ids):
            self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32),
                                     np.ascontiguousarray(ids, dtype=np.int64))
            self._live = None

    def remove(self, ids: NDArray[np.int64]) -> None:
        """Delete `ids` (flat, ivf) or turn them into tombstones (hnsw)."""
        self._writable()
        if not len(ids):
            return
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        self._live = None
        if self.kind != HNSW:
            self._index.remove_ids(ids)
            return
        labels = self._labels()
        dead = np.isin(labels, ids) & (labels >= 0)
        if dead.any():
            labels[dead] = -1
            faiss.copy_array_to_vector(labels, self._index.id_map)
            self._index.construct_rev_map()
            self._tombstones += int(dead.sum())

    def tune(self, truth: ExactNeighbours, target_recall: float) -> float:
        """Set the least search effort whose recall@k against `truth` reaches the target.

        When none reaches it, the least effort within `TUNE_SLACK` of the best recall
        seen: past that point more effort costs time for almost no recall (HNSW at 1M
        vectors in the benchmark: efSearch 512 -> 1024 gained 0.002 for 7x the time).
        Returns the recall reached.
        """
        if self.kind == FLAT:
            return 1.0
        if self.kind == IVF:
            ladder = [e for e in _NPROBE_LADDER if e < int(self._inner.nlist)]
            ladder.append(int(self._inner.nlist))
        else:
            ladder = list(_EF_LADDER)
        reached: list[tuple[int, float]] = []
        for effort in ladder:
            self.search_effort = effort
            _, found = self.search(truth.queries, truth.k + 1)
            reached.append((effort, truth.recall(found)))
            if reached[-1][1] >= target_recall:
                return reached[-1][1]
        best = max(recall for _, recall in reached)
        effort, recall = next(pair for pair in reached if pair[1] >= best - TUNE_SLACK)
        self.search_effort = effort
        return recall

    # --- search ---------------------------------------------------------------------
    def search(
        self, queries: NDArray[np.float32], k: int, allowed_ids: NDArray[np.int64] | None = None
    ) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        """Top-`k` (scores, ids) per query row; with `allowed_ids`, only among those.

        FAISS pads rows with id -1 when fewer than `k` vectors qualify; callers drop them.
        """
        live = len(self)
        k = max(1, min(k, live or 1))
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        share = live / max(int(self._index.ntotal), 1)
        selector: Any = faiss.IDSelectorRange(0, _ID_END) if self._tombstones else None
        if allowed_ids is not None:
            allowed = self._held(allowed_ids)
            if len(allowed) <= min(EXACT_FILTER_LIMIT, EXACT_FILTER_SHARE * live):
                return self._search_exact(queries, k, allowed)
            share = len(allowed) / max(int(self._index.ntotal), 1)
            selector = faiss.IDSelectorBatch(allowed)
        parameters = self._parameters(selector, k, share)
        if parameters is None:
            return self._index.search(queries, k)
        return self._index.search(queries, k, params=parameters)

    def _parameters(self, selector: Any, k: int, share: float) -> Any:
        scale = min(MAX_EFFORT_SCALE, 1 / max(share, 1e-9))
        effort = math.ceil(self.search_effort * scale)
        if self.kind == HNSW:
            return faiss.SearchParametersHNSW(  # type: ignore[attr-defined]
                sel=selector, efSearch=max(effort, k))
        if self.kind == IVF:
            return faiss.SearchParametersIVF(  # type: ignore[call-arg]
                sel=selector, nprobe=min(effort, int(self._inner.nlist)))
        return None if selector is None else faiss.SearchParameters(
            sel=selector)  # type: ignore[call-arg]

    def _search_exact(self, queries: NDArray[np.float32], k: int,
                      allowed: NDArray[np.int64]) -> tuple[NDArray[np.float32],
                                                            NDArray[np.int64]]:
        scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
        found = np.full((len(queries), k), -1, dtype=np.int64)
        if len(allowed):
            similarity = queries @ self.vectors(allowed).T
            top = min(k, len(allowed))
            order = np.argsort(-similarity, axis=1, kind="stable")[:, :top]
            scores[:, :top] = np.take_along_axis(similarity, order, axis=1)
            found[:, :top] = allowed[order]
        return scores, found

    def _held(self, ids: NDArray[np.int64]) -> NDArray[np.int64]:
        """The sorted unique ids among `ids` that this index holds, live."""
        if self._live is None:
            self._live = np.sort(self.ids())
        wanted = np.unique(np.asarray(ids, dtype=np.int64))
        return wanted[np.isin(wanted, self._live, assume_unique=True)]

    def _labels(self) -> NDArray[np.int64]:
        return faiss.vector_to_array(self._index.id_map).astype(np.int64)

    def _writable(self) -> None:
        if self._mapped:
            raise ReadOnlyIndexError("this vector index is memory-mapped read-only; "
                                     "load it with mapped=False to change it")

    # --- files ----------------------------------------------------------------------
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


def _ivf_ids(index: Any) -> NDArray[np.int64]:
    lists = index.invlists
    parts = []
    for number in range(int(index.nlist)):
        size = int(lists.list_size(number))
        if size:
            pointer = lists.get_ids(number)
            parts.append(faiss.rev_swig_ptr(pointer, size).astype(np.int64))
            lists.release_ids(number, pointer)
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
