"""POST /search side by side on several servers: the cost of HTTP outside the searcher.

Each `--variant NAME=HTTP,LOOP[,SOURCE]` starts a server like `semsearch serve` (same
app, same logging) with uvicorn's HTTP parser (`h11`, `httptools`) and event loop
(`asyncio`, `uvloop`) chosen, and, with SOURCE, the `semsearch` package imported from
that folder instead of this checkout (a copy of another commit: see below). The same
queries are then sent to every server in turn, the order swapped on each query, so that a
loaded machine slows all of them alike. Per variant: client wall p50 / p99, "outside"
(client wall less the server's `timings_ms.total`), the server's CPU time per request
(all threads, from /proc) and that of its event-loop thread alone.

A copy of another commit that imports as `semsearch` (the layout pyproject's package-dir
makes):

  git archive COMMIT semsearch indexer search api | tar -x -C /tmp/old
  cd /tmp/old && mkdir pkg && mv semsearch pkg/ && mv indexer search api pkg/semsearch/

Run:
  python benchmarks/bench_http.py PATH/TO/scifact --index /tmp/scifact/index \\
      --variant before=h11,asyncio,/tmp/old/pkg --variant after=httptools,uvloop
Options: [--mode hybrid] [--n 300] [--k 10]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench_common import free_port, percentiles, print_table
from bench_query import MODES, deal_queries, process_cpu_s

SERVE = """import sys, uvicorn
from semsearch.api.metrics import log_config
uvicorn.run("semsearch.api.app:create_app", factory=True, host="127.0.0.1",
            port=int(sys.argv[1]), log_level="info", log_config=log_config(),
            access_log=False, http=sys.argv[2], loop=sys.argv[3])
"""


@dataclass
class Variant:
    """One server: its settings, and what was measured of it."""

    name: str
    http: str
    loop: str
    source: str | None = None
    walls: list[float] = field(default_factory=list)
    outside: list[float] = field(default_factory=list)

    @classmethod
    def parse(cls, text: str) -> Variant:
        name, _, spec = text.partition("=")
        http, loop, *source = spec.split(",")
        return cls(name, http, loop, source[0] if source else None)


def loop_thread_cpu_s(pid: int) -> float:
    """CPU seconds of process `pid`'s main thread: the event loop's (Linux)."""
    fields = Path(f"/proc/{pid}/task/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def started(variant: Variant, index: Path, log: Path) -> Iterator[tuple[int, Any]]:
    """The variant's server and an httpx client of it, (pid, client); stopped on exit."""
    import httpx

    env = {k: v for k, v in os.environ.items() if not k.startswith("SEMSEARCH_")}
    env.update(SEMSEARCH_INDEX_DIR=str(index), SEMSEARCH_DEVICE="cpu")
    if variant.source:
        env["PYTHONPATH"] = variant.source
    port = free_port()
    with log.open("wb") as out:
        server = subprocess.Popen([sys.executable, "-c", SERVE, str(port), variant.http,
                                   variant.loop], env=env, stdout=out, stderr=subprocess.STDOUT)
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60.0)
    try:
        for _ in range(360):
            if server.poll() is not None:
                raise RuntimeError(f"{variant.name}: server exited; see {log}")
            try:
                if client.get("/health").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        yield server.pid, client
    finally:
        client.close()
        server.terminate()
        server.wait(timeout=20)


def measure(servers: list[tuple[Variant, int, Any]], texts: list[str], mode: str,
            k: int) -> dict[str, dict[str, float]]:
    """Send each text to every server, in turn; per variant, the CPU times per request."""
    def post(client: Any, text: str) -> Any:
        return client.post("/search", json={"query": text, "k": k, "mode": mode})

    cpu = {v.name: (process_cpu_s(pid), loop_thread_cpu_s(pid)) for v, pid, _ in servers}
    for number, text in enumerate(texts):
        for variant, _, client in servers[::1 if number % 2 == 0 else -1]:
            started_at = time.perf_counter()
            response = post(client, text)
            wall = (time.perf_counter() - started_at) * 1000
            response.raise_for_status()
            variant.walls.append(wall)
            variant.outside.append(wall - float(response.json()["timings_ms"]["total"]))
    return {v.name: {"server": (process_cpu_s(pid) - cpu[v.name][0]) * 1000 / len(texts),
                     "loop": (loop_thread_cpu_s(pid) - cpu[v.name][1]) * 1000 / len(texts)}
            for v, pid, _ in servers}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", type=Path, help="a BEIR folder (its queries are sent)")
    parser.add_argument("--index", type=Path, required=True, help="the index directory")
    parser.add_argument("--variant", action="append", required=True,
                        help="NAME=HTTP,LOOP[,SOURCE], once per server")
    parser.add_argument("--mode", choices=MODES, default="hybrid")
    parser.add_argument("--n", type=int, default=300, help="queries")
    parser.add_argument("--k", type=int, default=10)
    args = parser.parse_args()

    variants = [Variant.parse(text) for text in args.variant]
    dealt, warmup = deal_queries(args.dataset, args.n)
    with ExitStack() as stack:
        servers = [(v, *stack.enter_context(started(
            v, args.index, Path(f"/tmp/bench_http.{v.name}.log")))) for v in variants]
        time.sleep(5)  # the BM25 postings are built in the background after start-up
        for _, _, client in servers:
            for text in warmup[:30]:
                client.post("/search", json={"query": text, "k": args.k, "mode": args.mode})
        cpu = measure(servers, dealt[args.mode], args.mode, args.k)
    first = variants[0]
    print(f"\nPOST /search, {args.mode}, k={args.k}, {len(dealt[args.mode])} queries sent to "
          f"each server in turn (load average {os.getloadavg()[0]:.1f}):")
    print_table(["variant", "http", "loop", "wall p50", "wall p99", "outside p50",
                 "outside p50 ratio", "server CPU ms/req", "ratio", "event loop CPU ms/req"],
                [[v.name, v.http, v.loop, percentiles(v.walls)["p50_ms"],
                  percentiles(v.walls)["p99_ms"], percentiles(v.outside)["p50_ms"],
                  round(percentiles(v.outside)["p50_ms"] / percentiles(first.outside)["p50_ms"],
                        3), round(cpu[v.name]["server"], 2),
                  round(cpu[v.name]["server"] / cpu[first.name]["server"], 3),
                  round(cpu[v.name]["loop"], 2)] for v in variants])


if __name__ == "__main__":
    main()
