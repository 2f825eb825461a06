"""A real `semsearch serve` on a free port of 127.0.0.1, for the HTTP tests and the load test."""

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
START_TIMEOUT = 300  # seconds; a safety net: model loading on a busy machine is slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(index_dir: Path, env: dict[str, str] | None = None,
                 workers: int = 1) -> tuple[subprocess.Popen[bytes], str]:
    """Start `semsearch serve` over `index_dir`; return (process, base URL) once /health
    answers. `env` adds SEMSEARCH_* variables; those of the calling process are dropped,
    but for the session's ONNX export folder (SEMSEARCH_CACHE_DIR)."""
    port = free_port()
    child_env = {k: v for k, v in os.environ.items()
                 if not k.startswith("SEMSEARCH_") or k == "SEMSEARCH_CACHE_DIR"}
    child_env.update(SEMSEARCH_INDEX_DIR=str(index_dir), TOKENIZERS_PARALLELISM="false",
                     PYTHONPATH=str(REPO), **(env or {}))
    # A file, not a pipe: a pipe nobody reads would stall a server that logs a lot.
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop_server
    process = subprocess.Popen(
        [sys.executable, "-m", "semsearch", "serve", "--port", str(port),
         "--workers", str(workers)],
        cwd=REPO, env=child_env, stdout=subprocess.DEVNULL, stderr=log,
    )
    process.log = log  # type: ignore[attr-defined]
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(stop_server(process))
        try:
            if httpx.get(base + "/health", timeout=1).status_code == 200:
                return process, base
        except httpx.HTTPError:
            time.sleep(0.3)
    stop_server(process)
    raise RuntimeError("server did not start")


def stop_server(process: subprocess.Popen[bytes]) -> str:
    """Stop the server; return what it wrote to stderr."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=30)
    log = process.log  # type: ignore[attr-defined]
    log.seek(0)
    text = log.read().decode(errors="replace")
    log.close()
    return text
