"""Price and volume questions asked of stored 1-minute bars: high/low over N trading days, average
daily volume, one session's statistics.

Windows follow the exchange calendar: only the regular session of each trading day counts
(holidays have none; an early close ends at 13:00). The work is done by the database: the sessions
of the window are a small VALUES list joined on the bars' (symbol, interval, ts) key, so each
session is one index range and the aggregate (or the ORDER BY … LIMIT 1) runs in SQL, never a
Python loop over rows.

The statements are plain SQL that SQLite and PostgreSQL both accept, written once and run by a
`SqlReader` (`mismartera.data.sql_readers`): through the process's `Database`, or straight on a
SQLite file with the standard library, so a one-shot query needs no SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from mismartera.data.sql_readers import DatabaseReader, SqlReader
from mismartera.errors import NotFound, UsageError

if TYPE_CHECKING:
    from mismartera.data.database import Database
    from mismartera.timekeeping.calendar import TimeManager, TradingSession

# The bars of one symbol's 1m series inside the window's sessions (`sessions(o, c)`, epoch seconds).
IN_SESSIONS = ('FROM bars b JOIN sessions s ON b.ts >= s.o AND b.ts < s.c '
               'WHERE b.symbol = ? AND b."interval" = \'1m\'')


@dataclass(frozen=True)
class HighLow:
    symbol: str
    days: int
    start: date
    end: date
    high: float
    high_at: datetime
    low: float
    low_at: datetime


@dataclass(frozen=True)
class AverageVolume:
    symbol: str
    days: int
    days_with_data: int
    start: date
    end: date
    average_volume: float


@dataclass(frozen=True)
class SessionStats:
    symbol: str
    date: date
    open: float
    high: float
    low: float
    close: float
    volume: float
    vwap: float | None
    bars: int
    missing: int


def _utc(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _reader(source: Database | SqlReader) -> SqlReader:
    return source if hasattr(source, "rows") else DatabaseReader(source)


def _windows(sessions: Sequence[TradingSession], until_ts: int | None = None) -> tuple[str, list[int]]:
    """The sessions as the SQL of a `sessions(o, c)` VALUES list of epoch seconds, and its parameters."""
    rows = [(int(s.open.timestamp()), int(s.close.timestamp())) for s in sessions]
    if until_ts is not None:
        rows = [(o, min(c, until_ts)) for o, c in rows if o < until_ts]
    if not rows:
        rows = [(0, 0)]   # an empty window: no bar is inside it
    values = ", ".join(["(CAST(? AS BIGINT), CAST(? AS BIGINT))"] * len(rows))
    return f"WITH sessions(o, c) AS (VALUES {values}) ", [ts for row in rows for ts in row]


def _in_sessions(source: Database | SqlReader, symbol: str, sessions: Sequence[TradingSession], select: str,
                 rest: str = "", until_ts: int | None = None) -> list[tuple[Any, ...]]:
    """`SELECT select` over the symbol's 1m bars inside the sessions, then `rest` (ORDER BY, LIMIT…)."""
    prefix, params = _windows(sessions, until_ts)
    return _reader(source).rows(f"{prefix}SELECT {select} {IN_SESSIONS} {rest}", [*params, symbol])


def latest_day(source: Database | SqlReader, tm: TimeManager, symbol: str) -> date:
    """The exchange date of `symbol`'s last stored 1m bar, or NotFound."""
    last = _reader(source).rows('SELECT MAX(ts) FROM bars WHERE symbol = ? AND "interval" = \'1m\'', [symbol])[0][0]
    if last is None:
        raise NotFound(f"no 1m bars stored for '{symbol}' (try 'data import-file' or 'data import-api')")
    return tm.to_exchange(_utc(last)).date()


