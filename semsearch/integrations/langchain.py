"""`SemsearchRetriever`: a LangChain retriever over a running semsearch server.

A thin adapter on `semsearch.client` (needs `pip install semsearch[langchain]`), so it
runs wherever the server can be reached and loads no model itself:

    from semsearch.integrations.langchain import SemsearchRetriever

    retriever = SemsearchRetriever(base_url="http://127.0.0.1:8000", api_key="...", k=5)
    documents = retriever.invoke("how do I repair a flat tyre?")

By default each hit of POST /search becomes a Document. With `token_budget` set, the
retriever asks POST /context instead: hits of one document merged, duplicates folded,
the whole within that many tokens of the index model's tokenizer.
"""

from typing import Any, Literal

from langchain_core.callbacks import (
    AsyncCallbackManagerForRetrieverRun,
    CallbackManagerForRetrieverRun,
)
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import Field, field_validator

from semsearch.client import AsyncClient, Client, ClientError
from semsearch.client_json import filters_from_json
from semsearch.search.hits import Hit
from semsearch.search.options import Filters, Mode, SearchOptions
from semsearch.search.passages import Passage

__all__ = ["SemsearchClientError", "SemsearchRetriever", "hit_document", "passage_document"]

# The name this error had in api/langchain_retriever.py; it is the client's ClientError.
SemsearchClientError = ClientError


class SemsearchRetriever(BaseRetriever):
    """Documents from a semsearch server, best first, with their citations as metadata.

    Metadata of each Document: path, title, page, score, chunk_id, document_id, start,
    end (offsets in the document's text). Passages from /context also carry chunk_ids
    (all the chunks merged) and truncated. Errors raise `semsearch.client.ClientError`
    (also exported here as `SemsearchClientError`), with the server's status and reason.
    """

    base_url: str = "http://127.0.0.1:8000"
    api_key: str | None = None
    k: int = Field(default=5, ge=1, le=100)
    mode: Literal["dense", "lexical", "hybrid"] = "hybrid"
    filters: dict[str, Any] | Filters | None = Field(
        default=None, description="as in the API: path_prefix, path_glob, file_types, "
        "modified_after, modified_before (Unix seconds, ISO 8601 or datetime); or Filters")
    rerank: bool = False
    min_score: float | None = None
    token_budget: int | None = Field(default=None, ge=1, le=32_768)
    timeout: float = 60.0

    @field_validator("filters")
    @classmethod
    def _check_filters(cls, value: dict[str, Any] | Filters | None) -> Any:
        filters_from_json(value)  # refuses unknown names and unreadable times when made
        return value

    def _options(self) -> SearchOptions:
        return SearchOptions(k=self.k, mode=Mode(self.mode), rerank=self.rerank,
                             filters=filters_from_json(self.filters), min_score=self.min_score)

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        with Client(self.base_url, api_key=self.api_key, timeout=self.timeout) as client:
            if self.token_budget is None:
                return [hit_document(hit) for hit in client.search(query, self._options()).results]
            result = client.context(query, self._options(), self.token_budget)
        return [passage_document(passage) for passage in result.passages]

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun
    ) -> list[Document]:
        async with AsyncClient(self.base_url, api_key=self.api_key,
                               timeout=self.timeout) as client:
            if self.token_budget is None:
                response = await client.search(query, self._options())
                return [hit_document(hit) for hit in response.results]
            result = await client.context(query, self._options(), self.token_budget)
        return [passage_document(passage) for passage in result.passages]


def hit_document(hit: Hit) -> Document:
    """A search hit as a Document: its text, and where it comes from as metadata."""
    return Document(page_content=hit.text, metadata={
        "path": hit.path, "title": hit.title, "page": hit.page, "score": hit.score,
        "chunk_id": hit.chunk_id, "document_id": hit.doc_id, "start": hit.start,
        "end": hit.end})


def passage_document(passage: Passage) -> Document:
    """A /context passage as a Document; `chunk_id` is its first chunk's."""
    source = passage.source
    return Document(page_content=passage.text, metadata={
        "path": source.path, "title": source.title, "page": source.page,
        "score": source.score, "chunk_id": source.chunk_ids[0],
        "chunk_ids": list(source.chunk_ids), "document_id": source.doc_id,
        "start": source.start, "end": source.end, "truncated": passage.truncated})
