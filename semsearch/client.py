"""A light HTTP client of a running semsearch server: `Client` and `AsyncClient`.

It talks to `semsearch serve` over HTTP (httpx); importing it loads no torch, FAISS or
ONNX Runtime, so it runs wherever the server can be reached:

    from semsearch.client import Client
    from semsearch.search.options import Filters, SearchOptions

    with Client("http://127.0.0.1:8000", api_key="...") as client:
        options = SearchOptions(k=5, filters=Filters(file_types=("pdf",)))
        for hit in client.search("how do I repair a flat tyre?", options).results:
            print(hit.score, hit.path)

Requests take the library's own `SearchOptions`; answers come back as the library's
dataclasses (`SearchResponse` and its `Hit`s, `DocumentView`, `ContextResult` and its
`Passage`s), built from the JSON by one generic converter (`semsearch.client_json`), so
fields added to those dataclasses need no change here. Every failure raises `ClientError`.

`ContextResult` lives in `semsearch.search.context`, which imports the Searcher (and with
it FAISS), so that module is imported on the first `context()` call only.
"""

import os
from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar

import httpx

import semsearch.client_json as calls
from semsearch.client_json import Call, ClientError, error_for
from semsearch.search.hits import DocumentView, SearchResponse
from semsearch.search.options import Filters, Mode, SearchOptions

if TYPE_CHECKING:
    from semsearch.search.context import ContextResult

__all__ = ["AsyncClient", "Client", "ClientError", "Filters", "Mode", "SearchOptions"]

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
DEFAULT_TIMEOUT = 60.0  # seconds; a first query may wait for the server to load its model

T = TypeVar("T")
Timeout = float | httpx.Timeout | None


class _Base:
    """What both clients share: the server's address, the key, answers to results."""

    def __init__(self, base_url: str, api_key: str | None) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}

    def _url(self, call: Call[Any]) -> str:
        return self.base_url + call.path

    def _unreachable(self, call: Call[Any], error: httpx.TransportError) -> ClientError:
        what = "no answer in time from" if isinstance(error, httpx.TimeoutException) \
            else "cannot reach"
        return ClientError(f"{call.method} {call.path}: {what} the semsearch server at "
                           f"{self.base_url} ({type(error).__name__}: {error})")

    def _result(self, call: Call[T], response: httpx.Response) -> T:
        if response.status_code >= 400:
            raise error_for(call, response)
        try:
            return call.parse(response.json())
        except (ValueError, TypeError, KeyError) as error:
            raise ClientError(f"{call.method} {call.path}: an answer this client cannot read "
                              f"({error})", response.status_code) from error


