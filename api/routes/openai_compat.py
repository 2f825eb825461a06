"""POST /v1/embeddings and GET /v1/models in OpenAI's format, so OpenAI clients can use
the index's model.

Errors here answer in OpenAI's shape, {"error": {"message", "type", "param", "code"}},
because OpenAI clients show only `error.message`; `detail` carries what our other routes
would have said. Status codes are the app's own (api/errors.py): 401, 404, 422.
"""

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Request, Response
from fastapi import Path as PathParameter
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from semsearch.api import examples
from semsearch.api.deps import get_searcher
from semsearch.api.errors import status_for, validation_errors
from semsearch.api.routes.tools import EncoderDep
from semsearch.api.tool_schemas import (
    OpenAIEmbedding,
    OpenAIEmbeddingList,
    OpenAIEmbeddingRequest,
    OpenAIErrorResponse,
    OpenAIModel,
    OpenAIModelList,
    OpenAIUsage,
)
from semsearch.indexer.errors import IndexerError
from semsearch.search import text_tools
from semsearch.search.errors import SearchError
from semsearch.search.searcher import Searcher


class OpenAIErrorRoute(APIRoute):
    """A route whose 4xx answers take OpenAI's error shape; 5xx go to the app's handlers."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as error:
                errors = validation_errors(error)
                first = ".".join(str(part) for part in errors[0]["loc"][1:]) if errors else None
                message = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:]) or 'body'}: "
                                    f"{e['msg']}" for e in errors)
                return openai_error(422, message, param=first or None, detail=errors)
            except HTTPException as error:
                code = "invalid_api_key" if error.status_code == 401 else None
                return openai_error(error.status_code, str(error.detail), code=code,
                                    headers=dict(error.headers or {}))
            except (SearchError, IndexerError) as error:
                if status_for(error) >= 500:
                    raise
                return openai_error(status_for(error), str(error))

        return route


router = APIRouter(prefix="/v1", tags=["openai"], route_class=OpenAIErrorRoute)


def openai_error(status: int, message: str, param: str | None = None, code: str | None = None,
                 detail: object = None, headers: dict[str, str] | None = None) -> JSONResponse:
    """A JSON error in OpenAI's shape, with `detail` as our other routes have it."""
    body = {"error": {"message": message, "type": "invalid_request_error", "param": param,
                      "code": code},
            "detail": message if detail is None else detail}
    return JSONResponse(body, status_code=status, headers=headers)


@router.post("/embeddings", response_model=OpenAIEmbeddingList,
             responses={404: {"model": OpenAIErrorResponse, "description": "unknown model"},
                        422: {"model": OpenAIErrorResponse, "description": "bad request"}})
def create_embeddings(
        request: Annotated[OpenAIEmbeddingRequest,
                           Body(openapi_examples=examples.OPENAI_EMBEDDINGS)],
        encoder: EncoderDep) -> OpenAIEmbeddingList | JSONResponse:
    """Embed `input` with the index's model; `model` must name it (full or short name)."""
    if not text_tools.accepts_model_name(encoder.model_name, request.model):
        names = " or ".join(repr(n) for n in text_tools.model_names(encoder.model_name))
        return openai_error(404, f"The model {request.model!r} does not exist here; this "
                            f"server embeds with {names}.", param="model",
                            code="model_not_found")
    batch = text_tools.embed_with_usage(encoder, request.texts(), request.dimensions)
    if request.encoding_format == "base64":
        embeddings: list[list[float] | str] = [text_tools.to_base64(v) for v in batch.vectors]
    else:
        embeddings = list(batch.vectors.tolist())
    tokens = sum(batch.token_counts)
    return OpenAIEmbeddingList(
        data=[OpenAIEmbedding(index=i, embedding=e) for i, e in enumerate(embeddings)],
        model=encoder.model_name,
        usage=OpenAIUsage(prompt_tokens=tokens, total_tokens=tokens))


def _model_entry(searcher: Searcher) -> OpenAIModel:
    return OpenAIModel(id=searcher.encoder.model_name, owned_by="semsearch",
                       created=int(searcher.reader.manifest.last_sync or 0))


@router.get("/models", response_model=OpenAIModelList)
def list_models(searcher: Annotated[Searcher, Depends(get_searcher)]) -> OpenAIModelList:
    """The one model this server embeds with: the index's, the `model` /v1/embeddings takes."""
    return OpenAIModelList(data=[_model_entry(searcher)])


@router.get("/models/{model:path}", response_model=OpenAIModel,
            responses={404: {"model": OpenAIErrorResponse, "description": "unknown model"}})
def retrieve_model(
        model: Annotated[str, PathParameter(openapi_examples={
            "short name": {"value": "all-MiniLM-L6-v2"}})],
        searcher: Annotated[Searcher, Depends(get_searcher)]) -> OpenAIModel | JSONResponse:
    """The index's model by its full or short name (any case); another name is a 404."""
    if not text_tools.accepts_model_name(searcher.encoder.model_name, model):
        names = " or ".join(repr(n) for n in text_tools.model_names(searcher.encoder.model_name))
        return openai_error(404, f"The model {model!r} does not exist here; this server "
                            f"embeds with {names}.", param="model", code="model_not_found")
    return _model_entry(searcher)
