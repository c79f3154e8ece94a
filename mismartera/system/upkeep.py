"""`Upkeep`: the session's data care — stores each day's derived bars and checks its gaps.

The derived bars themselves are built on the coordinator's thread as 1m bars are revealed (a
`DerivedBuilder` per symbol and stream), so a 5m bar is visible to strategies exactly when its last
minute ends and no bar crosses threads. At each day's end the coordinator hands this worker one
`DayWork` (a batch, not per-bar traffic); it stores the derived bars in one transaction and
computes the day's gaps. While the day runs, `live()` reads the coordinator's append-only lists
of seen timestamps to report minutes missing so far.
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from mismartera.data.bar_store import BarRow, BarStore
from mismartera.data.quality import day_gaps
from mismartera.system.worker import TICK, Worker
from mismartera.timekeeping.calendar import TradingSession

log = logging.getLogger("mismartera.system")


@dataclass
class DayWork:
    session: TradingSession
    present: dict[str, list[int]]                       # symbol -> 1m bar starts seen today
    derived: dict[tuple[str, str], list[BarRow]] = field(default_factory=dict)  # (symbol, interval) -> rows


@dataclass(frozen=True)
class DayCheck:
    day: str
    expected: int
    present: int
    gaps: int
    missing_minutes: int


class Upkeep(Worker):
    role = "upkeep"

    def __init__(self, store: BarStore | None, store_derived: bool = True, on_failure: Callable | None = None) -> None:
        super().__init__(inbox_size=8, on_failure=on_failure)
        self.store = store
        self.store_derived = store_derived
        self.checks: list[DayCheck] = []
        self.derived_stored = 0
        self._today: DayWork | None = None
        self._clock_ts: Callable[[], int] | None = None

    def request_stop(self) -> None:
        """Stop, waking the loop now rather than at the end of its inbox wait (a session, or a sweep
        point, ends up to that much sooner)."""
        super().request_stop()
        try:
            self.inbox.put_nowait(None)   # read as "nothing came": the loop then sees the stop
        except queue.Full:
            pass

    # ------------------------------------------------------------------ the coordinator's side
    def track(self, work: DayWork, clock_ts: Callable[[], int]) -> None:
        """Follow a day that is being replayed (for the live gap count)."""
        self._today, self._clock_ts = work, clock_ts

    def submit(self, work: DayWork, should_stop: Callable[[], bool]) -> bool:
        """Hand a finished day over; waits in short steps while the inbox is full."""
        while True:
            try:
                self.inbox.put(work, timeout=TICK)
                return True
            except queue.Full:
                if should_stop() or not self.is_alive():
                    return False

    def live(self) -> tuple[int, int]:
        """(bars seen today, minutes missing so far) over all symbols of the day being replayed."""
        work, clock = self._today, self._clock_ts
        if work is None or clock is None:
            return 0, 0
        open_ts = int(work.session.open.timestamp())
        elapsed = max(0, min(clock(), int(work.session.close.timestamp())) - open_ts) // 60
        seen = sum(len(v) for v in list(work.present.values()))
        return seen, max(0, elapsed * len(work.present) - seen)

    # ------------------------------------------------------------------ the thread
    def loop(self) -> None:
        while True:
            item = self.next_item(TICK * 4)
            if item is None:
                if self.stopping and self.inbox.empty():
                    return
                seen, missing = self.live()
                self.beat(0, detail=self._describe(seen, missing))
                self.publish()
                continue
            self._finish_day(item)

    def _finish_day(self, work: DayWork) -> None:
        began = time.perf_counter()
        session = work.session
        gaps = 0
        missing = 0
        present_total = 0
        for symbol, present in work.present.items():
            found = day_gaps(session, present)
            gaps += len(found)
            missing += sum(g.missing for g in found)
            present_total += len(present)
            if found:
                log.info("gaps %s %s: %d gap(s), %d minute(s) missing", symbol, session.day, len(found),
                         sum(g.missing for g in found))
        self.checks.append(DayCheck(session.day.isoformat(), session.minutes * len(work.present), present_total,
                                    gaps, missing))
        if self.store_derived and self.store is not None and work.derived:
            with self.store.db.begin() as conn:
                for (symbol, interval), rows in work.derived.items():
                    if rows:
                        self.derived_stored += self.store.upsert(symbol, interval, rows, conn=conn)
        took = (time.perf_counter() - began) * 1000
        self.beat(1, current=session.day.isoformat(), detail=self._describe(0, 0, took))
        self.publish()

    def _describe(self, seen: int, missing: int, took_ms: float | None = None) -> str:
        last = self.checks[-1] if self.checks else None
        parts = [f"today {seen} bars, {missing} min missing"] if seen else []
        if last is not None:
            pct = 100.0 * last.present / last.expected if last.expected else 100.0
            parts.append(f"{last.day}: {pct:.1f}% complete, {last.gaps} gap(s)")
        parts.append(f"{self.derived_stored} derived bars stored")
        if took_ms is not None:
            parts.append(f"day stored in {took_ms:.0f} ms")
        return "; ".join(parts)
