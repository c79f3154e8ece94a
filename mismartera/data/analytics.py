"""Price and volume questions asked of stored 1-minute bars: high/low over N trading days, average
daily volume, one session's statistics.

Windows follow the exchange calendar: only the regular session of each trading day counts
(holidays have none; an early close ends at 13:00). The work is done by the database: the sessions
of the window are a small VALUES list joined on the bars' (symbol, interval, ts) key, so each
session is one index range and the aggregate (or the ORDER BY … LIMIT 1) runs in SQL, never a
Python loop over rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import BigInteger, and_, case, column, func, select, values
from sqlalchemy.sql import Select

from mismartera.data.database import Database
from mismartera.data.schema import bars
from mismartera.errors import NotFound, UsageError
from mismartera.timekeeping.calendar import TimeManager, TradingSession


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


def _windows(sessions: Sequence[TradingSession], until_ts: int | None = None):  # type: ignore[no-untyped-def]
    """The sessions as a VALUES list of (o, c) epoch seconds, for joining on the bars' key."""
    rows = [(int(s.open.timestamp()), int(s.close.timestamp())) for s in sessions]
    if until_ts is not None:
        rows = [(o, min(c, until_ts)) for o, c in rows if o < until_ts]
    return values(column("o", BigInteger), column("c", BigInteger), name="sessions").data(rows).cte("sessions")


def _in_sessions(symbol: str, windows, *columns) -> Select:  # type: ignore[no-untyped-def]
    joined = bars.join(windows, and_(bars.c.ts >= windows.c.o, bars.c.ts < windows.c.c))
    return (select(*columns).select_from(joined)
            .where(bars.c.symbol == symbol, bars.c.interval == "1m"))


def latest_day(db: Database, tm: TimeManager, symbol: str) -> date:
    """The exchange date of `symbol`'s last stored 1m bar, or NotFound."""
    with db.connect() as conn:
        last = conn.execute(select(func.max(bars.c.ts)).where(bars.c.symbol == symbol,
                                                              bars.c.interval == "1m")).scalar()
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


def high_low(db: Database, tm: TimeManager, symbol: str, days: int, end: date | None = None) -> HighLow:
    """Highest high and lowest low of the regular-session 1m bars over the window, with their bars' times
    (the earliest bar when a price repeats)."""
    sessions = window_sessions(tm, days, end or latest_day(db, tm, symbol))
    windows = _windows(sessions)
    with db.connect() as conn:
        top = conn.execute(_in_sessions(symbol, windows, bars.c.high, bars.c.ts)
                           .order_by(bars.c.high.desc(), bars.c.ts).limit(1)).first()
        bottom = conn.execute(_in_sessions(symbol, windows, bars.c.low, bars.c.ts)
                              .order_by(bars.c.low, bars.c.ts).limit(1)).first()
    if top is None or bottom is None:
        raise NotFound(f"no regular-session 1m bars of '{symbol}' from {sessions[0].day.isoformat()} "
                       f"to {sessions[-1].day.isoformat()}")
    return HighLow(symbol, days, sessions[0].day, sessions[-1].day, top[0], _utc(top[1]), bottom[0],
                   _utc(bottom[1]))


def average_volume(db: Database, tm: TimeManager, symbol: str, days: int, end: date | None = None) -> AverageVolume:
    """Mean regular-session volume per trading day over the window, counting only days that have bars
    (`days_with_data` says how many)."""
    sessions = window_sessions(tm, days, end or latest_day(db, tm, symbol))
    windows = _windows(sessions)
    per_day = _in_sessions(symbol, windows, windows.c.o, func.sum(bars.c.volume).label("volume")).group_by(
        windows.c.o).subquery()
    with db.connect() as conn:
        counted, total = conn.execute(select(func.count(), func.sum(per_day.c.volume))).one()
    if not counted:
        raise NotFound(f"no regular-session 1m bars of '{symbol}' from {sessions[0].day.isoformat()} "
                       f"to {sessions[-1].day.isoformat()}")
    return AverageVolume(symbol, days, counted, sessions[0].day, sessions[-1].day, float(total) / counted)


def session_stats(db: Database, tm: TimeManager, symbol: str, day: date, until: datetime | None = None) -> SessionStats:
    """One regular session's OHLC, volume, VWAP, bar count and missing minutes (up to `until` when given:
    the running session's day so far)."""
    session = tm.session(day)
    if session is None:
        raise NotFound(f"{day.isoformat()} is not a trading day (the exchange is closed)")
    until_ts = int(until.timestamp()) if until is not None else None
    windows = _windows([session], until_ts)
    typical = (bars.c.high + bars.c.low + bars.c.close) / 3.0
    price = case((bars.c.vwap.is_(None), typical), else_=bars.c.vwap)
    with db.connect() as conn:
        summary = conn.execute(_in_sessions(symbol, windows, func.max(bars.c.high), func.min(bars.c.low),
                                            func.sum(bars.c.volume), func.sum(price * bars.c.volume),
                                            func.count(), func.min(bars.c.ts), func.max(bars.c.ts))).one()
        high, low, volume, weighted, count, first_ts, last_ts = summary
        if not count:
            raise NotFound(f"no regular-session 1m bars of '{symbol}' on {day.isoformat()}")
        first = conn.execute(select(bars.c.open).where(bars.c.symbol == symbol, bars.c.interval == "1m",
                                                        bars.c.ts == first_ts)).scalar_one()
        last = conn.execute(select(bars.c.close).where(bars.c.symbol == symbol, bars.c.interval == "1m",
                                                        bars.c.ts == last_ts)).scalar_one()
    minutes = session.minutes
    if until_ts is not None:
        minutes = max(0, min(minutes, (until_ts - int(session.open.timestamp())) // 60))
    return SessionStats(symbol, day, first, high, low, last, float(volume),
                        float(weighted) / volume if volume else None, count, max(0, minutes - count))