class Client(_Base):
    """A synchronous client of one semsearch server; thread-safe, like its httpx.Client.

    Args:
        base_url: the server, e.g. "http://127.0.0.1:8000".
        api_key: sent as `Authorization: Bearer <key>` when the server has keys set.
        timeout: seconds to wait for each answer (None: forever).
        http_client: an httpx.Client to send through instead of one of our own (proxies,
            a mounted transport, tests); it is used as it is (its timeout applies, not
            `timeout`) and is left open by `close()`.
    """

    def __init__(self, base_url: str = DEFAULT_BASE_URL, api_key: str | None = None,
                 timeout: Timeout = DEFAULT_TIMEOUT,
                 http_client: httpx.Client | None = None) -> None:
        super().__init__(base_url, api_key)
        self._owns_http = http_client is None
        self._http = http_client if http_client is not None else httpx.Client(timeout=timeout)

    def close(self) -> None:
        """Close the connections, unless the httpx.Client was passed in."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def _send(self, call: Call[T]) -> T:
        try:
            response = self._http.request(call.method, self._url(call), json=call.body,
                                          headers=self._headers)
        except httpx.TransportError as error:
            raise self._unreachable(call, error) from error
        return self._result(call, response)

    def health(self) -> dict[str, Any]:
        """GET /health: `{"status": "ok"}` when the server runs (needs no key).

        Raises:
            ClientError: the server cannot be reached or answers an error.
        """
        return self._send(calls.health())

    def stats(self) -> dict[str, Any]:
        """GET /stats: documents, chunks, model, dimension, index type, root, last sync...

        Raises:
            ClientError: unreachable server, wrong key (401) or another error answer.
        """
        return self._send(calls.stats())

    def search(self, query: str, options: SearchOptions | None = None) -> SearchResponse:
        """POST /search: the best chunks for `query`.

        Args:
            query: 1 to 2,000 characters, not blank.
            options: k, mode, rerank, filters, group_by and min_score are sent; the
                server chooses rerank_candidates and always highlights. Default: the
                library's defaults (k=10, hybrid).

        Returns:
            The query, its hits best first (`Hit`s with `Highlight`s) and the timings.

        Raises:
            ClientError: unreachable server, a refused request (422 with the reason,
                401 for a wrong key) or a server error (5xx).
        """
        return self._send(calls.search(query, options))

    def search_batch(self, queries: Sequence[str],
                     options: SearchOptions | None = None) -> list[SearchResponse]:
        """POST /search/batch: `search` for each of 1 to 64 queries, embedded together.

        Returns:
            One SearchResponse per query, in order.

        Raises:
            ClientError: as `search`.
        """
        return self._send(calls.search_batch(queries, options))

    def context(self, question: str, options: SearchOptions | None = None,
                token_budget: int | None = None) -> "ContextResult":
        """POST /context: passages for `question`, merged, numbered and cited, packed
        into `token_budget` tokens of the index model's tokenizer, ready for a prompt.

        Args:
            question: 1 to 2,000 characters, not blank.
            options: k (chunks retrieved before merging), mode, rerank, filters and
                min_score are sent; group_by is not (a context merges per document).
            token_budget: 1 to 32,768; None leaves the server's default (2,000).

        Returns:
            A `semsearch.search.context.ContextResult`; `passages[i]` is marker [i + 1].
            (That module loads the Searcher's modules, FAISS among them, on the first
            call; `import semsearch.client` does not.)

        Raises:
            ClientError: as `search`.
        """
        return self._send(calls.context(question, options, token_budget))

    def document(self, doc_id: int) -> DocumentView:
        """GET /documents/{doc_id}: a document's metadata and its chunks in order.

        Raises:
            ClientError: status 404 for an unknown id, or as `search`.
        """
        return self._send(calls.document(doc_id))

    def embeddings(self, texts: Sequence[str]) -> list[list[float]]:
        """POST /embed: the index model's unit vectors of 1 to 256 texts (cosine = dot).

        Returns:
            One list of floats per text, in order (`numpy.asarray(...)` makes a matrix).

        Raises:
            ClientError: as `search` (422 for an empty text or too many).
        """
        return self._send(calls.embeddings(texts))

    def sync(self, path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
        """POST /index: start syncing the index's folder in the background (admin key).

        Args:
            path: the folder, as the server sees it; None: the index's own folder.

        Returns:
            The sync status at once (as `sync_status`); poll that to see it finish.

        Raises:
            ClientError: 409 when a sync runs already, 403 for a read-only key or a
                folder outside the allowed roots, 422 for no folder, or as `search`.
        """
        return self._send(calls.sync(path))

    def sync_status(self) -> dict[str, Any]:
        """GET /index/status: running, files done/total, chunks encoded, last report/error.

        Raises:
            ClientError: as `search`.
        """
        return self._send(calls.sync_status())


class AsyncClient(_Base):
    """The asynchronous twin of `Client`: the same arguments and methods, awaited.

    `http_client` is an httpx.AsyncClient here; use `async with` or `await close()`.
    """

    def __init__(self, base_url: str = DEFAULT_BASE_URL, api_key: str | None = None,
                 timeout: Timeout = DEFAULT_TIMEOUT,
                 http_client: httpx.AsyncClient | None = None) -> None:
        super().__init__(base_url, api_key)
        self._owns_http = http_client is None
        self._http = http_client if http_client is not None else httpx.AsyncClient(
            timeout=timeout)

    async def close(self) -> None:
        """Close the connections, unless the httpx.AsyncClient was passed in."""
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        traceback: TracebackType | None) -> None:
        await self.close()

    async def _send(self, call: Call[T]) -> T:
        try:
            response = await self._http.request(call.method, self._url(call), json=call.body,
                                                headers=self._headers)
        except httpx.TransportError as error:
            raise self._unreachable(call, error) from error
        return self._result(call, response)

    async def health(self) -> dict[str, Any]:
        """As `Client.health`."""
        return await self._send(calls.health())

    async def stats(self) -> dict[str, Any]:
        """As `Client.stats`."""
        return await self._send(calls.stats())

    async def search(self, query: str, options: SearchOptions | None = None) -> SearchResponse:
        """As `Client.search`."""
        return await self._send(calls.search(query, options))

    async def search_batch(self, queries: Sequence[str],
                           options: SearchOptions | None = None) -> list[SearchResponse]:
        """As `Client.search_batch`."""
        return await self._send(calls.search_batch(queries, options))

    async def context(self, question: str, options: SearchOptions | None = None,
                      token_budget: int | None = None) -> "ContextResult":
        """As `Client.context`."""
        return await self._send(calls.context(question, options, token_budget))

    async def document(self, doc_id: int) -> DocumentView:
        """As `Client.document`."""
        return await self._send(calls.document(doc_id))

    async def embeddings(self, texts: Sequence[str]) -> list[list[float]]:
        """As `Client.embeddings`."""
        return await self._send(calls.embeddings(texts))

    async def sync(self, path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
        """As `Client.sync`."""
        return await self._send(calls.sync(path))

    async def sync_status(self) -> dict[str, Any]:
        """As `Client.sync_status`."""
        return await self._send(calls.sync_status())

