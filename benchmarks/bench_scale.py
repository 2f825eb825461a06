"""Vector index kinds at scale: build time, size, latency, recall@10 (synthetic vectors).

For each size (`--sizes`, e.g. 100k,1M,10M) and each index kind of
indexer/vector_index.py (flat, hnsw, ivf), built through `build_vector_index` exactly as a
sync builds it (IVF trained on a sample, search effort tuned on stored vectors):

  * build seconds (train + add + tune) and peak resident memory;
  * bytes per vector on disk (the saved file) and in memory (RSS growth when loading it);
  * load seconds of the saved file, read whole and memory-mapped (what a server does);
  * single-query latency p50 / p99 (k=10, FAISS on one thread, sequential) and batched
    QPS (all queries in one call, one thread);
  * recall@10 against exact search, and a small sweep of the search effort.

The vectors: a mixture of Gaussians with low intrinsic dimension, like sentence
embeddings. Cluster centres are drawn in a 64-d latent space (one centre per 1,000
vectors, at least 100), each vector is its centre plus Gaussian spread (0.6 of the centre
scale), mapped into 384-d by a fixed random orthonormal map, plus isotropic 384-d noise
(about 30% of the norm), then L2-normalised. Same-cluster cosine is about 0.65, random
pairs about 0. Queries come from the same distribution under another seed and are not in
the data. Isotropic noise alone would make every approximate index look bad, and
real embeddings are far from isotropic. Blocks are generated from (seed, block number),
so any block can be regenerated; no full copy of the data is held, and the exact top-10
is computed block by block.

Run (sizes take k/M suffixes):
  python benchmarks/bench_scale.py --sizes 100k,1M --out /tmp/bench_scale.json
  python benchmarks/bench_scale.py --sizes 10M --kinds ivf --queries 100
HNSW at 10M is left out by default: building it takes hours on two cores and holds the
full float32 vectors (15 GB) plus the graph.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import faiss
import numpy as np
from bench_common import percentiles, print_table
from numpy.typing import NDArray

from semsearch.indexer.neighbours import ExactNeighbours
from semsearch.indexer.vector_build import build_vector_index
from semsearch.indexer.vector_index import VectorIndex
from semsearch.indexer.vector_policy import VectorIndexPolicy

DIMENSION = 384
LATENT = 64
BLOCK = 100_000
SPREAD = 0.6
NOISE = 0.13
K = 10


class ClusteredVectors:
    """`size` seeded unit vectors, produced block by block (see the module docstring)."""

    def __init__(self, size: int, seed: int = 0) -> None:
        self.size = size
        self.seed = seed
        rng = np.random.default_rng([seed, 1 << 30])
        basis, _ = np.linalg.qr(rng.standard_normal((DIMENSION, LATENT)))
        self.basis = basis.T.astype(np.float32)  # (LATENT, DIMENSION), orthonormal rows
        self.centres = rng.standard_normal((max(100, size // 1000), LATENT)).astype(np.float32)

    def draw(self, rng: np.random.Generator, rows: int) -> NDArray[np.float32]:
        latent = self.centres[rng.integers(0, len(self.centres), rows)]
        latent += SPREAD * rng.standard_normal((rows, LATENT), dtype=np.float32)
        vectors = latent @ self.basis
        vectors += NOISE * rng.standard_normal((rows, DIMENSION), dtype=np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors

    def block(self, number: int) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
        start = number * BLOCK
        rows = min(BLOCK, self.size - start)
        ids = np.arange(start + 1, start + rows + 1, dtype=np.int64)  # chunk ids start at 1
        return ids, self.draw(np.random.default_rng([self.seed, number]), rows)

    def blocks(self) -> Iterator[tuple[NDArray[np.int64], NDArray[np.float32]]]:
        for number in range((self.size + BLOCK - 1) // BLOCK):
            yield self.block(number)

    def read(self, wanted: NDArray[np.int64] | None
             ) -> Iterator[tuple[NDArray[np.int64], NDArray[np.float32]]]:
        """`build_vector_index`'s reader: every block, or the rows of sorted `wanted` ids."""
        if wanted is None:
            yield from self.blocks()
            return
        numbers = (wanted - 1) // BLOCK
        for number in np.unique(numbers):
            ids, vectors = self.block(int(number))
            rows = wanted[numbers == number] - 1 - number * BLOCK
            yield ids[rows], vectors[rows]

    def queries(self, count: int) -> NDArray[np.float32]:
        return self.draw(np.random.default_rng([self.seed, 1 << 31]), count)


