"""Which vector index an index directory gets, and when it must be rebuilt.

Pure arithmetic, no FAISS: `VectorIndex` (indexer/vector_index.py) asks this module which
kind fits a size. The defaults come from `benchmarks/bench_scale.py` (see
docs/notes/ann.md): below `APPROXIMATE_FROM` vectors an exact flat scan answers a query
in a few tens of milliseconds on one core; above it an approximate index is faster and is
tuned to keep recall@10 at or above 0.95 against the exact answer. IVF rather than HNSW:
at 100k vectors it built faster, answered as fast, and holds a quarter of the memory
(8-bit codes), and it deletes for real where HNSW needs tombstones.
"""

import math
from dataclasses import dataclass
from typing import Literal

FLAT, HNSW, IVF = "flat", "hnsw", "ivf"
AUTO = "auto"
KINDS = (AUTO, FLAT, HNSW, IVF)
VectorIndexKind = Literal["auto", "flat", "hnsw", "ivf"]

# `auto` switches from the exact flat index to `AUTO_APPROXIMATE` at this many vectors,
# and back to flat below half of it (the gap keeps a size near the line from flapping).
APPROXIMATE_FROM = 100_000
AUTO_APPROXIMATE = IVF


@dataclass(frozen=True)
class VectorIndexPolicy:
    """What the user asked for (`kind`) and the numbers that turn it into an index.

    Attributes:
        kind: auto, flat, hnsw or ivf.
        approximate_from: `auto` is flat below this many vectors, approximate above.
        auto_approximate: the approximate kind `auto` picks (hnsw or ivf).
        hnsw_neighbors: HNSW's M, links per node.
        hnsw_ef_construction: HNSW's candidate list while inserting.
        ivf_points_per_list: an IVF index gets about size/this lists, so that k-means
            trains on at least this many points per centroid (FAISS warns below 39).
        ivf_lists_per_root: ... and at most this many times sqrt(size) lists.
        ivf_min_lists: fewer lists than this is not worth an IVF: `ivf` stays flat.
        ivf_train_points_per_list: k-means trains on a sample of this many per list.
        compact_fraction: an HNSW index is rebuilt once this share of it is tombstones.
        target_recall: recall@10 the search effort (efSearch, nprobe) is tuned to reach
            on stored vectors used as queries (their own id left out). Such queries sit
            on the data and are easier than unseen ones: 0.97 there gave 0.944 on unseen
            queries for HNSW at 100k in the benchmark, hence 0.99, for 0.95 unseen.
        tuning_queries: how many stored vectors tune it.
    """

    kind: str = AUTO
    approximate_from: int = APPROXIMATE_FROM
    auto_approximate: str = AUTO_APPROXIMATE
    hnsw_neighbors: int = 32
    hnsw_ef_construction: int = 40
    ivf_points_per_list: int = 39
    ivf_lists_per_root: float = 4.0
    ivf_min_lists: int = 16
    ivf_train_points_per_list: int = 50
    compact_fraction: float = 0.2
    target_recall: float = 0.99
    tuning_queries: int = 200

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown vector index {self.kind!r}; use one of {', '.join(KINDS)}")
        if self.auto_approximate not in (HNSW, IVF):
            raise ValueError(f"auto_approximate must be hnsw or ivf, not {self.auto_approximate!r}")

    def ivf_lists(self, size: int) -> int:
        """Inverted lists for `size` vectors: a power of two near 4 sqrt(size), trainable."""
        wanted = min(self.ivf_lists_per_root * math.sqrt(max(size, 1)),
                     size / self.ivf_points_per_list)
        return 2 ** int(math.log2(wanted)) if wanted >= 1 else 0

    def kind_for(self, size: int, current: str | None = None) -> str:
        """The concrete kind (flat, hnsw, ivf) for an index of `size` vectors.

        `current` is the kind the index has now: `auto` only leaves it at a clear margin
        from the threshold, and an IVF index too small to train stays (or becomes) flat.
        """
        wanted = self.kind
        if wanted == AUTO:
            line = self.approximate_from // 2 if current in (HNSW, IVF) else self.approximate_from
            wanted = self.auto_approximate if size >= line else FLAT
        if wanted == IVF:
            floor = self.ivf_min_lists // 2 if current == IVF else self.ivf_min_lists
            return IVF if self.ivf_lists(size) >= floor else FLAT
        return wanted

    def lists_are_off(self, lists: int, size: int) -> bool:
        """An IVF index trained with `lists` lists no longer fits `size` vectors (4x off)."""
        wanted = self.ivf_lists(size)
        return wanted >= 4 * lists or lists >= 4 * max(wanted, 1)
