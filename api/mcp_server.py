"""The index as an MCP server: tools `search`, `context` and `get_document`.

Two transports share one tool set: stdio (`semsearch mcp`, for desktop chat apps that
start the server themselves) and streamable HTTP at `/mcp` on the FastAPI app, behind
the same API key as the other routes. Over HTTP the server is stateless and answers in
JSON: the tools need no session, and any uvicorn worker can answer any request.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp
from pydantic import BaseModel, Field, FiniteFloat
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from semsearch.api.deps import require_api_key
from semsearch.api.request_model import ValidText
from semsearch.api.schemas import MAX_K, MAX_QUERY_CHARS, FiltersIn, Mode, to_filters
from semsearch.indexer.errors import IndexerError
from semsearch.search.context import (
    DEFAULT_TOKEN_BUDGET,
    MAX_TOKEN_BUDGET,
    ContextResult,
    build_context,
)
from semsearch.search.errors import SearchError
from semsearch.search.hits import SearchResponse
from semsearch.search.options import Mode as SearchMode
from semsearch.search.options import SearchOptions
from semsearch.search.passages import document_text
from semsearch.search.searcher import Searcher
from semsearch.settings import Settings

MCP_PATH = "/mcp"
MAX_DOCUMENT_CHARS = 200_000

INSTRUCTIONS = (
    "Search the user's own indexed documents. `context` answers a question with numbered, "
    "cited passages that fit a token budget: cite them as [1], [2]. `search` lists "
    "matching chunks with their scores; `get_document` reads a whole document by the "
    "doc_id a hit gives."
)


class McpChunk(BaseModel):
    chunk_id: int
    ordinal: int
    start: int
    end: int
    page: int | None


class McpDocument(BaseModel):
    doc_id: int
    path: str
    title: str
    format: str
    length: int = Field(description="characters in the whole document's text")
    start: int = Field(description="offset of `text` in the document")
    end: int
    text: str
    chunks: list[McpChunk] = Field(description="the chunks that overlap `text`")


# The tools' arguments are checked as the HTTP routes' bodies are (api/request_model.py):
# text that is not Unicode and numbers that are not finite are tool errors naming them.
Query = Annotated[str, Field(min_length=1, max_length=MAX_QUERY_CHARS,
                             description="what to look for, in plain words"), ValidText]
K = Annotated[int, Field(ge=1, le=MAX_K, description=f"results wanted, 1 to {MAX_K}")]


@contextmanager
def _tool_errors() -> Iterator[None]:
    """The packages' own errors reach the model as a tool error with their message."""
    try:
        yield
    except (SearchError, IndexerError) as error:
        raise ToolError(str(error)) from error


def build_mcp_server(get_searcher: Callable[[], Searcher]) -> MCPServer[Any]:
    """An MCP server whose tools search the index that `get_searcher()` returns."""
    server: MCPServer[Any] = MCPServer("semsearch", version="0.1.0",
                                       instructions=INSTRUCTIONS, log_level="WARNING")

    @server.tool()
    def search(query: Query, k: K = 5, mode: Mode = "hybrid",
               filters: FiltersIn | None = None) -> SearchResponse:
        """Find the chunks of the indexed documents that best match `query`."""
        with _tool_errors():
            response = get_searcher().search(query, SearchOptions(
                k=k, mode=SearchMode(mode), filters=to_filters(filters), highlight=False))
        return response

    @server.tool()
    def context(
        question: Query, k: K = 10,
        token_budget: Annotated[int, Field(ge=1, le=MAX_TOKEN_BUDGET)] = DEFAULT_TOKEN_BUDGET,
        mode: Mode = "hybrid", filters: FiltersIn | None = None,
        min_score: FiniteFloat | None = None,
    ) -> ContextResult:
        """Passages answering `question`, merged, numbered [1], [2]… with citations and
        packed into at most `token_budget` tokens; empty with a note when none scores
        at least `min_score`."""
        with _tool_errors():
            options = SearchOptions(k=k, mode=SearchMode(mode), filters=to_filters(filters),
                                    min_score=min_score)
            result = build_context(get_searcher(), question, options, token_budget)
        return result

    @server.tool()
    def get_document(
        # SQLite ids are positive 64-bit integers; a larger number is no id, not a crash.
        doc_id: Annotated[int, Field(ge=1, le=2**63 - 1)],
        start: Annotated[int, Field(ge=0)] = 0,
        max_chars: Annotated[int, Field(ge=1, le=MAX_DOCUMENT_CHARS)] = 20_000,
    ) -> McpDocument:
        """The text of one document (by the doc_id of a hit), `max_chars` from `start`."""
        with _tool_errors():
            view = get_searcher().document(doc_id)
        if view is None:
            raise ToolError(f"no document with id {doc_id}; take a doc_id from a search hit")
        text = document_text(view)
        end = min(len(text), start + max_chars)
        chunks = [McpChunk(chunk_id=c.chunk_id, ordinal=c.ordinal, start=c.start, end=c.end,
                           page=c.page) for c in view.chunks if c.start < end and c.end > start]
        return McpDocument(doc_id=view.doc_id, path=view.path, title=view.title,
                           format=view.format, length=len(text), start=min(start, end),
                           end=end, text=text[start:end], chunks=chunks)

    return server


class _RequireApiKey:
    """ASGI wrapper: the API key check of the FastAPI routes, for the MCP endpoint."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.route: Route | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # FastAPI's own routes record themselves so; metrics and logs read the template.
        scope["route"] = self.route
        if scope["type"] == "http":
            try:
                await require_api_key(Request(scope))
            except HTTPException as error:
                response = JSONResponse({"detail": error.detail}, error.status_code,
                                        headers=error.headers)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def mount_mcp(app: FastAPI, settings: Settings) -> MCPServer[Any]:
    """Serve the MCP tools at `/mcp` over streamable HTTP, behind the API key.

    The server's session manager must run inside the app's lifespan:
    `async with server.session_manager.run(): ...`.
    """
    server = build_mcp_server(lambda: app.state.searcher)
    # Builds the session manager; its Starlette app is not used, the route below is.
    # `host` turns on the SDK's DNS-rebinding check when serving on localhost only.
    server.streamable_http_app(stateless_http=True, json_response=True, host=settings.host)
    endpoint = _RequireApiKey(StreamableHTTPASGIApp(server.session_manager))
    endpoint.route = Route(MCP_PATH, endpoint, include_in_schema=False)
    app.router.routes.append(endpoint.route)
    return server
