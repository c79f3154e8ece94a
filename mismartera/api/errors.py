"""Errors across the API, both ways: an exception becomes an HTTP status and a one-line JSON body;
the client turns that body back into the same exception, so a command run through the API exits
with the same code and message as in the owner's own shell."""

from __future__ import annotations

from typing import Any

from mismartera import errors
from mismartera.errors import ExitCode, MismarteraError

# exit code -> HTTP status
HTTP_STATUS = {ExitCode.FAILED: 500, ExitCode.USAGE: 400, ExitCode.WRONG_STATE: 409, ExitCode.BAD_CONFIG: 422,
               ExitCode.TIMEOUT: 504, ExitCode.INTERRUPTED: 503}


def _kinds() -> dict[str, type[MismarteraError]]:
    found: dict[str, type[MismarteraError]] = {}
    pending: list[type[MismarteraError]] = [MismarteraError]
    while pending:
        cls = pending.pop()
        found[cls.__name__] = cls
        pending.extend(cls.__subclasses__())
    return found


def error_body(exc: MismarteraError) -> dict[str, Any]:
    """The JSON body for an error the CLI would show as one line (its message) and an exit code."""
    return {"error": exc.message, "exit_code": int(exc.exit_code), "kind": type(exc).__name__}


def http_status(exc: MismarteraError) -> int:
    if isinstance(exc, errors.NotFound):
        return 404
    return HTTP_STATUS.get(exc.exit_code, 500)


def plain_error(message: str, code: ExitCode, kind: str = "MismarteraError") -> dict[str, Any]:
    return {"error": message, "exit_code": int(code), "kind": kind}


def from_body(body: Any, status: int) -> MismarteraError:
    """The exception an error response stands for (a MismarteraError of the same kind and message)."""
    if not isinstance(body, dict) or "error" not in body:
        return errors.ExternalServiceError(f"the session's API answered HTTP {status} without an error message")
    message = str(body["error"])
    cls = _kinds().get(str(body.get("kind")), MismarteraError)
    exc = MismarteraError.__new__(cls)
    MismarteraError.__init__(exc, message)
    if isinstance(exc, errors.ConfigError):
        exc.problems = []
    if isinstance(exc, errors.UsageError):
        exc.usage = None
    code = body.get("exit_code")
    if cls is MismarteraError and isinstance(code, int) and code in ExitCode._value2member_map_:
        exc.exit_code = ExitCode(code)
    return exc
