"""semsearch/integrations/langchain.py against a live `semsearch serve`, sync and async."""

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_core.documents import Document

from semsearch.integrations.langchain import SemsearchClientError, SemsearchRetriever
from tests.live_server import start_server, stop_server

API_KEY = "langchain-key"
METADATA = {"path", "title", "page", "score", "chunk_id", "document_id", "start", "end"}


@pytest.fixture(scope="module")
def server(search_index: tuple[Path, Path]) -> Iterator[str]:
    process, base = start_server(search_index[1], {"SEMSEARCH_API_KEY": API_KEY})
    yield base
    stop_server(process)


def _check_bike(documents: list[Document], k: int) -> None:
    assert 1 <= len(documents) <= k
    first = documents[0]
    assert first.metadata["path"] == "cycling/flat_tyre.md"
    assert set(first.metadata) >= METADATA
    assert "patch" in first.page_content
    scores = [d.metadata["score"] for d in documents]
    assert scores == sorted(scores, reverse=True)


def test_search_sync_and_async(server: str) -> None:
    retriever = SemsearchRetriever(base_url=server, api_key=API_KEY, k=3)
    question = "how do I repair a punctured bike wheel"
    _check_bike(retriever.invoke(question), 3)
    _check_bike(asyncio.run(retriever.ainvoke(question)), 3)


def test_filters_and_mode_reach_the_server(server: str) -> None:
    retriever = SemsearchRetriever(base_url=server, api_key=API_KEY, k=5, mode="lexical",
                                   filters={"path_prefix": "cooking/"})
    documents = retriever.invoke("bread starter oven")
    assert documents and all(d.metadata["path"].startswith("cooking/") for d in documents)
    assert documents[0].metadata["path"] == "cooking/bread.md"


def test_context_passages_with_a_token_budget(server: str) -> None:
    retriever = SemsearchRetriever(base_url=server, api_key=API_KEY, k=8, token_budget=400)
    documents = retriever.invoke("how did the printing press spread across Europe")
    press = documents[0]
    assert press.metadata["path"] == "history/printing_press.md"
    assert len(press.metadata["chunk_ids"]) >= 2  # neighbouring chunks merged
    assert press.metadata["end"] - press.metadata["start"] == len(press.page_content)
    assert set(press.metadata) >= METADATA


def test_errors_carry_the_servers_reason(server: str) -> None:
    wrong_key = SemsearchRetriever(base_url=server, api_key="wrong")
    with pytest.raises(SemsearchClientError, match="answered 401: missing or wrong API key"):
        wrong_key.invoke("bread")
    with pytest.raises(SemsearchClientError, match="answered 422"):
        asyncio.run(SemsearchRetriever(base_url=server, api_key=API_KEY).ainvoke(" "))
