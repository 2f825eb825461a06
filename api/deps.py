"""Dependencies: the searcher kept on app.state, and the API key check."""

import hmac

from fastapi import HTTPException, Request, status

from indexer.background import BackgroundSync
from indexer.settings import Settings
from search.searcher import Searcher


def get_searcher(request: Request) -> Searcher:
    searcher: Searcher = request.app.state.searcher
    return searcher


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_sync(request: Request) -> BackgroundSync:
    sync: BackgroundSync = request.app.state.sync
    return sync


def require_api_key(request: Request) -> None:
    """With SEMSEARCH_API_KEY set, demand `Authorization: Bearer <key>` (constant time)."""
    expected = get_settings(request).api_key
    if not expected:
        return
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), expected.encode()
    ):
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="missing or wrong API key: send `Authorization: Bearer <key>`",
            headers={"WWW-Authenticate": "Bearer"},
        )
