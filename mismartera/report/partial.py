"""The report of a run that did not reach the end of its window (interrupted, stopped, failed).

Such a run may have no stored summary (its process died before writing one), but its completed days
are in the database: the daily equity rows and the fills. The report is rebuilt from them, counting
only fills up to the last completed day (a fill of the day in progress belongs to no stored equity).
Exposure needs the bars replayed with a position open, which only the running session counts, so a
rebuilt report leaves it out.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any, Protocol

from mismartera.report.metrics import RunningReport


class DayEquity(Protocol):
    @property
    def day(self) -> date: ...

    @property
    def equity(self) -> float: ...


def partial_summary(initial_cash: float, days: Sequence[DayEquity], fills: Sequence[Any]) -> dict[str, Any]:
    """A run summary (the same keys as a finished run's, without exposure) from its completed days."""
    running = RunningReport()
    last = days[-1].day if days else None
    for row in days:
        running.add_day(row.day, row.equity)
    for fill in fills:
        if last is not None and fill.filled_at.date() <= last:
            running.add_fill(fill)
    summary = running.report(initial_cash).to_json()
    summary.pop("exposure_pct", None)
    summary["days"] = len(days)
    return summary
