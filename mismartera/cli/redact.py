"""Mask secrets in text before it is written anywhere: the history file, the log file, script echo.

Two nets: anything shaped like `key=value` / `key: value` / `--api-key value` for a secret-sounding
name, and the exact values of the keys this process knows (the configured Alpaca keys), wherever
they appear. Database URL passwords (`scheme://user:pw@host`) are masked too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MASK = "***"
_NAMES = r"(?:[a-z0-9_-]*(?:secret|api[_-]?key|password|passwd|pwd|token|key[_-]?id|access[_-]?key)[a-z0-9_-]*)"
_ASSIGNED = re.compile(rf"(?i)(?P<name>{_NAMES})(?P<sep>['\"]?\s*[:=]\s*['\"]?)(?P<value>[^\s'\",}}]+)")
_OPTION = re.compile(rf"(?i)(?P<name>--{_NAMES})(?P<sep>\s+|=)(?P<value>[^\s'\"]+)")
_URL_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.\-]*://[^:/@\s]*:)(?P<value>[^@\s]+)(?P<tail>@)")


class Redactor:
    """Masks secrets in strings; `known` are exact secret values (shorter than 4 characters: ignored)."""

    def __init__(self, known: Iterable[str | None] = ()) -> None:
        self.known = sorted({k for k in known if k and len(k) >= 4}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        return self.mask(text)

    def mask(self, text: str) -> str:
        for secret in self.known:
            text = text.replace(secret, MASK)
        text = _ASSIGNED.sub(lambda m: m.group("name") + m.group("sep") + MASK, text)
        text = _OPTION.sub(lambda m: m.group("name") + m.group("sep") + MASK, text)
        return _URL_PASSWORD.sub(lambda m: m.group("head") + MASK + m.group("tail"), text)
