"""Date ranges as the bar store's integer timestamps, and symbol names checked once at the edge.

A trader speaks in exchange-local dates, both ends inclusive; storage speaks in epoch seconds UTC,
end exclusive. These helpers are the one place that translation happens.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from mismartera.errors import UsageError
from mismartera.exchange import EXCHANGE_TZ
from mismartera.symbols import check_symbol

FIRST_TS = 0                 # 1970-01-01T00:00:00Z: bars are stored from here …
END_TS = 4_102_444_800       # … to 2100-01-01T00:00:00Z (exclusive); importers refuse anything else


def bar_time(ts: int) -> datetime | str:
    """A stored bar time as a UTC datetime; a time outside 1970-2099 (written by an older version or
    by hand) as a marked text, so that a listing shows the bad row instead of failing on it."""
    if FIRST_TS <= ts < END_TS:
        return datetime.fromtimestamp(ts, UTC)
    return f"invalid time {ts}"


def day_start_ts(day: date, tz: ZoneInfo = EXCHANGE_TZ) -> int:
    """Midnight of `day` in `tz`, as epoch seconds."""
    return int(datetime.combine(day, time(0, 0), tz).timestamp())


def inclusive_bounds(start: date | None, end: date | None) -> tuple[int | None, int | None]:
    """[start_ts, end_ts) for exchange-local days `start` … `end` (inclusive; None: open-ended).

    Inside 1970-2099 the bounds are midnights at the exchange. A start before 1970 reaches every earlier
    bar (bars with bad times included); an end after 2099 reaches every later one."""
    start_ts: int | None = None
    if start is not None and start.year >= 1970:
        start_ts = END_TS if start.year > 2099 else day_start_ts(start)
    end_ts: int | None = None
    if end is not None and end.year <= 2099:
        end_ts = FIRST_TS if end.year < 1970 else day_start_ts(end + timedelta(days=1))
    return start_ts, end_ts


def day_range_ts(start: date, end: date, tz: ZoneInfo = EXCHANGE_TZ) -> tuple[int, int]:
    """[midnight of start, midnight after end) in epoch seconds; `end` is inclusive."""
    if end < start:
        raise UsageError(f"end {end.isoformat()} is before start {start.isoformat()}")
    return day_start_ts(start, tz), day_start_ts(end + timedelta(days=1), tz)


def normalize_symbol(symbol: str) -> str:
    """Upper-case a ticker and check it against the one symbol rule (`mismartera.symbols`)."""
    try:
        return check_symbol(symbol)
    except ValueError as exc:
        raise UsageError(f"invalid symbol: {exc}") from None


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
