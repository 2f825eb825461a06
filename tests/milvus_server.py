"""A real Milvus-protocol server for the scale tests: `milvus-lite server` on 127.0.0.1.

Its default host is 0.0.0.0, so `--host 127.0.0.1` is always passed. The server is
stopped by its pid (never by name).
"""

import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.live_server import free_port

START_TIMEOUT = 120  # seconds; a safety net for a busy machine


def milvus_lite_command() -> str:
    """The `milvus-lite` script of this interpreter's environment."""
    script = Path(sys.executable).parent / "milvus-lite"
    found = str(script) if script.exists() else shutil.which("milvus-lite")
    if found is None:
        raise RuntimeError("milvus-lite is not installed: pip install -e '.[dev]'")
    return found


@contextmanager
def milvus_lite_server(data_dir: Path) -> Iterator[str]:
    """Run `milvus-lite server` over `data_dir` on a free port; yield its URI."""
    port = free_port()
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [milvus_lite_command(), "server", "--host", "127.0.0.1", "--port", str(port),
         "--data-dir", str(data_dir)],
        stdout=log, stderr=subprocess.STDOUT)
    try:
        uri = f"http://127.0.0.1:{port}"
        _wait_until_listening(process, port, log)
        _wait_until_answering(uri)
        yield uri
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _wait_until_listening(process: subprocess.Popen[bytes], port: int,
                          log: "tempfile._TemporaryFileWrapper[bytes]") -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            raise RuntimeError("milvus-lite server exited: " + log.read().decode(errors="replace"))
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"milvus-lite server did not listen on 127.0.0.1:{port}")


def _wait_until_answering(uri: str) -> None:
    """A first request through pymilvus: the gRPC service is up, not just the socket."""
    from pymilvus import MilvusClient

    from semsearch.indexer.milvus_store import GRPC_OPTIONS

    client = MilvusClient(uri=uri, timeout=START_TIMEOUT, grpc_options=GRPC_OPTIONS,
                          dedicated=True)
    try:
        client.list_collections()
    finally:
        client.close()
