"""The one place where domain errors become HTTP responses."""

import logging

from fastapi import FastAPI, Request
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


def install_error_handlers(app: FastAPI) -> None:
    async def handle(request: Request, error: Exception) -> JSONResponse:
        status = status_for(error)
        if status >= 500:
            log.error("%s %s failed", request.method, request.url.path, exc_info=error)
        body = {"detail": str(error)}
        if isinstance(error, TextTooLongError):  # only TEI's request shapes raise it
            body = {"error": str(error), "error_type": "Validation", **body}  # TEI's keys
        return JSONResponse(body, status_code=status)

    app.add_exception_handler(IndexerError, handle)
    app.add_exception_handler(SearchError, handle)
