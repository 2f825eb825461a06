"""semsearch/integrations/llama_index.py against a live `semsearch serve`, sync and async."""

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.live_server import start_server, stop_server

pytest.importorskip("llama_index.core")

from llama_index.core.schema import NodeWithScore, TextNode  # noqa: E402

from semsearch.client import ClientError  # noqa: E402
from semsearch.integrations.llama_index import SemsearchRetriever  # noqa: E402

API_KEY = "llama-key"
METADATA = {"path", "title", "page", "score", "chunk_id", "document_id", "start", "end"}


@pytest.fixture(scope="module")
def server(search_index: tuple[Path, Path]) -> Iterator[str]:
    process, base = start_server(search_index[1], {"SEMSEARCH_API_KEY": API_KEY})
    yield base
    stop_server(process)


def _check_bike(nodes: list[NodeWithScore], k: int) -> None:
    assert 1 <= len(nodes) <= k
    first = nodes[0]
    assert isinstance(first.node, TextNode)
    assert first.node.metadata["path"] == "cycling/flat_tyre.md"
    assert set(first.node.metadata) >= METADATA
    assert "patch" in first.node.get_content()
    scores = [node.get_score() for node in nodes]
    assert scores == sorted(scores, reverse=True)


def test_retrieve_sync_and_async(server: str) -> None:
    retriever = SemsearchRetriever(base_url=server, api_key=API_KEY, k=3)
    question = "how do I repair a punctured bike wheel"
    _check_bike(retriever.retrieve(question), 3)
    _check_bike(asyncio.run(retriever.aretrieve(question)), 3)


def test_filters_and_context_passages(server: str) -> None:
    cooking = SemsearchRetriever(base_url=server, api_key=API_KEY, k=5, mode="lexical",
                                 filters={"path_prefix": "cooking/"})
    nodes = cooking.retrieve("bread starter oven")
    assert nodes and all(n.node.metadata["path"].startswith("cooking/") for n in nodes)
    passages = SemsearchRetriever(base_url=server, api_key=API_KEY, k=8, token_budget=400)
    press = passages.retrieve("how did the printing press spread across Europe")[0].node
    assert isinstance(press, TextNode) and press.end_char_idx and press.start_char_idx is not None
    assert press.metadata["path"] == "history/printing_press.md"
    assert len(press.metadata["chunk_ids"]) >= 2
    assert press.end_char_idx - press.start_char_idx == len(press.get_content())


def test_errors_carry_the_servers_reason(server: str) -> None:
    with pytest.raises(ClientError, match="answered 401"):
        SemsearchRetriever(base_url=server, api_key="wrong").retrieve("bread")
    with pytest.raises(ValueError, match="unknown filters: colour"):
        SemsearchRetriever(base_url=server, filters={"colour": "red"})
