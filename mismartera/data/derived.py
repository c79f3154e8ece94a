"""Derived bars (5m, 15m, 30m, 1h, 1d) built from 1-minute bars on windows aligned to the session open.

Windows start at the regular open (09:30 ET) and step by the interval; the last window of a day is
cut at the close (so an early-close day ends early), and `1d` is the whole regular session. Only
1-minute bars inside the regular session count. A window with missing minutes is still built from
the bars that exist and is flagged incomplete, so callers can tell a thin bar from a full one.

`DerivedBuilder` is the incremental form the live engine feeds bar by bar; `aggregate` runs the same
builder over a list, so the two cannot disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from mismartera.data.bar_store import BarRow, BarStore
from mismartera.errors import NotFound, UsageError
from mismartera.timekeeping.calendar import TimeManager, TradingSession

DERIVED_SECONDS = {"5m": 300, "15m": 900, "30m": 1800, "1h": 3600}
TARGETS = (*DERIVED_SECONDS, "1d")



@dataclass(frozen=True, slots=True)
class DerivedBar:
    """One derived bar: `row[0]` is the window start; `minutes` is how many 1m bars it was built from."""

    row: BarRow
    complete: bool
    minutes: int


def check_target(to: str) -> str:
    """Validate a derived interval name, with the list of legal ones in the error."""
    if to not in TARGETS:
        raise UsageError(f"cannot derive '{to}' bars (expected one of {', '.join(TARGETS)})")
    return to


class _Window:
    """Running OHLCV of one window."""

    __slots__ = ("close", "count", "end", "high", "last_minute", "low", "open", "pv", "pv_volume", "start",
                 "trades", "volume")

    def __init__(self, start: int, end: int, row: BarRow) -> None:
        self.start = start
        self.end = end
        self.last_minute = end - 60
        self.open = row[1]
        self.high = row[2]
        self.low = row[3]
        self.close = row[4]
        self.volume = row[5]
        self.count = 1
        self.trades = row[6]
        vwap = row[7]
        self.pv = vwap * row[5] if vwap is not None else None
        self.pv_volume = row[5] if vwap is not None else 0.0

    def add(self, row: BarRow) -> None:
        if row[2] > self.high:
            self.high = row[2]
        if row[3] < self.low:
            self.low = row[3]
        self.close = row[4]
        self.volume += row[5]
        self.count += 1
        if row[6] is not None:
            self.trades = row[6] if self.trades is None else self.trades + row[6]
        if row[7] is not None:
            self.pv = row[7] * row[5] + (self.pv or 0.0)
            self.pv_volume += row[5]

    def bar(self) -> DerivedBar:
        vwap = None
        if self.pv is not None:
            vwap = self.pv / self.pv_volume if self.pv_volume > 0 else None
        expected = (self.end - self.start) // 60
        row = (self.start, self.open, self.high, self.low, self.close, self.volume, self.trades, vwap)
        return DerivedBar(row, self.count == expected, self.count)


class DerivedBuilder:
    """Builds one day's derived bars incrementally from 1-minute bars arriving in time order.

    `add` returns the windows that bar finished: its own window when it is the window's last
    minute, or the previous window (flagged incomplete if minutes were missing) when a bar of a
    later window arrives first. `flush` returns the window still open at the end of the day.
    Bars outside the regular session, and bars at or before the last one seen, are ignored.
    """

    def __init__(self, to: str, session: TradingSession) -> None:
        check_target(to)
        self.to = to
        self.session = session
        self._open = int(session.open.timestamp())
        self._close = int(session.close.timestamp())
        self._step = DERIVED_SECONDS.get(to, self._close - self._open)
        self._window: _Window | None = None
        self._last_ts: int | None = None

    def add(self, row: BarRow) -> list[DerivedBar]:
        ts = row[0]
        if ts < self._open or ts >= self._close or (self._last_ts is not None and ts <= self._last_ts):
            return []
        self._last_ts = ts
        out: list[DerivedBar] = []
        window = self._window
        if window is not None and ts >= window.end:
            out.append(window.bar())
            window = None
        if window is None:
            start = self._open + (ts - self._open) // self._step * self._step
            window = _Window(start, min(start + self._step, self._close), row)
        else:
            window.add(row)
        if ts >= window.last_minute:
            out.append(window.bar())
            window = None
        self._window = window
        return out

    def flush_through(self, end_ts: int) -> list[DerivedBar]:
        """The open window, if its time is over by `end_ts` (a day stopped part-way: every window
        up to the last one whose minutes have all passed; a window still running stays open)."""
        if self._window is None or self._window.end > end_ts:
            return []
        return self.flush()

    def flush(self) -> list[DerivedBar]:
        if self._window is None:
            return []
        bar = self._window.bar()
        self._window = None
        return [bar]


def aggregate(rows: Sequence[BarRow], to: str, session: TradingSession) -> list[DerivedBar]:
    """Derived bars of one session from its 1-minute bars (any order; duplicates count once)."""
    builder = DerivedBuilder(to, session)
    out: list[DerivedBar] = []
    for row in sorted(rows, key=lambda r: r[0]):
        out.extend(builder.add(row))
    out.extend(builder.flush())
    return out


@dataclass(frozen=True)
class DerivedSummary:
    symbol: str
    to: str
    days: int
    source_bars: int
    bars: int
    incomplete: int


def store_derived(store: BarStore, tm: TimeManager, symbol: str, start: date, end: date, to: str) -> DerivedSummary:
    """Build `to` bars from the stored 1-minute bars of each trading day in [start, end] and upsert them.

    Incomplete windows are stored too (they are what the data holds); the summary counts them.
    """
    check_target(to)
    if end < start:
        raise UsageError(f"end {end.isoformat()} is before start {start.isoformat()}")
    sessions = tm.sessions(start, end)
    if not sessions:
        raise UsageError(f"no trading days between {start.isoformat()} and {end.isoformat()}")
    minute_bars = store.read(symbol, "1m", int(sessions[0].open.timestamp()), int(sessions[-1].close.timestamp()))
    if not minute_bars:
        raise NotFound(f"no {symbol} 1m bars between {start.isoformat()} and {end.isoformat()} to build {to} bars from")
    derived: list[DerivedBar] = []
    index = 0
    for session in sessions:
        close_ts = int(session.close.timestamp())
        begin = index
        while index < len(minute_bars) and minute_bars[index][0] < close_ts:
            index += 1
        derived.extend(aggregate(minute_bars[begin:index], to, session))
    store.upsert(symbol, to, [bar.row for bar in derived])
    return DerivedSummary(symbol, to, len(sessions), len(minute_bars), len(derived),
                          sum(1 for bar in derived if not bar.complete))
