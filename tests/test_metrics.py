"""Request logging and GET /metrics (api/metrics.py) on a live `semsearch serve`."""

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from semsearch.api.app import create_app
from semsearch.indexer.encoders import Encoder, EncoderSpec
from semsearch.indexer.sync import SyncOptions, sync_folder
from semsearch.settings import Settings
from tests.live_server import start_server, stop_server

API_KEY = "metrics-key"
DOCS = {
    "bread.md": "# Sourdough\n\nA sourdough starter ferments flour and water.",
    "bike.txt": "Bicycle repair. Patch the inner tube and pump the tyre back up.",
    "space.md": "# Mars\n\nThe Perseverance rover landed in Jezero crater in 2021.",
}
# The one line per request: method, route template, status, milliseconds.
REQUEST_LINE = re.compile(r"^INFO:\s+(?P<method>[A-Z]+) (?P<route>\S+) (?P<status>\d{3}) "
                          r"(?P<ms>\d+\.\d)ms$")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def folder_and_index(tmp_path_factory: pytest.TempPathFactory,
                     encoder: Encoder) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("metrics-docs")
    for path, text in DOCS.items():
        (root / path).write_text(text, encoding="utf-8")
    index_dir = tmp_path_factory.mktemp("metrics-index")
    sync_folder(root, index_dir, EncoderSpec.of(encoder), SyncOptions())
    return root, index_dir


class Served:
    """A live server of this module; `stop` ends it once and returns its stderr."""

    def __init__(self, index_dir: Path) -> None:
        self.process, self.base = start_server(index_dir, {"SEMSEARCH_API_KEY": API_KEY})
        self.log: str | None = None

    def stop(self) -> str:
        if self.log is None:
            self.log = stop_server(self.process)
        return self.log


@pytest.fixture(scope="module")
def served(folder_and_index: tuple[Path, Path]) -> Iterator[Served]:
    server = Served(folder_and_index[1])
    yield server
    server.stop()


def _client(base: str) -> httpx.Client:
    return httpx.Client(base_url=base, timeout=60,
                        headers={"Authorization": f"Bearer {API_KEY}"})


