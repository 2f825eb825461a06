"""End to end: a real uvicorn server on a free port, queried over HTTP with httpx."""

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from semsearch.indexer.encoders import Encoder, EncoderSpec
from semsearch.indexer.sync import SyncOptions, sync_folder
from tests.live_server import start_server, stop_server

API_KEY = "test-key-123"

DOCS = {
    "kitchen/bread.md": "# Sourdough bread\n\nA sourdough starter ferments flour and water. "
    "Feed the starter daily and bake when it doubles in size.",
    "garage/bike.txt": "Bicycle repair.\n\nTo fix a flat tyre, remove the wheel, find the "
    "puncture, patch the inner tube and pump it back up.",
    "notes/space.md": "# Mars rovers\n\nThe Perseverance rover landed in Jezero crater in 2021 "
    "to look for signs of ancient microbial life.",
    "notes/zh.md": "# 长城\n\n长城是中国古代修建的军事防御工程，明朝时期大规模重修。",
}


@pytest.fixture(scope="module")
def api_folder(tmp_path_factory: pytest.TempPathFactory, encoder: Encoder) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("api-docs")
    for path, text in DOCS.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text, encoding="utf-8")
    index_dir = tmp_path_factory.mktemp("api-index")
    sync_folder(root, index_dir, EncoderSpec.of(encoder), SyncOptions())
    return root, index_dir


@pytest.fixture(scope="module")
def server(api_folder: tuple[Path, Path]) -> Iterator[str]:
    process, base = start_server(api_folder[1], {"SEMSEARCH_API_KEY": API_KEY})
    yield base
    stop_server(process)


def _client(base: str, key: str | None = API_KEY) -> httpx.Client:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.Client(base_url=base, headers=headers, timeout=60)


def test_health_needs_no_key(server: str) -> None:
    assert httpx.get(server + "/health").json() == {"status": "ok"}


def test_routes_need_the_key(server: str) -> None:
    body = {"query": "bread"}
    assert _client(server, None).post("/search", json=body).status_code == 401
    assert _client(server, "wrong").post("/search", json=body).status_code == 401
    assert _client(server, None).get("/stats").status_code == 401
    assert _client(server).post("/search", json=body).status_code == 200


def test_search_finds_the_answer_with_the_documented_fields(server: str) -> None:
    question = "how do I repair a punctured bike wheel"
    response = _client(server).post("/search", json={"query": question, "k": 2})
    assert response.status_code == 200
    body = response.json()
    first = body["results"][0]
    assert first["path"] == "garage/bike.txt"
    for key in ("chunk_id", "doc_id", "path", "title", "text", "page", "start", "end", "score",
                "scores", "highlights"):
        assert key in first
    assert {"text", "start", "end"} <= set(first["highlights"][0])
    assert body["timings_ms"]["total"] >= 0


def test_chinese_query(server: str) -> None:
    body = _client(server).post("/search", json={"query": "长城 明朝", "mode": "lexical"}).json()
    assert body["results"][0]["path"] == "notes/zh.md"


def test_batch(server: str) -> None:
    body = _client(server).post(
        "/search/batch", json={"queries": ["sourdough starter", "Mars rover"], "k": 1}).json()
    assert [r["results"][0]["path"] for r in body["responses"]] == [
        "kitchen/bread.md", "notes/space.md"]


def test_stats_and_document(server: str) -> None:
    client = _client(server)
    stats = client.get("/stats").json()
    assert stats["documents"] == len(DOCS) and stats["dimension"] == 384
    hit = client.post("/search", json={"query": "Mars", "k": 1}).json()["results"][0]
    document = client.get(f"/documents/{hit['doc_id']}").json()
    assert document["path"] == hit["path"] and document["chunks"]
    assert client.get("/documents/987654").status_code == 404


