"""Load test: many concurrent clients search a live `semsearch serve` while syncs run.

    python benchmarks/load_test.py                       # 32 clients, 60 s, own copy of corpus/
    python benchmarks/load_test.py --duration 10         # the short run CI does
    python benchmarks/load_test.py --url http://127.0.0.1:8000 --api-key KEY

Without --url it indexes a copy of corpus/ (or serves --index-dir), starts a server on a
free port of 127.0.0.1 and stops it at the end. Every --sync-every seconds it edits a few
files of the served folder (only a copy, or with --modify-files) and POSTs /index, so a
sync runs part of the time. Each client is a thread with its own connection; requests
are searches in all three modes, some batches, and GET /stats. Prints p50/p99 latency
per route; exits 1 when any request failed (a status other than 200, or no answer).
"""

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from bench_common import running_server

REPO = Path(__file__).resolve().parents[1]
QUERIES = ["how do I repair a flat tyre", "sourdough starter", "Mars rover landing",
           "vector search with embeddings", "长城 历史", "password protected pdf",
           "what is cosine similarity", "gardening in winter", "printing press history",
           "budget for groceries"]
ACCEPTED_SYNC_ANSWERS = (202, 409)  # started, or one already runs


@dataclass
class Results:
    """What the clients saw, shared between threads under a lock."""

    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    syncs_started: int = 0
    syncs_refused: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, route: str, seconds: float, error: str | None) -> None:
        with self.lock:
            self.latencies.setdefault(route, []).append(seconds)
            if error:
                self.errors.append(f"{route}: {error}")


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _client_loop(base: str, headers: dict[str, str], deadline: float, seed: int,
                 results: Results) -> None:
    rng = random.Random(seed)
    with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
        while time.monotonic() < deadline:
            roll = rng.random()
            if roll < 0.8:
                route = "POST /search"
                body: dict[str, object] = {"query": rng.choice(QUERIES), "k": 10,
                                           "mode": rng.choice(["dense", "lexical", "hybrid"])}
                request = ("POST", "/search", body)
            elif roll < 0.9:
                route = "POST /search/batch"
                request = ("POST", "/search/batch", {"queries": rng.sample(QUERIES, 4), "k": 5})
            else:
                route, request = "GET /stats", ("GET", "/stats", None)
            started = time.perf_counter()
            try:
                response = client.request(request[0], request[1], json=request[2])
                error = None if response.status_code == 200 else (
                    f"{response.status_code} {response.text[:200]}")
                if error is None:
                    response.json()
            except (httpx.HTTPError, ValueError) as failure:
                error = f"{type(failure).__name__}: {failure}"
            results.record(route, time.perf_counter() - started, error)


def _sync_loop(base: str, headers: dict[str, str], folder: Path | None, every: float,
               deadline: float, results: Results) -> None:
    """Edit a few files and POST /index every `every` seconds (the first at once)."""
    rng = random.Random(0)
    edit = 0
    with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
        while time.monotonic() < deadline:
            if folder is not None:
                files = sorted(p for p in folder.rglob("*")
                               if p.suffix in {".md", ".txt"} and p.is_file())
                for path in rng.sample(files, min(3, len(files))):
                    edit += 1
                    with open(path, "a", encoding="utf-8") as handle:
                        handle.write(f"\n\nLoad test edit {edit}: re-encode this file.\n")
            started = time.perf_counter()
            try:
                response = client.post("/index", json={})
                status = response.status_code
            except httpx.HTTPError as failure:
                status, response = 0, None
                results.record("POST /index", time.perf_counter() - started, str(failure))
            else:
                error = None if status in ACCEPTED_SYNC_ANSWERS else (
                    f"{status} {response.text[:200]}")
                results.record("POST /index", time.perf_counter() - started, error)
            with results.lock:
                results.syncs_started += status == 202
                results.syncs_refused += status == 409
            time.sleep(max(0.0, min(every, deadline - time.monotonic())))