def _scrape(base: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics as {(name, sorted labels): value}."""
    response = _client(base).get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def _requests(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float],
              method: str, route: str, status: int) -> float:
    labels = (("method", method), ("route", route), ("status", str(status)))
    return samples.get(("semsearch_http_requests_total", labels), 0.0)


def test_metrics_need_the_key_and_refusals_are_counted(served: Served) -> None:
    base = served.base
    before = _scrape(base)
    assert httpx.get(base + "/metrics").status_code == 401
    assert httpx.get(base + "/metrics", headers={"Authorization": "Bearer wrong"}
                     ).status_code == 401
    after = _scrape(base)
    # Refused before routing, so without a route template.
    assert (_requests(after, "GET", "unmatched", 401)
            - _requests(before, "GET", "unmatched", 401)) == 2


def test_requests_are_counted_by_route_template_and_timed(
        served: Served) -> None:
    base = served.base
    before = _scrape(base)
    client = _client(base)
    doc_id = client.post("/search", json={"query": "sourdough", "k": 1}).json()[
        "results"][0]["doc_id"]
    for query in ("bicycle tyre", "Mars rover"):
        assert client.post("/search", json={"query": query}).status_code == 200
    assert client.post("/search", json={"query": ""}).status_code == 422
    assert client.get(f"/documents/{doc_id}").status_code == 200
    assert client.get("/documents/987654").status_code == 404
    assert client.get("/no/such/page").status_code == 404
    after = _scrape(base)

    def grew(method: str, route: str, status: int) -> float:
        return _requests(after, method, route, status) - _requests(before, method, route, status)

    assert grew("POST", "/search", 200) == 3
    assert grew("POST", "/search", 422) == 1
    assert grew("GET", "/documents/{doc_id}", 200) == 1
    assert grew("GET", "/documents/{doc_id}", 404) == 1
    assert grew("GET", "unmatched", 404) == 1
    assert grew("GET", "/metrics", 200) == 1  # the first scrape, seen by the second
    latency = ("semsearch_http_request_duration_seconds_count", (("route", "/search"),))
    assert after[latency] - before.get(latency, 0.0) == 4
    assert after[("semsearch_http_request_duration_seconds_sum", (("route", "/search"),))] > 0
    inf_bucket = ("semsearch_http_request_duration_seconds_bucket",
                  (("le", "+Inf"), ("route", "/search")))
    assert after[inf_bucket] == after[latency]
    assert not any("987654" in str(labels) for _, labels in after)


def test_index_size_and_sync_progress(served: Served,
                                      folder_and_index: tuple[Path, Path]) -> None:
    base = served.base
    root, _ = folder_and_index
    samples = _scrape(base)
    assert samples[("semsearch_index_documents", ())] == len(DOCS)
    chunks = _client(base).get("/stats").json()["chunks"]
    assert samples[("semsearch_index_chunks", ())] == chunks
    assert samples[("semsearch_sync_running", ())] == 0
    assert ("semsearch_sync_last_duration_seconds", ()) not in samples  # none ran yet

    (root / "tea.md").write_text("# Tea\n\nBrew green tea at eighty degrees.", encoding="utf-8")
    client = _client(base)
    assert client.post("/index", json={}).status_code == 202
    deadline = time.monotonic() + 120
    while client.get("/index/status").json()["running"] and time.monotonic() < deadline:
        time.sleep(0.2)
    status = client.get("/index/status").json()
    samples = _scrape(base)
    assert samples[("semsearch_sync_running", ())] == 0
    assert samples[("semsearch_sync_files_total", ())] == status["files_total"] >= 1
    assert samples[("semsearch_sync_files_done", ())] == status["files_done"]
    assert samples[("semsearch_sync_chunks_encoded", ())] == status["chunks_encoded"] >= 1
    assert samples[("semsearch_sync_last_duration_seconds", ())] >= 0
    assert samples[("semsearch_sync_last_failed", ())] == 0
    assert samples[("semsearch_index_documents", ())] == len(DOCS) + 1


def test_openmetrics_when_asked(served: Served) -> None:
    base = served.base
    response = _client(base).get("/metrics",
                                 headers={"Accept": "application/openmetrics-text"})
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.rstrip().endswith("# EOF")


def test_each_app_has_its_own_registry(tmp_path: Path) -> None:
    """Two apps in one process (as in tests) must not clash over metric names."""
    first = create_app(Settings(index_dir=tmp_path))
    second = create_app(Settings(index_dir=tmp_path))
    assert first.state.metrics.registry is not second.state.metrics.registry


def test_one_log_line_per_request(served: Served) -> None:
    """Last in this module: it stops the server to read all that it logged."""
    client = _client(served.base)
    assert client.post("/search", json={"query": "sourdough"}).status_code == 200
    assert client.post("/search", json={"query": " "}).status_code == 422
    assert client.get("/documents/424242").status_code == 404
    assert client.get("/").status_code == 200
    log = served.stop()
    lines = [match.groupdict() for match in map(REQUEST_LINE.match, log.splitlines()) if match]
    seen = [(line["method"], line["route"], line["status"]) for line in lines]
    for expected in [("POST", "/search", "200"), ("POST", "/search", "422"),
                     ("GET", "/documents/{doc_id}", "404"), ("GET", "/", "200"),
                     ("GET", "/health", "200"), ("GET", "unmatched", "401")]:
        assert expected in seen, (expected, log)
    searches = sum(1 for line in log.splitlines() if " /search " in line)
    assert searches == seen.count(("POST", "/search", "200")) + seen.count(
        ("POST", "/search", "422"))  # every request line has the documented shape
    assert "HTTP/1.1" not in log  # uvicorn's own access line is replaced, not doubled
