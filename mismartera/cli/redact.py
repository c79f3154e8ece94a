"""Mask secrets in text before it is written anywhere: the history file, the log file, script echo.

Two nets: anything shaped like `key=value` / `key: value` / `--api-key value` for a secret-sounding
name, and the exact values of the keys this process knows (the configured Alpaca keys), wherever
they appear. Database URL passwords (`scheme://user:pw@host`, `?password=…`) are masked too.

Linear time on any input: every pattern starts only at a word boundary and its repetitions are
bounded or stop at a delimiter, and text over `MASK_LIMIT` characters is cut there first (what
follows is replaced by a count), so a 1 MB line is masked in milliseconds.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from mismartera.config.settings import mask_url

MASK = "***"
MASK_LIMIT = 4096
_WORD = r"(?<![a-z0-9_-])"
_NAMES = (r"(?:[a-z0-9_-]{0,32}?(?:secret|api[_-]?key|password|passwd|pwd|token|key[_-]?id|access[_-]?key)"
          r"[a-z0-9_-]{0,32})")
_ASSIGNED = re.compile(rf"(?i){_WORD}(?P<name>{_NAMES})(?P<sep>['\"]?[ \t]{{0,8}}[:=][ \t]{{0,8}}['\"]?)"
                       r"(?P<value>[^\s'\",}&]+)")
_OPTION = re.compile(rf"(?i)(?<![a-z0-9_-])(?P<name>--{_NAMES})(?P<sep>[ \t]{{1,8}}|=)(?P<value>[^\s'\"]+)")


def truncate(text: str, limit: int = MASK_LIMIT) -> str:
    """`text` cut to `limit` characters, the rest replaced by how much there was."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit:,} more characters)"


class Redactor:
    """Masks secrets in strings; `known` are exact secret values (shorter than 4 characters: ignored)."""

    def __init__(self, known: Iterable[str | None] = ()) -> None:
        self.known = sorted({k for k in known if k and len(k) >= 4}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        return self.mask(text)

    def mask(self, text: str) -> str:
        """`text` with secrets masked; over `MASK_LIMIT` characters it is cut first (see `truncate`)."""
        if len(text) > MASK_LIMIT:
            # a known secret straddling the cut must not survive in its first half
            for secret in self.known:
                text = text.replace(secret, MASK)
            text = truncate(text)
        for secret in self.known:
            text = text.replace(secret, MASK)
        text = _ASSIGNED.sub(lambda m: m.group("name") + m.group("sep") + MASK, text)
        text = _OPTION.sub(lambda m: m.group("name") + m.group("sep") + MASK, text)
        return mask_url(text)
