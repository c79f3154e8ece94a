"""Two plain ASGI middlewares in front of every route: the bearer token, compared in constant time,
and a cap on the size of request bodies.

The OpenAPI docs (`/docs` and the schema it loads) and the dashboard's page and files are the
exceptions to the token: a browser cannot send a bearer header for a page it opens, and they
describe the routes, never the session.
Their "Authorize" button takes the token for "Try it out"; the dashboard sends it from its URL fragment."""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from mismartera.api.errors import plain_error
from mismartera.errors import ExitCode

MAX_BODY_BYTES = 1_000_000

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


async def send_json(send: Send, status: int, body: dict[str, Any], headers: Sequence[tuple[bytes, bytes]] = ()) -> None:
    payload = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": payload})


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value
    return None


PUBLIC_PATHS = ("/docs", "/docs/oauth2-redirect", "/openapi.json", "/")
# The dashboard's page and static files (mismartera.api.dashboard): code, never session data.
PUBLIC_PREFIXES = ("/dashboard/static/",)


def _public(scope: Scope) -> bool:
    if scope.get("method") != "GET":
        return False
    path = scope.get("path") or ""
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


class RequireToken:
    """401 unless `Authorization: Bearer TOKEN` carries this process's token (the docs excepted)."""

    def __init__(self, app: App, token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _public(scope):
            await self.app(scope, receive, send)
            return
        given = _header(scope, b"authorization") or b""
        if not hmac.compare_digest(given, self.expected):
            reason = "missing" if not given else "wrong"
            await send_json(send, 401, plain_error(
                f"{reason} bearer token (send Authorization: Bearer TOKEN, the token is in the state "
                "dir's api-token file)", ExitCode.FAILED, "Unauthorized"),
                [(b"www-authenticate", b"Bearer")])
            return
        await self.app(scope, receive, send)


class LimitBody:
    """413 for a body over `limit` bytes, 411 for a body without a length (chunked uploads)."""

    def __init__(self, app: App, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = _header(scope, b"content-length")
        if length is None and _header(scope, b"transfer-encoding") is not None:
            await send_json(send, 411, plain_error("request body without a Content-Length (send the length)",
                                                   ExitCode.USAGE, "UsageError"))
            return
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            await send_json(send, 413, plain_error(
                f"request body too large (at most {self.limit:,} bytes)", ExitCode.USAGE, "UsageError"))
            return
        await self.app(scope, receive, send)
