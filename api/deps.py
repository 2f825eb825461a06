"""Dependencies: the searcher kept on app.state, and the API key checks.

They are `async def` because none of them blocks: FastAPI runs a plain `def` dependency
in its thread pool, a hand-off to a worker thread and back for each one, on every
request.
"""

from fastapi import HTTPException, Request, status
from fastapi.security import HTTPBearer

from semsearch.api.security import UNAUTHORIZED, auth_enabled, key_role
from semsearch.indexer.background import BackgroundSync
from semsearch.search.searcher import Searcher
from semsearch.settings import Settings


async def get_searcher(request: Request) -> Searcher:
    searcher: Searcher = request.app.state.searcher
    return searcher


async def get_settings(request: Request) -> Settings:
    return _settings(request)


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_sync(request: Request) -> BackgroundSync:
    sync: BackgroundSync = request.app.state.sync
    return sync


# The key as OpenAPI's security scheme, so /docs has an "Authorize" button. It checks
# nothing (auto_error=False): the middleware in api/security.py and `require_read` do.
bearer_scheme = HTTPBearer(
    auto_error=False, scheme_name="apiKey",
    description="`Authorization: Bearer <key>`: SEMSEARCH_API_KEY or one of "
                "SEMSEARCH_READ_KEYS; needed only when the server sets keys")


async def require_read(request: Request) -> None:
    """With keys configured, demand `Authorization: Bearer <key>`, an admin or read key.

    The middleware in api/security.py already checks every route; this dependency also
    serves code that runs outside it (the MCP endpoint) and marks routes in the code.
    """
    settings = _settings(request)
    if auth_enabled(settings) and key_role(request.headers.get("authorization"),
                                           settings) is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail=UNAUTHORIZED,
                            headers={"WWW-Authenticate": "Bearer"})


async def require_admin(request: Request) -> None:
    """With keys configured, demand the admin key (SEMSEARCH_API_KEY): for routes that
    sync, change or delete. A read key gets 403."""
    settings = _settings(request)
    if not auth_enabled(settings):
        return
    role = key_role(request.headers.get("authorization"), settings)
    if role is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail=UNAUTHORIZED,
                            headers={"WWW-Authenticate": "Bearer"})
    if role != "admin":
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=(
            "this key may only search and read; this route needs the admin key "
            "(SEMSEARCH_API_KEY)"))


# The name the routers and the MCP endpoint were written against: read access.
require_api_key = require_read
