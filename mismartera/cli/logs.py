"""Logging: everything to a rotating file in the state directory; only warnings and errors reach the
screen, one line each (in the REPL they appear above the prompt, never inside the input line).
Tracebacks go to the file, never the screen, unless `--debug`. Secrets are masked on every path.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
from pathlib import Path

from mismartera.cli.redact import Redactor
from mismartera.errors import MismarteraError
from mismartera.files import make_private, os_error_line

FORMAT = "%(asctime)s %(levelname)-7s [%(threadName)s] %(name)s: %(message)s"


class RedactSecrets(logging.Filter):
    """Mask secrets (key=value shapes and the configured key values) before a record reaches a handler."""

    def __init__(self, secrets: list[str] | None = None) -> None:
        super().__init__()
        self.redactor = Redactor(secrets or [])

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = self.redactor.mask(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class ConsoleHandler(logging.Handler):
    """WARNING and above as one dim line on stderr, looked up at each record so that the REPL's
    `patch_stdout` (active while the prompt is shown) can print it above the input line.
    Records logged with `extra={"console": False}` stay in the file only, and so do alpaca-py's
    own (its errors come with tracebacks; mismartera's Alpaca adapter says what happened in one
    line of its own)."""

    def __init__(self, level: int = logging.WARNING) -> None:
        super().__init__(level)

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "console", True) is False or record.name.split(".", 1)[0] == "alpaca":
            return
        try:
            if record.name.startswith("urllib3"):
                first = network_line(record)
            else:
                first = record.getMessage().splitlines()[0] if record.getMessage() else ""
            stream = sys.stderr
            stream.write(f"{record.levelname.lower()}: {first}\n")
            stream.flush()
        except Exception:
            self.handleError(record)


class PrivateLogFile(logging.handlers.RotatingFileHandler):
    """The rotating log file, created 0600 (it may hold command lines and errors). When it cannot be
    written (disk full, permissions), one line says so on stderr and later records are dropped,
    instead of a `--- Logging error ---` traceback per record."""

    broken = False

    def _open(self):  # type: ignore[no-untyped-def]
        make_private(Path(self.baseFilename))  # created 0600, or narrowed to it (a regular file only)
        return super()._open()

    def emit(self, record: logging.LogRecord) -> None:
        if not self.broken:
            super().emit(record)

    def handleError(self, record: logging.LogRecord) -> None:
        if self.broken:
            return
        self.broken = True
        exc = sys.exc_info()[1]
        line = (os_error_line(exc, "writing the log", self.baseFilename) if isinstance(exc, OSError)
                else f"cannot write the log {self.baseFilename}: {exc}")
        try:
            sys.stderr.write(f"warning: {line}; further log lines are dropped\n")
            sys.stderr.flush()
        except Exception:
            pass


# What urllib3's connection errors mean, in plain words (its own message is the Retry object's repr).
NETWORK_REASONS = {
    "NewConnectionError": "could not connect",
    "ConnectTimeoutError": "connecting timed out",
    "ReadTimeoutError": "the answer timed out",
    "ProtocolError": "the connection dropped",
    "SSLError": "TLS failed",
    "ProxyError": "the proxy failed",
}


def network_line(record: logging.LogRecord) -> str:
    """urllib3's warnings (`Retrying (_CappedRetry(total=0, …)) after connection broken by …: /v2/…`)
    as one plain line; the record itself, with every detail, still goes to the log file."""
    args = record.args if isinstance(record.args, tuple) else ()
    if len(args) == 3 and str(record.msg).startswith("Retrying"):
        _, error, url = args
        reason = NETWORK_REASONS.get(type(error).__name__, type(error).__name__)
        return f"network: {reason} for {url}, retrying (details in the log)"
    message = record.getMessage().splitlines()[0] if record.getMessage() else ""
    return f"network: {message[:120]}" + (" … (details in the log)" if len(message) > 120 else "")


def setup_logging(log_file: Path, level: str = "INFO", secrets: list[str] | None = None,
                  debug: bool = False, console: bool = True) -> logging.Handler:
    """Attach a rotating file handler (and the one-line console handler) to the root logger (idempotent)."""
    root = logging.getLogger()
    for existing in root.handlers:
        if getattr(existing, "_mismartera", False):
            return existing
    redact = RedactSecrets(secrets)
    try:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handler = PrivateLogFile(log_file, maxBytes=5_000_000, backupCount=3, encoding="utf-8")
    except OSError as exc:
        raise MismarteraError(os_error_line(exc, "opening the log", log_file)) from None
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(redact)
    handler._mismartera = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    if console:
        shown = ConsoleHandler()
        shown.addFilter(redact)
        root.addHandler(shown)
    root.setLevel(logging.DEBUG if debug else level)
    logging.getLogger("mismartera").setLevel(logging.DEBUG if debug else level)
    for noisy in ("alembic", "urllib3", "websockets", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return handler
