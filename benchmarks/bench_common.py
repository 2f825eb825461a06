"""Helpers the benchmark scripts share: statistics, tables, memory, index reading, a server.

Loading BEIR data and scoring rankings are not here: the scripts use `search.evaluate`
(`load_beir`, `write_corpus_files`, `beir_doc_id`, `score_run`), the same code as
`semsearch eval`, so a benchmark and the CLI can never score differently. Not a script.
"""

from __future__ import annotations

import math
import os
import resource
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from semsearch.indexer.store import DB_NAME


def percentiles(values_ms: Sequence[float]) -> dict[str, float]:
    """p50, p99 (nearest-rank), mean and max of latencies in ms, plus QPS (1000/mean)."""
    ordered = sorted(values_ms)
    if not ordered:
        return {"n": 0}

    def rank(p: float) -> float:
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]

    mean = sum(ordered) / len(ordered)
    return {"n": len(ordered), "p50_ms": round(rank(50), 2), "p99_ms": round(rank(99), 2),
            "mean_ms": round(mean, 2), "max_ms": round(ordered[-1], 2),
            "qps": round(1000.0 / mean, 2) if mean > 0 else 0.0}


def spread(values: Sequence[float], digits: int = 2) -> dict[str, float]:
    """Median, min and max of repeated measurements (rounds of a benchmark)."""
    if not values:
        return {"n": 0}
    return {"n": len(values), "median": round(statistics.median(values), digits),
            "min": round(min(values), digits), "max": round(max(values), digits)}


def print_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """A plain, aligned text table on stdout."""
    cells = [[str(h) for h in headers]] + [[_format(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        print("  ".join(c.rjust(w) if n and i else c.ljust(w)
                        for i, (c, w) in enumerate(zip(row, widths, strict=True))))
        if n == 0:
            print("  ".join("-" * w for w in widths))


def _format(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) <= 1 else f"{value:.2f}"
    return str(value)


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB (Linux reports KiB)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


def current_rss_mb() -> float | None:
    """Resident set size of this process now, in MiB (None where /proc is missing)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def read_chunks(index_dir: Path) -> tuple[list[int], list[str], NDArray[np.float32]]:
    """Chunk ids, texts and stored embeddings of an index, in chunk id order, read-only."""
    connection = sqlite3.connect(f"file:{index_dir / DB_NAME}?mode=ro", uri=True)
    try:
        rows = connection.execute("SELECT id, text, embedding FROM chunks ORDER BY id").fetchall()
    finally:
        connection.close()
    ids = [int(row[0]) for row in rows]
    texts = [str(row[1]) for row in rows]
    if not rows:
        return ids, texts, np.zeros((0, 0), dtype=np.float32)
    vectors = np.stack([np.frombuffer(row[2], dtype=np.float32) for row in rows])
    return ids, texts, vectors


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def peak_rss_of(pid: int) -> float | None:
    """Peak resident set size (VmHWM) of a running process, in MiB; None if unknown."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


@contextmanager
def running_server(index_dir: Path, log_path: Path, workers: int = 1,
                   startup_s: float = 180.0, env: dict[str, str] | None = None,
                   ) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`semsearch serve` over `index_dir` on a free port of 127.0.0.1: (process, base URL).

    Waits for /health; stops the server on exit. SEMSEARCH_* variables of this process
    are not passed on (an API key would make every request a 401), except the device;
    `env` adds variables (an API key the client will send, say).
    """
    import httpx

    port = free_port()
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("SEMSEARCH_")}
    child_env["SEMSEARCH_DEVICE"] = os.environ.get("SEMSEARCH_DEVICE", "cpu")
    child_env.update(env or {})
    command = [sys.executable, "-m", "semsearch", "serve", "--index-dir",
               str(index_dir), "--port", str(port), "--workers", str(workers)]
    base = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log:
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                  env=child_env)
    try:
        deadline = time.monotonic() + startup_s
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"server exited with {server.returncode}; see {log_path}")
            try:
                if httpx.get(base + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"/health not ready after {startup_s:.0f} s; see {log_path}")
            time.sleep(0.5)
        yield server, base
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
