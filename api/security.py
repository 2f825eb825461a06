"""Who may call what, and how much they may send: API keys, body size, CORS.

Keys: `SEMSEARCH_API_KEY` is the admin key (every route); `SEMSEARCH_READ_KEYS` are keys
that may search and read but not sync. With neither set the API is open, as suits a
server on 127.0.0.1. The check runs as ASGI middleware, before routing, so every route
is covered, also those mounted or added later, except the public ones below, which hold
no data: the health check and the search page's shell and assets (its data comes from
the protected routes).
"""

import hmac
import json
from typing import Literal

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from semsearch.settings import Settings

Role = Literal["admin", "read"]
PUBLIC_PATHS = frozenset({"/health", "/"})
PUBLIC_PREFIXES = ("/static/",)
UNAUTHORIZED = "missing or wrong API key: send `Authorization: Bearer <key>`"


def is_public(path: str) -> bool:
    """True for the routes anyone may call: /health, the page at / and /static/*."""
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def auth_enabled(settings: Settings) -> bool:
    return bool(settings.api_key or settings.read_keys)


def key_role(authorization: str | None, settings: Settings) -> Role | None:
    """The role of the `Authorization: Bearer <key>` header's key, None if it has none.

    Every configured key is compared, in constant time, whatever matches first.
    """
    scheme, _, given = (authorization or "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    presented = given.strip().encode()
    role: Role | None = None
    if settings.api_key and hmac.compare_digest(presented, settings.api_key.encode()):
        role = "admin"
    for key in settings.read_keys:
        if hmac.compare_digest(presented, key.encode()) and role is None:
            role = "read"
    return role


async def _send_json(send: Send, status: int, detail: str,
                     headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()), *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


class ApiKeyMiddleware:
    """Answers 401 to a request without a valid key, on every route but the public ones.

    Read keys pass here; routes that change the index also depend on `require_admin`.
    """

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app, self.settings = app, settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not auth_enabled(
                self.settings) or is_public(scope["path"]):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        if key_role(headers.get(b"authorization", b"").decode("latin-1"), self.settings):
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})  # policy violation
        else:
            await _send_json(send, 401, UNAUTHORIZED, [(b"www-authenticate", b"Bearer")])


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body over the limit of {limit} bytes "
                              "(SEMSEARCH_MAX_BODY_BYTES)")


class BodySizeLimitMiddleware:
    """Refuses bodies over `limit` bytes with 413: by Content-Length before reading, and
    by counting the bytes of a chunked body as they arrive."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await _send_json(send, 400, "Content-Length is not a number")
                return
            if int(declared) > self.limit:
                await _send_json(send, 413, BodyTooLarge(self.limit).detail)
                return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge(self.limit)  # FastAPI's routes answer it as 413
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge as error:  # raised through an app that does not catch it
            if not started:
                await _send_json(send, 413, error.detail)


def install_security(app: FastAPI, settings: Settings) -> None:
    """Add the key check, the body limit and, when origins are configured, CORS."""
    app.add_middleware(ApiKeyMiddleware, settings=settings)
    app.add_middleware(BodySizeLimitMiddleware, limit=settings.max_body_bytes)
    if settings.cors_origins:  # outermost, so that preflight requests need no key
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins,
                           allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"])
