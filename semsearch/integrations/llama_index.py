"""`SemsearchRetriever`: a LlamaIndex retriever over a running semsearch server.

A thin adapter on `semsearch.client` (needs `pip install semsearch[llama_index]`), so it
runs wherever the server can be reached and loads no model itself:

    from semsearch.integrations.llama_index import SemsearchRetriever

    retriever = SemsearchRetriever(base_url="http://127.0.0.1:8000", api_key="...", k=5)
    nodes = retriever.retrieve("how do I repair a flat tyre?")

Each hit of POST /search becomes a `NodeWithScore` of a `TextNode`; with `token_budget`
set, each passage of POST /context does (hits of one document merged, duplicates
folded, the whole within that many tokens of the index model's tokenizer). The arguments
and the nodes' metadata are those of the LangChain retriever
(`semsearch.integrations.langchain`).
"""

from collections.abc import Mapping
from typing import Any, Literal

from llama_index.core.callbacks import CallbackManager
from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from semsearch.client import AsyncClient, Client
from semsearch.client_json import filters_from_json
from semsearch.search.hits import Hit
from semsearch.search.options import Filters, Mode, SearchOptions
from semsearch.search.passages import Passage

__all__ = ["SemsearchRetriever"]

# Metadata a chat model or an embedder need not read (LlamaIndex adds the rest to the text).
_INTERNAL = ["score", "chunk_id", "chunk_ids", "document_id", "start", "end", "truncated"]


class SemsearchRetriever(BaseRetriever):
    """Nodes from a semsearch server, best first, with their citations as metadata.

    Args:
        base_url, api_key, timeout: the server, its key, seconds per answer.
        k, mode, rerank, min_score: as in POST /search.
        filters: the API's filters object (path_prefix, path_glob, file_types,
            modified_after, modified_before; times as Unix seconds, ISO 8601 or datetime),
            or `Filters`.
        token_budget: ask POST /context for passages within this many tokens instead.
        callback_manager: LlamaIndex's, passed on to BaseRetriever.

    Raises:
        ValueError: unknown filters or an unreadable time (when made); a k, mode or
            min_score `SearchOptions` refuses (`InvalidQueryError`).
        semsearch.client.ClientError: when retrieving, with the server's status and reason.
    """

    def __init__(self, base_url: str = "http://127.0.0.1:8000", api_key: str | None = None,
                 k: int = 5, mode: Literal["dense", "lexical", "hybrid"] = "hybrid",
                 filters: Mapping[str, Any] | Filters | None = None, rerank: bool = False,
                 min_score: float | None = None, token_budget: int | None = None,
                 timeout: float = 60.0, callback_manager: CallbackManager | None = None) -> None:
        super().__init__(callback_manager=callback_manager)
        self.base_url, self.api_key, self.timeout = base_url, api_key, timeout
        self.options = SearchOptions(k=k, mode=Mode(mode), rerank=rerank,
                                     filters=filters_from_json(filters), min_score=min_score)
        self.token_budget = token_budget

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        query = query_bundle.query_str
        with Client(self.base_url, api_key=self.api_key, timeout=self.timeout) as client:
            if self.token_budget is None:
                return [hit_node(hit) for hit in client.search(query, self.options).results]
            result = client.context(query, self.options, self.token_budget)
        return [passage_node(passage) for passage in result.passages]

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        query = query_bundle.query_str
        async with AsyncClient(self.base_url, api_key=self.api_key,
                               timeout=self.timeout) as client:
            if self.token_budget is None:
                response = await client.search(query, self.options)
                return [hit_node(hit) for hit in response.results]
            result = await client.context(query, self.options, self.token_budget)
        return [passage_node(passage) for passage in result.passages]


def _node(node_id: str, text: str, score: float, metadata: dict[str, Any]) -> NodeWithScore:
    node = TextNode(id_=node_id, text=text, metadata=metadata,
                    start_char_idx=metadata["start"], end_char_idx=metadata["end"],
                    excluded_llm_metadata_keys=_INTERNAL, excluded_embed_metadata_keys=_INTERNAL)
    return NodeWithScore(node=node, score=score)


def hit_node(hit: Hit) -> NodeWithScore:
    """A search hit as a scored TextNode (id `semsearch-chunk-<chunk_id>`)."""
    return _node(f"semsearch-chunk-{hit.chunk_id}", hit.text, hit.score, {
        "path": hit.path, "title": hit.title, "page": hit.page, "score": hit.score,
        "chunk_id": hit.chunk_id, "document_id": hit.doc_id, "start": hit.start,
        "end": hit.end})


def passage_node(passage: Passage) -> NodeWithScore:
    """A /context passage as a scored TextNode (id from its document and offsets)."""
    source = passage.source
    return _node(f"semsearch-{source.doc_id}-{source.start}-{source.end}", passage.text,
                 source.score, {
                     "path": source.path, "title": source.title, "page": source.page,
                     "score": source.score, "chunk_id": source.chunk_ids[0],
                     "chunk_ids": list(source.chunk_ids), "document_id": source.doc_id,
                     "start": source.start, "end": source.end,
                     "truncated": passage.truncated})
