"""semsearch.client against a live `semsearch serve` (one per module), sync and async."""

import asyncio
import json
import math
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from semsearch.client import AsyncClient, Client, ClientError
from semsearch.client_json import from_json
from semsearch.search.hits import ChunkView, DocumentView, Highlight, Hit, SearchResponse
from semsearch.search.options import Filters, Mode, SearchOptions
from tests.helpers import SEARCH_DOCS, SEARCH_MTIME_CUT, SEARCH_OLD_DOCS
from tests.live_server import REPO, free_port, start_server, stop_server

API_KEY = "client-key"
BIKE = "how do I repair a punctured bike wheel"
PRESS = "how did the printing press spread across Europe"


@pytest.fixture(scope="module")
def server(search_index: tuple[Path, Path]) -> Iterator[str]:
    process, base = start_server(search_index[1], {"SEMSEARCH_API_KEY": API_KEY})
    yield base
    stop_server(process)


@pytest.fixture(scope="module")
def client(server: str) -> Iterator[Client]:
    with Client(server, api_key=API_KEY) as opened:
        yield opened


def test_health_and_stats(server: str, client: Client) -> None:
    assert Client(server).health() == {"status": "ok"}  # /health needs no key
    stats = client.stats()
    assert stats["documents"] == len(SEARCH_DOCS)
    assert stats["dimension"] == 384
    assert client.sync_status()["running"] is False


def test_search_returns_the_librarys_hits(client: Client) -> None:
    response = client.search(BIKE, SearchOptions(k=3))
    assert isinstance(response, SearchResponse) and response.query == BIKE
    assert 1 <= len(response.results) <= 3
    first = response.results[0]
    assert isinstance(first, Hit) and first.path == "cycling/flat_tyre.md"
    assert isinstance(first.highlights[0], Highlight)
    assert first.score_kind == "fused" and set(first.scores) >= {"cosine", "bm25"}
    assert all(isinstance(v, float) for v in first.scores.values())
    assert response.timings_ms["total"] >= 0


def test_options_and_filters_reach_the_server(client: Client) -> None:
    cooking = client.search("bread starter oven", SearchOptions(
        k=5, mode=Mode.LEXICAL, filters=Filters(path_prefix="cooking/")))
    assert cooking.results[0].path == "cooking/bread.md"
    assert all(hit.path.startswith("cooking/") for hit in cooking.results)
    assert {hit.score_kind for hit in cooking.results} == {"bm25"}
    old = client.search("plants in the garden", SearchOptions(
        k=10, mode="dense", filters=Filters(modified_before=SEARCH_MTIME_CUT)))
    assert {hit.path for hit in old.results} == SEARCH_OLD_DOCS  # Unix times as numbers
    texts = client.search(BIKE, SearchOptions(k=20, group_by="document",
                                               filters=Filters(file_types=("txt",))))
    assert all(hit.path.endswith(".txt") for hit in texts.results)
    assert len({hit.doc_id for hit in texts.results}) == len(texts.results)


def test_search_batch(client: Client) -> None:
    responses = client.search_batch([BIKE, "sourdough starter"], SearchOptions(k=2))
    assert [r.query for r in responses] == [BIKE, "sourdough starter"]
    assert [r.results[0].path for r in responses] == ["cycling/flat_tyre.md",
                                                     "cooking/bread.md"]


def test_context_builds_passages_with_their_sources(client: Client) -> None:
    result = client.context(PRESS, SearchOptions(k=8), token_budget=400)
    assert 0 < result.token_count <= result.token_budget == 400
    assert result.context.startswith("[1] history/printing_press.md")
    press = result.passages[0]
    assert press.source.path == "history/printing_press.md"
    assert isinstance(press.source.chunk_ids, tuple) and len(press.source.chunk_ids) >= 2
    assert press.source.end - press.source.start == len(press.text)
    assert isinstance(press.headings, tuple)


