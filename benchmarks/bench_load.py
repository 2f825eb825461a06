"""Throughput of `semsearch serve` under concurrent load, with locust, per search mode.

Starts `semsearch serve` over an index on a free port of 127.0.0.1, sends a few warm-up
requests, then for each mode runs locust headless (benchmarks/locust_search.py) with
`--users` closed-loop clients (each sends its next POST /search as soon as the last one
is answered) for `--duration` seconds. The dataset's queries (all its qrels splits) are
dealt out, disjoint, to the modes and, within a mode, to the users, so a query is sent
twice (and may then come from the server's embedding cache) only after all of the
mode's queries were sent; `repeats` counts such requests.
Reported per mode: requests, failures (non-200 or no results list), requests/s, and the
p50 / p95 / p99 / max latency in ms as locust measures it (locust rounds times above
100 ms to 2 significant digits), and the server's peak RSS. Everything stops by itself:
locust after the duration, the server when the script ends.

This is a throughput benchmark (the reliability tests hold a load test with a sync
running). On a 2-core machine locust and the server share the cores.

Run (locust comes with the `bench` extra):
  python benchmarks/bench_load.py /path/to/scifact --index /tmp/scifact-bench/index \
      --users 16 --duration 30 --modes hybrid,dense --out /tmp/bench_load.json
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from bench_common import peak_rss_of, print_table, running_server

LOCUSTFILE = Path(__file__).with_name("locust_search.py")


def read_locust_stats(prefix: Path) -> dict[str, Any]:
    """The `Aggregated` row of locust's `PREFIX_stats.csv`, as numbers."""
    with Path(f"{prefix}_stats.csv").open(newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row["Name"] == "Aggregated"]
    if not rows:
        raise RuntimeError(f"no Aggregated row in {prefix}_stats.csv")
    row = rows[0]

    def number(key: str) -> float:
        value = row.get(key, "")
        return float(value) if value not in ("", "N/A") else float("nan")

    return {"requests": int(number("Request Count")), "failures": int(number("Failure Count")),
            "rps": round(number("Requests/s"), 2), "p50_ms": number("50%"),
            "p95_ms": number("95%"), "p99_ms": number("99%"), "max_ms": number("100%"),
            "mean_ms": round(number("Average Response Time"), 1)}


def run_locust(base: str, mode: str, queries_file: Path, args: argparse.Namespace,
               work: Path) -> dict[str, Any]:
    """One headless locust run against `base`; returns its aggregated statistics."""
    prefix = work / f"locust-{mode}"
    command = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
               "--host", base, "-u", str(args.users), "-r", str(args.users),
               "-t", f"{args.duration}s", "--stop-timeout", "10", "--csv", str(prefix),
               "--only-summary", "--loglevel", "WARNING", "--exit-code-on-error", "0",
               "--mode", mode, "--k", str(args.k), "--queries-file", str(queries_file)]
    log_path = work / f"locust-{mode}.log"
    with log_path.open("w") as log:
        # Bounded twice: locust's -t, and this timeout should locust itself hang.
        finished = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT,
                                  timeout=args.duration + 120)
    if finished.returncode != 0:
        tail = log_path.read_text(errors="replace").splitlines()[-15:]
        raise RuntimeError(f"locust exited with {finished.returncode}:\n" + "\n".join(tail))
    return read_locust_stats(prefix)


# Not in any dataset: warming the server up caches nothing the measured runs send.
WARMUP_QUERIES = ["warm-up request about proteins", "warm-up request about cells",
                  "warm-up request about vaccines"]


def warm_up(base: str, modes: list[str], k: int) -> None:
    with httpx.Client(base_url=base, timeout=120) as client:
        for mode in modes:
            for query in WARMUP_QUERIES:
                client.post("/search", json={"query": query, "k": k, "mode": mode})


def all_queries(dataset: Path) -> list[str]:
    """The distinct texts of the queries judged in any of the dataset's qrels splits."""
    from semsearch.search.evaluate import load_beir

    texts: dict[str, None] = {}
    for split in sorted(path.stem for path in (dataset / "qrels").glob("*.tsv")):
        texts.update(dict.fromkeys(load_beir(dataset, split).queries.values()))
    return list(texts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", type=Path, help="BEIR folder: its test queries are sent")
    parser.add_argument("--index", type=Path, default=Path("/tmp/scifact-bench/index"))
    parser.add_argument("--users", type=int, default=16, help="concurrent clients")
    parser.add_argument("--duration", type=int, default=30, help="seconds per mode")
    parser.add_argument("--modes", default="hybrid,dense")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--workers", type=int, default=1, help="`semsearch serve --workers`")
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench_load.json"))
    args = parser.parse_args()
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    queries = all_queries(args.dataset)

    with tempfile.TemporaryDirectory(prefix="bench-load-") as scratch:
        work = Path(scratch)
        results: dict[str, Any] = {}
        print(f"starting semsearch serve over {args.index} ...", flush=True)
        with running_server(args.index, work / "server.log", args.workers) as (server, base):
            warm_up(base, modes, args.k)
            for number, mode in enumerate(modes):
                mine = queries[number::len(modes)]
                queries_file = work / f"queries-{mode}.json"
                queries_file.write_text(json.dumps(mine))
                print(f"{mode}: {args.users} users for {args.duration} s, {len(mine)} "
                      f"distinct queries ...", flush=True)
                started = time.perf_counter()
                results[mode] = run_locust(base, mode, queries_file, args, work)
                results[mode]["wall_s"] = round(time.perf_counter() - started, 1)
                results[mode]["distinct_queries"] = len(mine)
                results[mode]["repeats"] = max(0, results[mode]["requests"] - len(mine))
                results[mode]["server_peak_rss_mb"] = peak_rss_of(server.pid)
                print(f"  {results[mode]['rps']} req/s, p50 {results[mode]['p50_ms']} ms, "
                      f"p99 {results[mode]['p99_ms']} ms, failures "
                      f"{results[mode]['failures']}", flush=True)

    print(f"\nPOST /search k={args.k}, {args.users} concurrent clients, {args.duration} s per "
          f"mode, {args.workers} server worker(s), {os.cpu_count()} CPUs")
    print_table(["mode", "requests", "repeats", "failures", "req/s", "p50 ms", "p95 ms",
                 "p99 ms", "max ms", "server peak RSS MiB"],
                [[mode, r["requests"], r["repeats"], r["failures"], r["rps"], r["p50_ms"],
                  r["p95_ms"], r["p99_ms"], r["max_ms"], r["server_peak_rss_mb"]]
                 for mode, r in results.items()])
    report = {"dataset": str(args.dataset), "index": str(args.index), "users": args.users,
              "duration_s": args.duration, "k": args.k, "workers": args.workers,
              "cpus": os.cpu_count(), "loadavg_1m": round(os.getloadavg()[0], 2),
              "modes": results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