def run_load(base: str, headers: dict[str, str], folder: Path | None, clients: int,
             duration: float, sync_every: float) -> Results:
    results = Results()
    deadline = time.monotonic() + duration
    threads = [threading.Thread(target=_client_loop, args=(base, headers, deadline, n, results))
               for n in range(clients)]
    threads.append(threading.Thread(target=_sync_loop, args=(base, headers, folder, sync_every,
                                                             deadline, results)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def summary(results: Results, duration: float, clients: int) -> dict[str, object]:
    routes = {}
    for route, values in sorted(results.latencies.items()):
        routes[route] = {"requests": len(values),
                         "p50_ms": round(statistics.median(values) * 1000, 1),
                         "p99_ms": round(_percentile(values, 0.99) * 1000, 1)}
    total = sum(len(v) for v in results.latencies.values())
    return {"clients": clients, "duration_s": duration, "requests": total,
            "requests_per_s": round(total / duration, 1), "errors": len(results.errors),
            "first_errors": results.errors[:5], "syncs_started": results.syncs_started,
            "syncs_refused_while_running": results.syncs_refused, "routes": routes}


def _semsearch(*args: str) -> list[str]:
    return [sys.executable, "-m", "semsearch", *args]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="a running server; else one is started")
    parser.add_argument("--index-dir", type=Path, help="serve this index (default: index a "
                        "copy of corpus/)")
    parser.add_argument("--modify-files", action="store_true",
                        help="edit files of --index-dir's folder to force re-encoding")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds")
    parser.add_argument("--sync-every", type=float, default=15.0, help="seconds")
    parser.add_argument("--workers", type=int, default=1, help="server worker processes")
    parser.add_argument("--api-key", help="admin key of the server, if it has one")
    parser.add_argument("--json", action="store_true", help="print only the JSON summary")
    args = parser.parse_args()
    headers = {"Authorization": f"Bearer {args.api_key}"} if args.api_key else {}
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEMSEARCH_")}
    env.update(TOKENIZERS_PARALLELISM="false", PYTHONPATH=str(REPO))
    server_env = {"TOKENIZERS_PARALLELISM": "false", "PYTHONPATH": str(REPO)}
    if args.api_key:
        server_env["SEMSEARCH_API_KEY"] = args.api_key
    work = Path(tempfile.mkdtemp(prefix="semsearch-load-"))
    with ExitStack() as stack:
        stack.callback(shutil.rmtree, work, ignore_errors=True)
        folder: Path | None = None
        if args.url:
            base = args.url.rstrip("/")
        else:
            index_dir = args.index_dir
            if index_dir is None:
                folder, index_dir = work / "corpus", work / "index"
                shutil.copytree(REPO / "corpus", folder)
                subprocess.run(_semsearch("index", str(folder), "--index-dir", str(index_dir)),
                               cwd=REPO, env=env, check=True, stdout=subprocess.DEVNULL)
            _, base = stack.enter_context(running_server(
                index_dir, work / "server.log", args.workers, 300.0, server_env))
        if folder is None and args.modify_files:
            folder = Path(httpx.get(base + "/stats", headers=headers, timeout=60).json()["root"])
        results = run_load(base, headers, folder, args.clients, args.duration, args.sync_every)
        report = summary(results, args.duration, args.clients)
    if args.json:
        print(json.dumps(report))
    else:
        print(f"{report['clients']} clients, {args.duration:.0f} s: {report['requests']} "
              f"requests ({report['requests_per_s']}/s), {report['errors']} errors, "
              f"{report['syncs_started']} syncs started")
        for route, numbers in report["routes"].items():  # type: ignore[attr-defined]
            print(f"  {route:20} {numbers['requests']:6d} requests  p50 {numbers['p50_ms']:7.1f}"
                  f" ms  p99 {numbers['p99_ms']:7.1f} ms")
        for error in report["first_errors"]:  # type: ignore[attr-defined]
            print("  error:", error)
    return 1 if report["errors"] or not report["requests"] else 0


if __name__ == "__main__":
    sys.exit(main())
