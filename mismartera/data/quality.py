"""Gaps and quality of stored 1-minute bars against the calendar.

Expected minutes come from the exchange calendar (early closes included): a regular session of 390
minutes, 210 on a 13:00 close. Bars outside the regular session neither help nor hurt the figure.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from mismartera.data.bar_store import BarStore
from mismartera.errors import UsageError
from mismartera.timekeeping.calendar import TimeManager, TradingSession


@dataclass(frozen=True)
class Gap:
    """A run of missing minutes: `end_ts` is the start of the last missing minute."""

    start_ts: int
    end_ts: int
    missing: int


@dataclass(frozen=True)
class DayQuality:
    day: date
    expected: int
    present: int
    pct: float
    gaps: list[Gap]


@dataclass(frozen=True)
class QualityReport:
    symbol: str
    start: date
    end: date
    days: list[DayQuality]
    expected: int
    present: int
    pct: float

    @property
    def gaps(self) -> list[Gap]:
        return [gap for day in self.days for gap in day.gaps]


def day_gaps(session: TradingSession, present_ts: Iterable[int]) -> list[Gap]:
    """The runs of regular-session minutes of `session` with no bar in `present_ts`."""
    open_ts = int(session.open.timestamp())
    close_ts = int(session.close.timestamp())
    if isinstance(present_ts, list) and present_ts == list(range(open_ts, close_ts, 60)):
        return []   # every minute, in order (the usual day): compared in C, no set, no loop
    present = {ts for ts in present_ts if open_ts <= ts < close_ts}
    gaps: list[Gap] = []
    run_start: int | None = None
    for minute in range(open_ts, close_ts, 60):
        if minute in present:
            if run_start is not None:
                gaps.append(Gap(run_start, minute - 60, (minute - run_start) // 60))
                run_start = None
        elif run_start is None:
            run_start = minute
    if run_start is not None:
        gaps.append(Gap(run_start, close_ts - 60, (close_ts - run_start) // 60))
    return gaps


def _pct(present: int, expected: int) -> float:
    return 100.0 * present / expected if expected else 100.0


def quality_report(store: BarStore, tm: TimeManager, symbol: str, start: date, end: date) -> QualityReport:
    """Per trading day from `start` to `end` (inclusive): expected vs stored minutes, and the gaps."""
    if end < start:
        raise UsageError(f"end {end.isoformat()} is before start {start.isoformat()}")
    sessions = tm.sessions(start, end)
    if not sessions:
        raise UsageError(f"no trading days between {start.isoformat()} and {end.isoformat()}")
    first = int(sessions[0].open.timestamp())
    last = int(sessions[-1].close.timestamp())
    stamps = [row[0] for row in store.read(symbol, "1m", first, last)]
    days: list[DayQuality] = []
    index = 0
    for session in sessions:
        open_ts, close_ts = int(session.open.timestamp()), int(session.close.timestamp())
        while index < len(stamps) and stamps[index] < open_ts:
            index += 1
        begin = index
        while index < len(stamps) and stamps[index] < close_ts:
            index += 1
        day_stamps = stamps[begin:index]
        expected = session.minutes
        present = len({ts for ts in day_stamps if ts % 60 == 0})
        days.append(DayQuality(session.day, expected, present, _pct(present, expected),
                               day_gaps(session, day_stamps)))
    expected = sum(d.expected for d in days)
    present = sum(d.present for d in days)
    return QualityReport(symbol, start, end, days, expected, present, _pct(present, expected))
