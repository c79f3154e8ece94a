"""`TimeManager`: the NYSE calendar (exchange_calendars' XNYS), sessions, holidays and time zones.

Two things are loaded lazily and separately. The session table (each trading day's open and
close) answers every session question; with a `cache_path` it is read from the file
`session_cache` writes, without importing exchange_calendars or pandas, and rebuilt from
exchange_calendars when that file is missing, stale or corrupt. The exchange_calendars calendar
itself (~0.4 s, pulls in pandas) is imported only to build the table or to name holidays.
`TradingSession`s are built from the table on first ask, so the engine never touches pandas per bar.
"""

from __future__ import annotations

import threading
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from mismartera.errors import UsageError
from mismartera.exchange import EXCHANGE_TZ, EXCHANGE_TZ_NAME
from mismartera.suggest import suffix
from mismartera.timekeeping import session_cache
from mismartera.timekeeping.clock import Clock, WallClock
from mismartera.timekeeping.session_cache import SessionRows

REGULAR_CLOSE = time(16, 0)
PRE_MARKET_OPEN = time(4, 0)
AFTER_HOURS_CLOSE = time(20, 0)
CALENDAR_START = date(2000, 1, 1)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


class MarketPhase(StrEnum):
    PRE = "pre-market"
    OPEN = "open"
    AFTER = "after-hours"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class TradingSession:
    """One trading day. All instants are UTC."""

    day: date
    open: datetime
    close: datetime
    pre_open: datetime
    after_close: datetime
    early_close: bool

    @property
    def minutes(self) -> int:
        """Regular-session length in minutes (390, or 210 on a 13:00 early close)."""
        return int((self.close - self.open).total_seconds() // 60)


@dataclass(frozen=True, slots=True)
class Holiday:
    day: date
    name: str


def _make_session(day: date, open_epoch: int, close_epoch: int, tz: ZoneInfo) -> TradingSession:
    """A day's session from its open and close (epoch seconds); pre-market opens at 04:00 and
    after-hours end at 20:00 exchange time, and a close before 16:00 is an early close."""
    open_utc = datetime.fromtimestamp(open_epoch, UTC)
    close_utc = datetime.fromtimestamp(close_epoch, UTC)
    return TradingSession(
        day=day,
        open=open_utc,
        close=close_utc,
        pre_open=datetime.combine(day, PRE_MARKET_OPEN, tz).astimezone(UTC),
        after_close=datetime.combine(day, AFTER_HOURS_CLOSE, tz).astimezone(UTC),
        early_close=close_utc.astimezone(tz).time() < REGULAR_CLOSE,
    )


class _SessionTable:
    """The trading days in order with their open and close; each `TradingSession` is built the first
    time it is asked for (building all ~7,000 up front would cost more than reading the table)."""

    __slots__ = ("_bounds", "_built", "_tz", "days")

    def __init__(self, rows: SessionRows, tz: ZoneInfo) -> None:
        self.days = rows.days
        self._bounds = dict(zip(rows.days, zip(rows.opens, rows.closes, strict=True), strict=True))
        self._built: dict[date, TradingSession] = {}
        self._tz = tz

    def __contains__(self, day: object) -> bool:
        return day in self._bounds

    def get(self, day: date) -> TradingSession | None:
        session = self._built.get(day)
        if session is None:
            bounds = self._bounds.get(day)
            if bounds is None:
                return None
            # Two threads may build the same day at once; both build equal sessions.
            session = self._built[day] = _make_session(day, bounds[0], bounds[1], self._tz)
        return session

    def __getitem__(self, day: date) -> TradingSession:
        session = self.get(day)
        if session is None:
            raise KeyError(day)
        return session


def _rows_from_schedule(schedule: Any) -> SessionRows:
    """exchange_calendars' schedule (session labels, UTC open and close) as plain rows."""
    day_numbers = schedule.index.values.astype("datetime64[D]").astype("int64").tolist()
    opens = schedule["open"].values.astype("datetime64[s]").astype("int64").tolist()
    closes = schedule["close"].values.astype("datetime64[s]").astype("int64").tolist()
    return SessionRows([date.fromordinal(_EPOCH_ORDINAL + n) for n in day_numbers], opens, closes)


class TimeManager:
    """Calendar questions about one exchange, plus the clock the session runs on.

    Args:
        clock: the clock the session runs on (the wall clock by default).
        exchange: exchange_calendars' code for the exchange.
        tz: the exchange's time zone.
        cache_path: where to keep the session table between processes; None builds it from
            exchange_calendars in every process.
    """

    def __init__(self, clock: Clock | None = None, exchange: str = "XNYS", tz: ZoneInfo = EXCHANGE_TZ,
                 cache_path: Path | None = None) -> None:
        self.exchange = exchange
        self.tz = tz
        self.clock: Clock = clock or WallClock()
        self.cache_path = cache_path
        self._lock = threading.Lock()
        self._calendar: Any = None
        self._table: _SessionTable | None = None
        self._days: list[date] = []

    # ------------------------------------------------------------------ loading
    @property
    def calendar(self) -> Any:
        """exchange_calendars' calendar, imported on first use (only `holidays` needs it)."""
        if self._calendar is None:
            self._sessions_table()
            with self._lock:
                if self._calendar is None:
                    self._calendar = self._import_calendar()
        return self._calendar

    def preload(self) -> None:
        """Load the session table now (from the cache when valid) instead of on the first question."""
        self._sessions_table()

    def _sessions_table(self) -> _SessionTable:
        table = self._table
        if table is None:
            with self._lock:
                if self._table is None:
                    loaded = self._load_table()
                    self._days = loaded.days   # before _table: whoever sees the table sees the days
                    self._table = loaded
                table = self._table
        return table

    def _load_table(self) -> _SessionTable:
        version = None
        # The cache's age is judged by the real date, never by a backtest's simulated clock.
        today = WallClock().now().date()
        if self.cache_path is not None:
            version = session_cache.installed_version()
            rows = session_cache.load(self.cache_path, exchange=self.exchange, version=version,
                                      start=CALENDAR_START, today=today)
            if rows is not None:
                return _SessionTable(rows, self.tz)
        self._calendar = self._import_calendar()
        rows = _rows_from_schedule(self._calendar.schedule)
        if self.cache_path is not None:
            session_cache.save(self.cache_path, rows, exchange=self.exchange, version=version,
                               start=CALENDAR_START, built=today)
        return _SessionTable(rows, self.tz)

    def _import_calendar(self) -> Any:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import exchange_calendars

            return exchange_calendars.get_calendar(self.exchange, start=CALENDAR_START.isoformat())

    def _check_range(self, day: date) -> None:
        self._sessions_table()
        first, last = self._days[0], self._days[-1]
        if not (first - timedelta(days=7) <= day <= last + timedelta(days=7)):
            raise UsageError(f"{day.isoformat()} is outside the calendar ({first.isoformat()} to {last.isoformat()})")

    # ------------------------------------------------------------------ days
    def now(self) -> datetime:
        return self.clock.now()

    def is_trading_day(self, day: date) -> bool:
        self._check_range(day)
        return day in self._sessions_table()

    def session(self, day: date) -> TradingSession | None:
        """The day's session, or None when the market is closed that day."""
        self._check_range(day)
        return self._sessions_table().get(day)

    def trading_days(self, start: date, end: date) -> list[date]:
        """Trading days from start to end, both inclusive."""
        self._check_range(start)
        self._check_range(end)
        return self._days[bisect_left(self._days, start): bisect_right(self._days, end)]

    def sessions(self, start: date, end: date) -> list[TradingSession]:
        days = self.trading_days(start, end)
        table = self._sessions_table()
        return [table[day] for day in days]

    def count_trading_days(self, start: date, end: date) -> int:
        return len(self.trading_days(start, end))

    def next_trading_day(self, day: date, n: int = 1) -> date:
        """The n-th trading day strictly after `day`."""
        self._check_range(day)
        index = bisect_right(self._days, day) + n - 1
        if index >= len(self._days):
            raise UsageError(f"the calendar ends at {self._days[-1].isoformat()}")
        return self._days[index]

    def next_trading_days(self, day: date, n: int) -> list[date]:
        self._check_range(day)
        start = bisect_right(self._days, day)
        return self._days[start: start + n]

    def previous_trading_day(self, day: date, n: int = 1) -> date:
        """The n-th trading day strictly before `day`."""
        self._check_range(day)
        index = bisect_left(self._days, day) - n
        if index < 0:
            raise UsageError(f"the calendar starts at {self._days[0].isoformat()}")
        return self._days[index]

    def holidays(self, year: int) -> list[Holiday]:
        """Weekdays of `year` on which the exchange is closed, with names where the calendar has them."""
        import pandas as pd

        cal = self.calendar
        start, end = date(year, 1, 1), date(year, 12, 31)
        self._check_range(start)
        names: dict[date, str] = {}
        regular = cal.regular_holidays
        if regular is not None:
            series = regular.holidays(pd.Timestamp(start), pd.Timestamp(end), return_name=True)
            for stamp, name in series.items():
                names.setdefault(stamp.date(), str(name))
        table = self._sessions_table()
        out = []
        day = start
        while day <= end:
            if day.weekday() < 5 and day not in table and self._days[0] <= day <= self._days[-1]:
                out.append(Holiday(day, names.get(day, "special closure")))
            day += timedelta(days=1)
        return out

    # ------------------------------------------------------------------ instants
    def market_phase(self, at: datetime) -> MarketPhase:
        session = self._sessions_table().get(at.astimezone(self.tz).date())
        if session is None:
            return MarketPhase.CLOSED
        if session.open <= at < session.close:
            return MarketPhase.OPEN
        if session.pre_open <= at < session.open:
            return MarketPhase.PRE
        if session.close <= at < session.after_close:
            return MarketPhase.AFTER
        return MarketPhase.CLOSED

    def is_open(self, at: datetime) -> bool:
        return self.market_phase(at) is MarketPhase.OPEN

    def next_change(self, at: datetime) -> tuple[datetime, MarketPhase]:
        """The next instant the market phase changes after `at`, and the phase it changes to."""
        table = self._sessions_table()
        day = at.astimezone(self.tz).date() - timedelta(days=1)
        for _ in range(15):
            session = table.get(day)
            if session is not None:
                for instant, phase in (
                    (session.pre_open, MarketPhase.PRE),
                    (session.open, MarketPhase.OPEN),
                    (session.close, MarketPhase.AFTER if session.close < session.after_close else MarketPhase.CLOSED),
                    (session.after_close, MarketPhase.CLOSED),
                ):
                    if instant > at:
                        return instant, phase
            day += timedelta(days=1)
        raise UsageError(f"no market change found after {at.isoformat()}")

    def to_exchange(self, instant: datetime) -> datetime:
        return instant.astimezone(self.tz)

    @staticmethod
    def convert(instant: datetime, from_tz: str, to_tz: str) -> datetime:
        """Read a naive `instant` in `from_tz` and express it in `to_tz`; a local time that does not
        exist there or happens twice is a UsageError (it needs its UTC offset)."""
        source, target = zone(from_tz), zone(to_tz)
        if instant.tzinfo is None:
            problem = wall_time_problem(instant, source)
            if problem:
                raise UsageError(problem)
            instant = instant.replace(tzinfo=source)
        return instant.astimezone(target)


def wall_time_problem(wall: datetime, tz: ZoneInfo) -> str | None:
    """Why a naive local `wall` time cannot be read in `tz` (skipped or repeated by a clock change), or None."""
    early, late = wall.replace(tzinfo=tz, fold=0), wall.replace(tzinfo=tz, fold=1)
    if early.utcoffset() == late.utcoffset():
        return None
    text = wall.strftime("%Y-%m-%d %H:%M") + (f":{wall.second:02d}" if wall.second else "")
    if early.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != wall:
        return f"{text} does not exist in {tz.key} (the clocks skip that hour; give the time with its UTC offset)"
    return (f"{text} is ambiguous in {tz.key} (it happens twice as the clocks go back; give the time with its "
            "UTC offset)")


_ALIASES = {"ET": EXCHANGE_TZ_NAME, "EST": EXCHANGE_TZ_NAME, "EDT": EXCHANGE_TZ_NAME,
            "CT": "America/Chicago", "PT": "America/Los_Angeles", "UTC": "UTC", "Z": "UTC"}


def zone(name: str) -> ZoneInfo:
    """A ZoneInfo from an IANA name or a short alias (ET, CT, PT, UTC)."""
    key = _ALIASES.get(name.upper(), name)
    try:
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(
            f"unknown time zone '{name}'{suffix(name, available_timezones())} (expected an IANA name like "
            f"{EXCHANGE_TZ_NAME}, or ET/CT/PT/UTC)"
        ) from None
