"""`TimeManager`: the NYSE calendar (exchange_calendars' XNYS), sessions, holidays and time zones.

The calendar is built lazily on first use (it costs ~0.4 s and pulls in pandas), and sessions are
cached as plain `TradingSession` tuples so the engine never touches pandas per bar.
"""

from __future__ import annotations

import threading
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from mismartera.errors import UsageError
from mismartera.timekeeping.clock import Clock, WallClock

EXCHANGE_TZ = ZoneInfo("America/New_York")
REGULAR_CLOSE = time(16, 0)
PRE_MARKET_OPEN = time(4, 0)
AFTER_HOURS_CLOSE = time(20, 0)
CALENDAR_START = date(2000, 1, 1)


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


class TimeManager:
    """Calendar questions about one exchange, plus the clock the session runs on."""

    def __init__(self, clock: Clock | None = None, exchange: str = "XNYS", tz: ZoneInfo = EXCHANGE_TZ) -> None:
        self.exchange = exchange
        self.tz = tz
        self.clock: Clock = clock or WallClock()
        self._lock = threading.Lock()
        self._calendar = None
        self._days: list[date] = []
        self._sessions: dict[date, TradingSession] = {}

    # ------------------------------------------------------------------ loading
    @property
    def calendar(self):
        if self._calendar is None:
            with self._lock:
                if self._calendar is None:
                    self._load()
        return self._calendar

    def _load(self) -> None:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import exchange_calendars

            cal = exchange_calendars.get_calendar(self.exchange, start=CALENDAR_START.isoformat())
        schedule = cal.schedule
        sessions = {}
        for label, open_ts, close_ts in zip(schedule.index, schedule["open"], schedule["close"], strict=True):
            day = label.date()
            open_utc = open_ts.to_pydatetime().astimezone(UTC)
            close_utc = close_ts.to_pydatetime().astimezone(UTC)
            sessions[day] = TradingSession(
                day=day,
                open=open_utc,
                close=close_utc,
                pre_open=datetime.combine(day, PRE_MARKET_OPEN, self.tz).astimezone(UTC),
                after_close=datetime.combine(day, AFTER_HOURS_CLOSE, self.tz).astimezone(UTC),
                early_close=close_utc.astimezone(self.tz).time() < REGULAR_CLOSE,
            )
        self._sessions = sessions
        self._days = sorted(sessions)
        self._calendar = cal

    def _check_range(self, day: date) -> None:
        self.calendar  # noqa: B018 - make sure it is loaded
        first, last = self._days[0], self._days[-1]
        if not (first - timedelta(days=7) <= day <= last + timedelta(days=7)):
            raise UsageError(f"{day.isoformat()} is outside the calendar ({first.isoformat()} to {last.isoformat()})")

    # ------------------------------------------------------------------ days
    def now(self) -> datetime:
        return self.clock.now()

    def is_trading_day(self, day: date) -> bool:
        self._check_range(day)
        return day in self._sessions

    def session(self, day: date) -> TradingSession | None:
        """The day's session, or None when the market is closed that day."""
        self._check_range(day)
        return self._sessions.get(day)

    def trading_days(self, start: date, end: date) -> list[date]:
        """Trading days from start to end, both inclusive."""
        self._check_range(start)
        self._check_range(end)
        return self._days[bisect_left(self._days, start): bisect_right(self._days, end)]

    def sessions(self, start: date, end: date) -> list[TradingSession]:
        return [self._sessions[day] for day in self.trading_days(start, end)]

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
        out = []
        day = start
        while day <= end:
            if day.weekday() < 5 and day not in self._sessions and self._days[0] <= day <= self._days[-1]:
                out.append(Holiday(day, names.get(day, "special closure")))
            day += timedelta(days=1)
        return out

    # ------------------------------------------------------------------ instants
    def market_phase(self, at: datetime) -> MarketPhase:
        session = self._sessions.get(at.astimezone(self.tz).date()) if self.calendar is not None else None
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
        local_day = at.astimezone(self.tz).date()
        day = local_day - timedelta(days=1)
        for _ in range(15):
            session = self._sessions.get(day)
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
        """Read a naive `instant` in `from_tz` and express it in `to_tz`."""
        source, target = zone(from_tz), zone(to_tz)
        if instant.tzinfo is None:
            instant = instant.replace(tzinfo=source)
        return instant.astimezone(target)


_ALIASES = {"ET": "America/New_York", "EST": "America/New_York", "EDT": "America/New_York",
            "CT": "America/Chicago", "PT": "America/Los_Angeles", "UTC": "UTC", "Z": "UTC"}


def zone(name: str) -> ZoneInfo:
    """A ZoneInfo from an IANA name or a short alias (ET, CT, PT, UTC)."""
    from zoneinfo import ZoneInfoNotFoundError, available_timezones

    key = _ALIASES.get(name.upper(), name)
    try:
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError):
        from mismartera.suggest import suffix

        raise UsageError(
            f"unknown time zone '{name}'{suffix(name, available_timezones())} (expected an IANA name like "
            "America/New_York, or ET/CT/PT/UTC)"
        ) from None