def window_sessions(tm: TimeManager, days: int, end: date) -> list[TradingSession]:
    """The last `days` trading sessions ending at `end` (or the trading day before it, when closed)."""
    if days < 1:
        raise UsageError(f"DAYS must be 1 or more (got {days})")
    last = end if tm.is_trading_day(end) else tm.previous_trading_day(end)
    first = tm.previous_trading_day(last, days - 1) if days > 1 else last
    return tm.sessions(first, last)


def high_low(source: Database | SqlReader, tm: TimeManager, symbol: str, days: int,
             end: date | None = None) -> HighLow:
    """Highest high and lowest low of the regular-session 1m bars over the window, with their bars' times
    (the earliest bar when a price repeats)."""
    sessions = window_sessions(tm, days, end or latest_day(source, tm, symbol))
    top = _in_sessions(source, symbol, sessions, "b.high, b.ts", "ORDER BY b.high DESC, b.ts LIMIT 1")
    bottom = _in_sessions(source, symbol, sessions, "b.low, b.ts", "ORDER BY b.low, b.ts LIMIT 1")
    if not top or not bottom:
        raise NotFound(f"no regular-session 1m bars of '{symbol}' from {sessions[0].day.isoformat()} "
                       f"to {sessions[-1].day.isoformat()}")
    return HighLow(symbol, days, sessions[0].day, sessions[-1].day, top[0][0], _utc(top[0][1]), bottom[0][0],
                   _utc(bottom[0][1]))


def average_volume(source: Database | SqlReader, tm: TimeManager, symbol: str, days: int,
                   end: date | None = None) -> AverageVolume:
    """Mean regular-session volume per trading day over the window, counting only days that have bars
    (`days_with_data` says how many)."""
    sessions = window_sessions(tm, days, end or latest_day(source, tm, symbol))
    prefix, params = _windows(sessions)
    counted, total = _reader(source).rows(
        f"{prefix}SELECT COUNT(*), SUM(volume) FROM (SELECT s.o, SUM(b.volume) AS volume {IN_SESSIONS} "
        "GROUP BY s.o) per_day", [*params, symbol])[0]
    if not counted:
        raise NotFound(f"no regular-session 1m bars of '{symbol}' from {sessions[0].day.isoformat()} "
                       f"to {sessions[-1].day.isoformat()}")
    return AverageVolume(symbol, days, counted, sessions[0].day, sessions[-1].day, float(total) / counted)


def session_stats(source: Database | SqlReader, tm: TimeManager, symbol: str, day: date,
                  until: datetime | None = None) -> SessionStats:
    """One regular session's OHLC, volume, VWAP, bar count and missing minutes (up to `until` when given:
    the running session's day so far). VWAP is Σ bar VWAP × volume / Σ volume, with (high+low+close)/3
    for a bar that has none."""
    session = tm.session(day)
    if session is None:
        raise NotFound(f"{day.isoformat()} is not a trading day (the exchange is closed)")
    until_ts = int(until.timestamp()) if until is not None else None
    price = "CASE WHEN b.vwap IS NULL THEN (b.high + b.low + b.close) / 3.0 ELSE b.vwap END"
    high, low, volume, weighted, count, first_ts, last_ts = _in_sessions(
        source, symbol, [session], f"MAX(b.high), MIN(b.low), SUM(b.volume), SUM({price} * b.volume), COUNT(*), "
        "MIN(b.ts), MAX(b.ts)", until_ts=until_ts)[0]
    if not count:
        raise NotFound(f"no regular-session 1m bars of '{symbol}' on {day.isoformat()}")
    at = 'SELECT open, close FROM bars WHERE symbol = ? AND "interval" = \'1m\' AND ts = ?'
    first = _reader(source).rows(at, [symbol, first_ts])[0][0]
    last = _reader(source).rows(at, [symbol, last_ts])[0][1]
    minutes = session.minutes
    if until_ts is not None:
        minutes = max(0, min(minutes, (until_ts - int(session.open.timestamp())) // 60))
    return SessionStats(symbol, day, first, high, low, last, float(volume),
                        float(weighted) / volume if volume else None, count, max(0, minutes - count))
