"""`SemsearchRetriever`: a LangChain retriever over a running semsearch server.

An HTTP client of the API (needs `pip install semsearch[langchain]`), so it runs
wherever the server can be reached and loads no model itself:

    retriever = SemsearchRetriever(base_url="http://127.0.0.1:8000", api_key="...", k=5)
    documents = retriever.invoke("how do I repair a flat tyre?")

By default each hit of POST /search becomes a Document. With `token_budget` set, the
retriever asks POST /context instead: hits of one document merged, duplicates folded,
the whole within that many tokens of the index model's tokenizer.
"""

from typing import Any, Literal

import httpx
from langchain_core.callbacks import (
    AsyncCallbackManagerForRetrieverRun,
    CallbackManagerForRetrieverRun,
)
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import Field


class SemsearchClientError(RuntimeError):
    """The server refused or failed a request; the message holds its status and reason."""


class SemsearchRetriever(BaseRetriever):
    """Documents from a semsearch server, best first, with their citations as metadata.

    Metadata of each Document: path, title, page, score, chunk_id, document_id, start,
    end (offsets in the document's text). Passages from /context also carry chunk_ids
    (all the chunks merged) and truncated.
    """

    base_url: str = "http://127.0.0.1:8000"
    api_key: str | None = None
    k: int = Field(default=5, ge=1, le=100)
    mode: Literal["dense", "lexical", "hybrid"] = "hybrid"
    filters: dict[str, Any] | None = Field(
        default=None, description="as in the API: path_prefix, path_glob, file_types, ...")
    rerank: bool = False
    min_score: float | None = None
    token_budget: int | None = Field(default=None, ge=1, le=32_768)
    timeout: float = 60.0

    def _request(self, query: str) -> tuple[str, dict[str, Any]]:
        body: dict[str, Any] = {"k": self.k, "mode": self.mode, "rerank": self.rerank,
                                "filters": self.filters, "min_score": self.min_score}
        if self.token_budget is None:
            return "/search", {**body, "query": query}
        return "/context", {**body, "question": query, "token_budget": self.token_budget}

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        path, body = self._request(query)
        with httpx.Client(base_url=self.base_url, headers=self._headers(),
                          timeout=self.timeout) as client:
            response = client.post(path, json=body)
        return _documents(path, response)

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun
    ) -> list[Document]:
        path, body = self._request(query)
        async with httpx.AsyncClient(base_url=self.base_url, headers=self._headers(),
                                     timeout=self.timeout) as client:
            response = await client.post(path, json=body)
        return _documents(path, response)


def _documents(path: str, response: httpx.Response) -> list[Document]:
    if response.status_code != 200:
        try:
            detail = response.json().get("detail", response.text)
        except ValueError:
            detail = response.text
        raise SemsearchClientError(
            f"POST {path} answered {response.status_code}: {detail}")
    body = response.json()
    if path == "/search":
        return [_hit_document(hit) for hit in body["results"]]
    return [_passage_document(passage) for passage in body["passages"]]


def _hit_document(hit: dict[str, Any]) -> Document:
    return Document(page_content=hit["text"], metadata={
        "path": hit["path"], "title": hit["title"], "page": hit["page"],
        "score": hit["score"], "chunk_id": hit["chunk_id"], "document_id": hit["doc_id"],
        "start": hit["start"], "end": hit["end"]})


def _passage_document(passage: dict[str, Any]) -> Document:
    return Document(page_content=passage["text"], metadata={
        "path": passage["path"], "title": passage["title"], "page": passage["page"],
        "score": passage["score"], "chunk_id": passage["chunk_ids"][0],
        "chunk_ids": passage["chunk_ids"], "document_id": passage["doc_id"],
        "start": passage["start"], "end": passage["end"],
        "truncated": passage["truncated"]})