def peak_rss_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM"):
                return int(line.split()[1]) * 1024
    return 0


def parse_size(text: str) -> int:
    text = text.strip().lower()
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1], 1)
    return int(float(text.rstrip("km")) * scale)


def exact_truth(data: ClusteredVectors, queries: NDArray[np.float32]) -> ExactNeighbours:
    truth = ExactNeighbours(queries, K)
    for ids, vectors in data.blocks():
        truth.update(ids, vectors)
    return truth


def latency(index: VectorIndex, queries: NDArray[np.float32]) -> dict[str, float]:
    index.search(queries[:5], K)  # warm-up: caches, the id list, first touches
    times = []
    for query in queries:
        started = time.perf_counter()
        index.search(query[None, :], K)
        times.append((time.perf_counter() - started) * 1000)
    return percentiles(times)


def batched_qps(index: VectorIndex, queries: NDArray[np.float32]) -> float:
    started = time.perf_counter()
    index.search(queries, K)
    return round(len(queries) / (time.perf_counter() - started), 1)


def measure(kind: str, data: ClusteredVectors, queries: NDArray[np.float32],
            truth: ExactNeighbours, latency_queries: int, folder: Path) -> dict[str, object]:
    gc.collect()
    started = time.perf_counter()
    index = build_vector_index(DIMENSION, np.arange(1, data.size + 1, dtype=np.int64),
                               data.read, VectorIndexPolicy(kind=kind))
    build_s = time.perf_counter() - started
    path = folder / f"{kind}-{data.size}.faiss"
    index.save(path)
    disk = path.stat().st_size
    result: dict[str, object] = {
        "kind": kind, "vectors": data.size, "info": index.info().to_dict(),
        "build_s": round(build_s, 1), "disk_bytes_per_vector": round(disk / data.size, 1),
        "peak_rss_gb": round(peak_rss_bytes() / 2**30, 2),
    }
    sample = queries[:latency_queries]
    result["recall_at_10"] = round(truth.recall(index.search(queries, K)[1]), 4)
    result["latency"] = latency(index, sample)
    result["batched_qps"] = batched_qps(index, queries)
    result["effort_sweep"] = effort_sweep(index, queries, truth, sample)
    del index
    gc.collect()
    for mapped in (False, True):
        seconds, grown = load_in_fresh_process(path, mapped)
        key = "mapped_" if mapped else ""
        result[f"load_{key}s"] = seconds
        result[f"{key}memory_bytes_per_vector"] = round(grown / data.size, 1)
    loaded = VectorIndex.load(path, mapped=True)
    result["mapped_recall_at_10"] = round(truth.recall(loaded.search(queries, K)[1]), 4)
    del loaded
    path.unlink()
    return result


_LOAD_PROBE = """
import json, os, sys, time
from pathlib import Path
from semsearch.indexer.vector_index import VectorIndex
def rss():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
before = rss()
started = time.perf_counter()
index = VectorIndex.load(Path(sys.argv[1]), mapped=sys.argv[2] == "1")
print(json.dumps([round(time.perf_counter() - started, 2), rss() - before]))
"""


