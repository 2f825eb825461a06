"""The MCP server, through the mcp package's own client: stdio (`semsearch mcp`) and
streamable HTTP (/mcp on a live `semsearch serve`, behind the API key)."""

import json
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from tests.live_server import REPO, start_server, stop_server

API_KEY = "mcp-key"
TOOLS = {"search", "context", "get_document"}


def _stdio_parameters(index_dir: Path) -> StdioServerParameters:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEMSEARCH_")}
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "semsearch", "mcp", "--index-dir", str(index_dir)],
        env={**env, "TOKENIZERS_PARALLELISM": "false"}, cwd=REPO)


def _run(session: Callable[[Client], Awaitable[Any]], server: Any) -> Any:
    async def main() -> Any:
        async with Client(server) as client:
            return await session(client)

    return anyio.run(main)


async def _exercise(client: Client) -> dict[str, Any]:
    """List the tools and call each; what came back, for the test to check."""
    tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    search = await client.call_tool("search", {"query": "fix a flat bicycle tyre", "k": 3})
    hit = search.structured_content["results"][0]  # type: ignore[index]
    document = await client.call_tool("get_document", {"doc_id": hit["doc_id"]})
    context = await client.call_tool("context", {
        "question": "how did the printing press spread", "token_budget": 120, "k": 4})
    missing = await client.call_tool("get_document", {"doc_id": 987654})
    too_many = await client.call_tool("search", {"query": "tyre", "k": 1000})
    return {"tools": tools, "search": search, "hit": hit, "document": document,
            "context": context, "missing": missing, "too_many": too_many}


def _check(results: dict[str, Any]) -> None:
    assert set(results["tools"]) == TOOLS
    schema = results["tools"]["search"].input_schema
    assert {"query", "k", "mode", "filters"} <= set(schema["properties"])
    assert not results["search"].is_error
    hit = results["hit"]
    assert hit["path"] == "cycling/flat_tyre.md"
    assert {"chunk_id", "doc_id", "title", "score", "text"} <= set(hit)
    document = results["document"].structured_content
    assert document["path"] == hit["path"] and document["doc_id"] == hit["doc_id"]
    assert document["text"][hit["start"]:hit["end"]] == hit["text"]
    assert hit["chunk_id"] in {c["chunk_id"] for c in document["chunks"]}
    context = results["context"].structured_content
    assert context["passages"][0]["path"] == "history/printing_press.md"
    assert context["context"].startswith("[1] history/printing_press.md")
    assert context["token_count"] <= 120
    missing = results["missing"]
    assert missing.is_error and "no document with id 987654" in missing.content[0].text
    too_many = results["too_many"]
    assert too_many.is_error and "less than or equal to 100" in too_many.content[0].text


def test_stdio_transport(search_index: tuple[Path, Path]) -> None:
    _check(_run(_exercise, _stdio_parameters(search_index[1])))


def test_stdio_without_an_index_fails_clearly(tmp_path: Path) -> None:
    parameters = _stdio_parameters(tmp_path / "nothing")
    result = subprocess.run([parameters.command, *parameters.args], cwd=REPO,
                            env=parameters.env, capture_output=True, text=True, timeout=120,
                            stdin=subprocess.DEVNULL, check=False)
    assert result.returncode == 2
    assert "error:" in result.stderr and result.stdout == ""


@pytest.fixture(scope="module")
def server(search_index: tuple[Path, Path]) -> Iterator[str]:
    process, base = start_server(search_index[1], {"SEMSEARCH_API_KEY": API_KEY})
    yield base
    stop_server(process)


def _http_transport(base: str, key: str) -> Any:
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=60)
    return streamable_http_client(base + "/mcp", http_client=http)


def test_streamable_http_transport(server: str) -> None:
    _check(_run(_exercise, _http_transport(server, API_KEY)))


def test_http_endpoint_needs_the_key(server: str) -> None:
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "test", "version": "0"}}}
    headers = {"Accept": "application/json, text/event-stream"}
    for key in (None, "wrong"):
        auth = {"Authorization": f"Bearer {key}"} if key else {}
        response = httpx.post(server + "/mcp", json=initialize, headers={**headers, **auth})
        assert response.status_code == 401
        assert "API key" in response.json()["detail"]
    response = httpx.post(server + "/mcp", json=initialize, timeout=60, headers={
        **headers, "Authorization": f"Bearer {API_KEY}"})
    assert response.status_code == 200, response.text
    assert json.loads(response.text)["result"]["serverInfo"]["name"] == "semsearch"


def test_http_endpoint_refuses_a_foreign_host_header(server: str) -> None:
    """DNS rebinding: a page elsewhere must not reach a server bound to 127.0.0.1."""
    response = httpx.post(server + "/mcp", json={}, headers={
        "Host": "attacker.example", "Authorization": f"Bearer {API_KEY}",
        "Content-Type": "application/json", "Accept": "application/json, text/event-stream"})
    assert response.status_code in (403, 421), response.text
