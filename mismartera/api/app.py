"""The FastAPI application of the control API.

`create_app(ctx, token)` builds it around the owner's `AppContext`: the bearer-token and body-size
guards in front of everything (the docs at `/docs` too), one-line JSON errors with the exit code
the CLI would give, and the routers of `mismartera.api.routes`. More routers (a dashboard) are
passed in `routers`, so the factory grows without changing.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterable
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBearer
from starlette.exceptions import HTTPException

from mismartera import __version__
from mismartera.api.errors import error_body, http_status, plain_error
from mismartera.api.guard import MAX_BODY_BYTES, LimitBody, RequireToken
from mismartera.api.routes import ROUTERS
from mismartera.commands.context import AppContext
from mismartera.errors import ExitCode, MismarteraError

log = logging.getLogger("mismartera.api")


def _validation_message(exc: RequestValidationError) -> tuple[int, dict[str, Any]]:
    """FastAPI's list of problems as one line: malformed JSON is a 400, a wrong field a 422."""
    problems = exc.errors()
    for problem in problems:
        if problem.get("type") == "json_invalid":
            detail = problem.get("ctx", {}).get("error") or problem.get("msg", "")
            return 400, plain_error(f"request body is not valid JSON ({detail})", ExitCode.USAGE, "UsageError")
    parts = []
    for problem in problems:
        where = ".".join(str(p) for p in problem.get("loc", ()) if p not in ("body", "query", "path"))
        parts.append(f"{where or 'request'}: {problem.get('msg', 'invalid')}")
    return 422, plain_error("; ".join(parts) or "invalid request", ExitCode.USAGE, "UsageError")


def create_app(ctx: AppContext, token: str, routers: Iterable[APIRouter] = ()) -> FastAPI:
    """The control API over `ctx`'s session; every request needs `Authorization: Bearer <token>`."""
    app = FastAPI(title="mismartera control API", version=__version__,
                  description="The session of one mismartera process: the same commands, the same JSON as "
                              "`--json`. Every route needs `Authorization: Bearer TOKEN` (the state dir's "
                              "api-token file).",
                  # Checked by RequireToken; declared here so the docs offer an "Authorize" button.
                  dependencies=[Depends(HTTPBearer(auto_error=False, description="the api-token file's token"))])
    app.state.ctx = ctx

    @app.exception_handler(MismarteraError)
    def mismartera_error(request: Request, exc: MismarteraError) -> JSONResponse:
        return JSONResponse(error_body(exc), status_code=http_status(exc))

    @app.exception_handler(RequestValidationError)
    def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        status, body = _validation_message(exc)
        return JSONResponse(body, status_code=status)

    @app.exception_handler(HTTPException)
    def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        message = f"{request.method} {request.url.path}: {exc.detail}"
        if exc.status_code == 404:
            message += " (the routes are listed at /docs)"
        return JSONResponse(plain_error(message, ExitCode.USAGE, "UsageError"), status_code=exc.status_code)

    @app.exception_handler(Exception)
    def internal_error(request: Request, exc: Exception) -> JSONResponse:
        log.error("internal error in %s %s: %r\n%s", request.method, request.url.path, exc,
                  "".join(traceback.format_exception(exc)))
        return JSONResponse(plain_error(f"internal error: {type(exc).__name__}: {exc} (details in the owner's log "
                                        "file)", ExitCode.FAILED), status_code=500)

    for router in (*ROUTERS, *routers):
        app.include_router(router)
    # Outermost first: the token is checked before anything reads the body.
    app.add_middleware(LimitBody, limit=MAX_BODY_BYTES)
    app.add_middleware(RequireToken, token=token)
    return app
