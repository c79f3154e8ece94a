"""Date ranges as the bar store's integer timestamps, and symbol names checked once at the edge.

A trader speaks in exchange-local dates, both ends inclusive; storage speaks in epoch seconds UTC,
end exclusive. These helpers are the one place that translation happens.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from mismartera.errors import UsageError
from mismartera.exchange import EXCHANGE_TZ

_SYMBOL = re.compile(r"^[A-Z][A-Z0-9.\-/]{0,15}$")


def day_start_ts(day: date, tz: ZoneInfo = EXCHANGE_TZ) -> int:
    """Midnight of `day` in `tz`, as epoch seconds."""
    return int(datetime.combine(day, time(0, 0), tz).timestamp())


def day_range_ts(start: date, end: date, tz: ZoneInfo = EXCHANGE_TZ) -> tuple[int, int]:
    """[midnight of start, midnight after end) in epoch seconds; `end` is inclusive."""
    if end < start:
        raise UsageError(f"end {end.isoformat()} is before start {start.isoformat()}")
    return day_start_ts(start, tz), day_start_ts(end + timedelta(days=1), tz)


def normalize_symbol(symbol: str) -> str:
    """Upper-case a ticker and check its shape (letters, digits, '.', '-', '/'; up to 16 characters)."""
    cleaned = symbol.strip().upper()
    if not _SYMBOL.match(cleaned):
        raise UsageError(f"invalid symbol '{symbol}' (expected a ticker like AAPL or BRK.B: "
                         "a letter, then up to 15 letters, digits, '.', '-' or '/')")
    return cleaned


def parse_symbols(text: str | list[str] | tuple[str, ...]) -> list[str]:
    """Symbols from 'AAPL,MSFT' (or a list of such), upper-cased, duplicates dropped, order kept."""
    parts = [text] if isinstance(text, str) else list(text)
    out: list[str] = []
    for part in parts:
        for piece in part.split(","):
            if piece.strip():
                symbol = normalize_symbol(piece)
                if symbol not in out:
                    out.append(symbol)
    if not out:
        raise UsageError("no symbols given (expected e.g. AAPL,MSFT)")
    return out
