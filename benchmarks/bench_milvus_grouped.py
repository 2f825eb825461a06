"""Where a grouped search against Milvus spends its time, and two code trees side by side.

A grouped search (`group_by="document"`, k=100, no highlights: what `semsearch eval`
runs) is timed per stage (the Searcher's `timings_ms`) and per request to Milvus: every
gRPC call of the client (Query, Search, ...) is wrapped, counted, timed and its answer's
size taken, under the semsearch function that made it. Each tree runs in a worker
process of its own; the driver deals the queries to the workers in turn (query i to
every worker before query i + 1, the order swapped each round), so a noisy machine
slows them alike, and checks that every tree gives the same hits and scores.

A tree is a folder holding `semsearch/`, `indexer/`, `search/` and `api/` (a checkout:
`git archive COMMIT | tar -x -C DIR`); the default is this repository. Run against a
store built by `semsearch index DOCS --milvus URI --collection NAME`:
  python benchmarks/bench_milvus_grouped.py PATH/TO/scifact --uri http://127.0.0.1:19530 \
      --collection scifact --n 30 --rounds 2 --tree /tmp/old --tree .
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PACKAGES = {"semsearch": "semsearch", "indexer": "indexer", "search": "search", "api": "api"}


# --- worker ---------------------------------------------------------------------------
def _caller() -> str:
    """The innermost semsearch functions on the stack that asked for a request: the
    first outside the store's generic helpers, after the helper it called."""
    frame = sys._getframe(2)
    names: list[str] = []
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module.startswith("semsearch.") and "milvus" in module:
            names.append(getattr(frame.f_code, "co_qualname", frame.f_code.co_name))
            if module.rsplit(".", 1)[-1] not in ("milvus_store", "milvus_terms"):
                break
        frame = frame.f_back
    return " < ".join(names[-2:]) if names else "?"


class _Requests:
    """Counts, times and sizes every call on the gRPC stub of a MilvusClient."""

    def __init__(self, client: Any) -> None:
        self.calls: list[tuple[str, str, float, int]] = []
        stub = client._get_connection()._stub
        for method in ("Query", "Search", "HybridSearch"):
            setattr(stub, method, self._wrapped(method, getattr(stub, method)))

    def _wrapped(self, method: str, call: Any) -> Any:
        def timed(request: Any, *args: Any, **kwargs: Any) -> Any:
            caller = _caller()
            started = time.perf_counter()
            response = call(request, *args, **kwargs)
            elapsed = (time.perf_counter() - started) * 1000
            self.calls.append((caller, method, elapsed, response.ByteSize()))
            return response
        return timed


def worker(uri: str, collection: str, k: int, mode: str) -> None:
    """Answer query texts read from stdin, one JSON line each on stdout."""
    from semsearch.indexer.milvus_store import MilvusTarget
    from semsearch.search.milvus_searcher import MilvusSearcher
    from semsearch.search.options import SearchOptions

    searcher = MilvusSearcher(MilvusTarget(uri, collection))
    requests = _Requests(searcher.reader.milvus.client)  # type: ignore[attr-defined]
    options = SearchOptions(k=k, mode=mode, group_by="document", highlight=False)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        query = json.loads(line)
        requests.calls.clear()
        started = time.perf_counter()
        response = searcher.search(query, options)
        total = (time.perf_counter() - started) * 1000
        print(json.dumps({
            "total": total, "stages": response.timings_ms, "calls": requests.calls,
            "hits": [(hit.path, round(hit.score, 5)) for hit in response.results]}),
            flush=True)
    searcher.close()


# --- driver ---------------------------------------------------------------------------
def _tree_path(tree: Path, work: Path) -> str:
    """A PYTHONPATH entry that makes `semsearch` (and its subpackages) the tree's."""
    root = work / f"tree{len(list(work.iterdir()))}" / "semsearch"
    root.mkdir(parents=True)
    for item in (tree / "semsearch").iterdir():
        (root / item.name).symlink_to(item.resolve())
    for package in ("indexer", "search", "api"):
        (root / package).symlink_to((tree / package).resolve())
    return str(root.parent)


