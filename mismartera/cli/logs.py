"""Logging: everything to a rotating file in the state directory; only warnings and errors may be
shown to the user (the REPL prints those above the prompt). Tracebacks go to the file, never the
screen, unless `--debug`.
"""

from __future__ import annotations

import logging
import logging.handlers
import re
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)-7s [%(threadName)s] %(name)s: %(message)s"
_SECRET = re.compile(r"(?i)(secret|api[_-]?key|password|token)(['\"]?\s*[:=]\s*['\"]?)([^\s'\",}]+)")


class RedactSecrets(logging.Filter):
    """Mask anything that looks like `key=value` for a secret before it reaches a handler."""

    def __init__(self, secrets: list[str] | None = None) -> None:
        super().__init__()
        self.secrets = [s for s in (secrets or []) if s and len(s) >= 4]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = _SECRET.sub(lambda m: m.group(1) + m.group(2) + "***", message)
        for secret in self.secrets:
            cleaned = cleaned.replace(secret, "***")
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def setup_logging(log_file: Path, level: str = "INFO", secrets: list[str] | None = None,
                  debug: bool = False) -> logging.Handler:
    """Attach a rotating file handler to the root logger (idempotent)."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    for handler in root.handlers:
        if getattr(handler, "_mismartera", False):
            return handler
    handler = logging.handlers.RotatingFileHandler(log_file, maxBytes=5_000_000, backupCount=3, encoding="utf-8")
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(RedactSecrets(secrets))
    handler._mismartera = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else level)
    logging.getLogger("mismartera").setLevel(logging.DEBUG if debug else level)
    for noisy in ("alembic", "urllib3", "websockets", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return handler