def load_in_fresh_process(path: Path, mapped: bool) -> tuple[float, int]:
    """(seconds, RSS growth) of loading `path` in a new process, as a server starts.

    A fresh process, because freed memory this one keeps would hide the growth. Mapped
    pages are not counted: they come from the page cache, shared, when a search needs them.
    """
    root = Path(__file__).resolve().parent.parent
    output = subprocess.run([sys.executable, "-c", _LOAD_PROBE, str(path), str(int(mapped))],
                            cwd=root, capture_output=True, text=True, check=True).stdout
    seconds, grown = json.loads(output)
    return float(seconds), int(grown)


def effort_sweep(index: VectorIndex, queries: NDArray[np.float32], truth: ExactNeighbours,
                 sample: NDArray[np.float32]) -> list[dict[str, float]]:
    """Recall and p50 at half, one and two times the tuned search effort."""
    tuned = index.search_effort
    if not tuned:
        return []
    points = []
    for effort in sorted({max(1, tuned // 2), tuned, tuned * 2}):
        index.search_effort = effort
        points.append({"effort": effort,
                       "recall_at_10": round(truth.recall(index.search(queries, K)[1]), 4),
                       "p50_ms": latency(index, sample)["p50_ms"]})
    index.search_effort = tuned
    return points


def default_kinds(size: int) -> list[str]:
    kinds = ["flat", "hnsw", "ivf"]
    if size > 1_000_000:  # flat: 15 GB of float32 at 10M; hnsw: hours to build on 2 cores
        kinds = ["ivf"]
    return kinds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="100k,1M", help="comma-separated, k/M suffixes")
    parser.add_argument("--kinds", default="", help="flat,hnsw,ivf (default: by size)")
    parser.add_argument("--queries", type=int, default=1000, help="queries for recall")
    parser.add_argument("--latency-queries", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON")
    args = parser.parse_args()
    faiss.omp_set_num_threads(1)  # single-query latency on one core; shared machine
    results: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="bench_scale") as scratch:
        for size in [parse_size(s) for s in args.sizes.split(",")]:
            data = ClusteredVectors(size, args.seed)
            queries = data.queries(args.queries)
            started = time.perf_counter()
            truth = exact_truth(data, queries)
            print(f"{size:,} vectors: exact top-{K} of {len(queries)} queries in "
                  f"{time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
            kinds = args.kinds.split(",") if args.kinds else default_kinds(size)
            for kind in kinds:
                # Flat scans everything per query: fewer latency samples at 1M and up.
                count = min(args.latency_queries, 50 if kind == "flat" and size >= 1_000_000
                            else args.latency_queries)
                result = measure(kind, data, queries, truth, count, Path(scratch))
                results.append(result)
                print(json.dumps(result), file=sys.stderr, flush=True)
                if args.out:
                    write(args.out, results)
    print_table(
        ["vectors", "kind", "params", "build s", "disk B/v", "mem B/v", "mmap mem B/v",
         "p50 ms", "p99 ms", "batch QPS", "recall@10", "load s", "mmap load s"],
        [[r["vectors"], r["kind"], _params(r), r["build_s"], r["disk_bytes_per_vector"],
          r["memory_bytes_per_vector"], r["mapped_memory_bytes_per_vector"],
          r["latency"]["p50_ms"], r["latency"]["p99_ms"],  # type: ignore[index]
          r["batched_qps"], r["recall_at_10"], r["load_s"], r["load_mapped_s"]]
         for r in results])
    if args.out:
        write(args.out, results)


def _params(result: dict[str, object]) -> str:
    params = dict(result["info"]["params"])  # type: ignore[index]
    params.pop("metric", None)
    return ",".join(f"{k}={v}" for k, v in params.items())


def write(path: Path, results: list[dict[str, object]]) -> None:
    machine = {"cpus": os.cpu_count(), "load_average": os.getloadavg(),
               "python": platform.python_version(), "faiss": faiss.__version__,
               "faiss_threads": 1}
    path.write_text(json.dumps({"machine": machine, "results": results}, indent=1))


if __name__ == "__main__":
    main()