def test_document_and_an_unknown_one(client: Client) -> None:
    hit = client.search(PRESS, SearchOptions(k=1)).results[0]
    view = client.document(hit.doc_id)
    assert isinstance(view, DocumentView) and view.path == "history/printing_press.md"
    assert all(isinstance(chunk, ChunkView) for chunk in view.chunks)
    assert [c.ordinal for c in view.chunks] == sorted(c.ordinal for c in view.chunks)
    assert hit.chunk_id in {c.chunk_id for c in view.chunks}
    with pytest.raises(ClientError) as caught:
        client.document(999_999)
    assert caught.value.status_code == 404
    assert caught.value.detail == "no document with id 999999"


def test_embeddings_are_unit_vectors(client: Client) -> None:
    vectors = client.embeddings(["a flat tyre", "sourdough bread", "长城"])
    assert [len(v) for v in vectors] == [384, 384, 384]
    assert all(math.isclose(math.fsum(x * x for x in v), 1.0, rel_tol=1e-4) for v in vectors)


def test_errors_carry_status_and_reason(server: str, client: Client) -> None:
    for key in (None, "wrong"):
        with pytest.raises(ClientError, match="answered 401") as caught:
            Client(server, api_key=key).search("bread")
        assert caught.value.status_code == 401
        assert "missing or wrong API key" in caught.value.detail
    with pytest.raises(ClientError) as refused:
        client.search(" ")
    assert refused.value.status_code == 422 and "query" in refused.value.detail
    with pytest.raises(ClientError) as outside:
        client.sync("/")  # not the index's folder: refused before any work
    assert outside.value.status_code in (403, 409, 422)


def test_an_unreachable_server_is_named() -> None:
    base = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ClientError, match=f"cannot reach the semsearch server at {base}") as e:
        Client(base, timeout=5).health()
    assert e.value.status_code is None


def test_an_injected_http_client_is_used_and_left_open(server: str) -> None:
    with httpx.Client(timeout=30) as http:
        with Client(server + "/", api_key=API_KEY, http_client=http) as client:
            assert client.search(BIKE).results[0].path == "cycling/flat_tyre.md"
        assert not http.is_closed


def test_async_client(server: str) -> None:
    async def scenario() -> None:
        async with AsyncClient(server, api_key=API_KEY) as client:
            response, result = await asyncio.gather(
                client.search(BIKE, SearchOptions(k=2)),
                client.context(PRESS, token_budget=300))
            assert response.results[0].path == "cycling/flat_tyre.md"
            assert result.passages[0].source.path == "history/printing_press.md"
            with pytest.raises(ClientError) as caught:
                await client.document(999_999)
            assert caught.value.status_code == 404

    asyncio.run(scenario())


def test_import_loads_no_model_library() -> None:
    code = ("import json, sys, semsearch.client\n"
            "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                            text=True, timeout=120, check=True)
    loaded = set(json.loads(result.stdout.strip().splitlines()[-1]))
    assert not {"torch", "faiss", "onnxruntime", "sentence_transformers",
                "transformers"} & loaded


@dataclass(frozen=True)
class _Inner:
    name: str
    weight: float = 0.0


@dataclass
class _Outer:
    inner: _Inner
    items: list[_Inner]
    maybe: _Inner | None
    kinds: tuple[str, ...]
    scores: dict[str, float]
    mode: Mode
    added_later: int = 7
    extras: list[str] = field(default_factory=list)


def test_from_json_builds_nested_dataclasses_and_ignores_unknown_keys() -> None:
    built = from_json(_Outer, {
        "inner": {"name": "a", "weight": 1, "new_key": True},
        "items": [{"name": "b"}], "maybe": None, "kinds": ["x", "y"],
        "scores": {"cosine": 1}, "mode": "dense", "unknown": [1, 2]})
    assert built == _Outer(inner=_Inner("a", 1.0), items=[_Inner("b")], maybe=None,
                           kinds=("x", "y"), scores={"cosine": 1.0}, mode=Mode.DENSE)
    assert isinstance(built.inner.weight, float) and built.added_later == 7
