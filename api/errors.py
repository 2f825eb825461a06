"""The one place where domain errors and refused requests become HTTP responses."""

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from semsearch.indexer.encoders.cross_encoder import RerankerLoadError
from semsearch.indexer.errors import (
    IndexCorruptError,
    IndexerError,
    IndexLockedError,
    IndexMismatchError,
    IndexNotFoundError,
    IndexWriteError,
    PathNotAllowedError,
)
from semsearch.search.errors import InvalidQueryError, SearchError, TextTooLongError

log = logging.getLogger(__name__)

_STATUS: list[tuple[type[Exception], int]] = [
    (TextTooLongError, 413),  # Text Embeddings Inference's status for `truncate: false`
    (InvalidQueryError, 422),
    (RerankerLoadError, 503),  # the server lacks its cross-encoder (offline, wrong path)
    (IndexLockedError, 409),
    (IndexMismatchError, 409),
    (IndexNotFoundError, 503),
    (PathNotAllowedError, 403),
    (IndexWriteError, 507),  # Insufficient Storage: disk full or a failed write
    (IndexCorruptError, 500),
    (IndexerError, 500),
    (SearchError, 500),
]


def status_for(error: Exception) -> int:
    for error_type, status in _STATUS:
        if isinstance(error, error_type):
            return status
    return 500


def validation_errors(error: RequestValidationError) -> list[dict[str, Any]]:
    """pydantic's errors of a refused request, in a form strict JSON can carry.

    An error echoes what was refused (`input`, and an unknown key in `loc`): a lone
    surrogate is written as its escape (`\\ud800`), a float that is not finite as the
    token that was sent (`NaN`, `Infinity`, `-Infinity`). Otherwise the 422 itself could
    not be encoded, and the client would get a 500.
    """
    errors: list[dict[str, Any]] = _sendable(jsonable_encoder(error.errors()))
    return errors


def _sendable(value: Any) -> Any:
    # Loops, not comprehensions: one frame per level of an input nested as deep as
    # jsonable_encoder (one frame per level too) could go.
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        sendable = {}
        for key, item in value.items():
            sendable[_sendable(key)] = _sendable(item)
        return sendable
    if isinstance(value, list):
        items = []
        for item in value:
            items.append(_sendable(item))
        return items
    return value


def install_error_handlers(app: FastAPI) -> None:
    async def refused(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        return JSONResponse({"detail": validation_errors(error)}, status_code=422)

    async def handle(request: Request, error: Exception) -> JSONResponse:
        status = status_for(error)
        if status >= 500:
            log.error("%s %s failed", request.method, request.url.path, exc_info=error)
        body = {"detail": str(error)}
        if isinstance(error, TextTooLongError):  # only TEI's request shapes raise it
            body = {"error": str(error), "error_type": "Validation", **body}  # TEI's keys
        return JSONResponse(body, status_code=status)

    app.add_exception_handler(RequestValidationError, refused)
    app.add_exception_handler(IndexerError, handle)
    app.add_exception_handler(SearchError, handle)