def _start(tree: Path, work: Path, args: argparse.Namespace) -> subprocess.Popen[str]:
    path = _tree_path(tree, work)
    process = subprocess.Popen(
        [sys.executable, __file__, "--worker", "--uri", args.uri, "--collection",
         args.collection, "--k", str(args.k), "--mode", args.mode],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": path})
    assert process.stdout is not None
    json.loads(process.stdout.readline())  # ready
    return process


def _ask(process: subprocess.Popen[str], query: str) -> dict[str, Any]:
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(json.dumps(query) + "\n")
    process.stdin.flush()
    answer: dict[str, Any] = json.loads(process.stdout.readline())
    return answer


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report(name: str, runs: list[dict[str, Any]]) -> None:
    """p50 / p95 per query and per stage; requests per query by caller."""
    totals = [run["total"] for run in runs]
    print(f"\n== {name}: {len(runs)} queries, total p50 {_p(totals, .5):.1f} ms, "
          f"p95 {_p(totals, .95):.1f} ms")
    stages = sorted({stage for run in runs for stage in run["stages"]})
    for stage in stages:
        values = [run["stages"].get(stage, 0.0) for run in runs]
        print(f"  stage {stage:<10} p50 {_p(values, .5):8.1f}  p95 {_p(values, .95):8.1f} ms")
    by_caller: dict[tuple[str, str], list[tuple[float, int]]] = defaultdict(list)
    for run in runs:
        for caller, method, ms, size in run["calls"]:
            by_caller[(caller, method)].append((ms, size))
    print(f"  requests per query: {statistics.mean(len(r['calls']) for r in runs):.1f}")
    for (caller, method), calls in sorted(by_caller.items(), key=lambda i: -sum(
            ms for ms, _ in i[1])):
        print(f"    {caller:<45} {method:<7} {len(calls) / len(runs):5.1f}/query "
              f"{sum(ms for ms, _ in calls) / len(runs):8.1f} ms/query "
              f"{sum(size for _, size in calls) / len(runs) / 1e6:7.2f} MB/query")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dataset", type=Path, nargs="?")
    parser.add_argument("--uri", required=True)
    parser.add_argument("--collection", required=True)
    parser.add_argument("--n", type=int, default=30, help="test queries")
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--mode", default="hybrid")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--tree", type=Path, action="append",
                        help="a code tree to time (repeatable); default: this repository")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.uri, args.collection, args.k, args.mode)
        return
    from semsearch.search.evaluate import load_beir

    queries = list(load_beir(args.dataset).queries.values())[:args.n]
    trees = args.tree or [REPO]
    with tempfile.TemporaryDirectory() as work:
        workers = [_start(tree, Path(work), args) for tree in trees]
        for process in workers:  # warm: the model, the first requests
            _ask(process, queries[0])
        runs: list[list[dict[str, Any]]] = [[] for _ in trees]
        for round_number in range(args.rounds):
            for query in queries:
                order = list(range(len(trees)))[::-1 if round_number % 2 else 1]
                answers = {i: _ask(workers[i], query) for i in order}
                for i in order:
                    runs[i].append(answers[i])
                if any(answers[i]["hits"] != answers[0]["hits"] for i in order):
                    print(f"DIFFERENT HITS for {query!r}")
        for process in workers:
            assert process.stdin is not None
            process.stdin.close()
            process.wait()
    for tree, tree_runs in zip(trees, runs, strict=True):
        report(str(tree), tree_runs)
    if len(trees) > 1:
        ratios = [new["total"] / old["total"] for old, new in zip(runs[0], runs[-1],
                                                                   strict=True)]
        print(f"\nper query, last tree / first: median {statistics.median(ratios):.3f}")


if __name__ == "__main__":
    main()