@pytest.mark.parametrize("body", [
    {"query": ""},
    {"query": "   "},
    {"query": "x" * 2001},
    {"query": "bread", "k": 0},
    {"query": "bread", "k": 101},
    {"query": "bread", "k": "many"},
    {"query": "bread", "mode": "psychic"},
    {"query": "bread", "filters": {"file_types": ["../etc"]}},
    {"query": "bread", "filters": {"modified_after": "yesterday-ish"}},
    {"query": "bread", "filters": {"unknown": 1}},
    {"query": "bread", "group_by": "folder"},
    {"query": "bread", "min_score": "NaN"},
    {"nothing": True},
])
def test_bad_requests_get_422(server: str, body: dict[str, object]) -> None:
    response = _client(server).post("/search", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["detail"]


def test_bad_batch_and_malformed_json(server: str) -> None:
    client = _client(server)
    assert client.post("/search/batch", json={"queries": []}).status_code == 422
    assert client.post("/search/batch", json={"queries": ["ok", " "]}).status_code == 422
    response = client.post("/search", content=b"{not json",
                           headers={"content-type": "application/json"})
    assert response.status_code == 422


def test_filters_over_http(server: str) -> None:
    body = _client(server).post("/search", json={
        "query": "bread", "k": 10, "filters": {"path_prefix": "notes/"}}).json()
    assert body["results"] and all(r["path"].startswith("notes/") for r in body["results"])


def test_index_status_reports_the_skipped_files_of_every_sync(
    tmp_path: Path, encoder: Encoder
) -> None:
    root, index_dir = tmp_path / "docs", tmp_path / "index"
    root.mkdir()
    (root / "owls.txt").write_text("Owls hunt at night.", encoding="utf-8")
    (root / "broken.pdf").write_bytes(b"%PDF-1.4\nnot really a pdf")
    first = sync_folder(root, index_dir, EncoderSpec.of(encoder), SyncOptions())
    assert [s.path for s in first.skipped] == ["broken.pdf"]
    process, base = start_server(index_dir)
    try:
        client = _client(base, None)
        assert client.post("/index", json={}).status_code == 202
        deadline = time.monotonic() + 120
        while client.get("/index/status").json()["running"] and time.monotonic() < deadline:
            time.sleep(0.2)
        status = client.get("/index/status").json()
    finally:
        stop_server(process)
    assert status["last_error"] is None and status["generation"] == 1  # nothing changed
    report = status["last_report"]
    assert report["skipped"] == [{"path": "broken.pdf", "reason": first.skipped[0].reason}]
    assert (report["unchanged"], report["skipped_unchanged"], report["added"]) == (1, 1, 0)


def test_background_sync_while_searching(api_folder: tuple[Path, Path]) -> None:
    root, index_dir = api_folder
    process, base = start_server(index_dir)
    errors: list[str] = []
    stop = threading.Event()

    def hammer() -> None:
        with _client(base, None) as client:
            while not stop.is_set():
                response = client.post("/search", json={"query": "bread starter", "k": 3})
                if response.status_code != 200 or not response.json()["results"]:
                    errors.append(response.text)

    try:
        (root / "notes" / "tea.md").write_text(
            "# Green tea\n\nBrew green tea at about 80 degrees for two minutes.", encoding="utf-8")
        threads = [threading.Thread(target=hammer) for _ in range(3)]
        for thread in threads:
            thread.start()
        client = _client(base, None)
        started = client.post("/index", json={})
        assert started.status_code == 202
        # Outside the folders a server may sync (SEMSEARCH_ROOTS, default its own): 403.
        assert client.post("/index", json={"path": "/"}).status_code == 403
        deadline = time.monotonic() + 120
        while client.get("/index/status").json()["running"] and time.monotonic() < deadline:
            time.sleep(0.2)
        status = client.get("/index/status").json()
        stop.set()
        for thread in threads:
            thread.join()
        assert status["last_error"] is None and status["last_report"]["added"] == 1
        assert errors == []
        hit = client.post("/search", json={"query": "green tea temperature", "k": 1}).json()
        assert hit["results"][0]["path"] == "notes/tea.md"
        assert client.get("/stats").json()["documents"] == len(DOCS) + 1
    finally:
        stop.set()
        stop_server(process)
        (root / "notes" / "tea.md").unlink(missing_ok=True)
