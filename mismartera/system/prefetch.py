"""`Prefetch`: loads the next trading days' 1m bars (and the trailing history) while the current day runs.

Each day's regular-session bars of every symbol come from the columnar bar cache when the session
has one (`mismartera.data.bar_cache`: a month of columns per symbol, checked against the database's
versions), else from one `BarStore.read_many` query, so the coordinator's roll to the next day takes
a ready dict instead of waiting on the database. It holds at most `ahead` days not yet taken.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from mismartera.data.bar_cache import BarCache
from mismartera.data.bar_store import BarRow, BarStore
from mismartera.system.worker import TICK, Worker
from mismartera.timekeeping.calendar import TradingSession

DayBars = dict[str, list[BarRow]]


def session_range(session: TradingSession) -> tuple[int, int]:
    """[open, close) of a regular session in epoch seconds."""
    return int(session.open.timestamp()), int(session.close.timestamp())


class Prefetch(Worker):
    role = "prefetch"

    def __init__(self, store: BarStore, symbols: list[str], sessions: list[TradingSession], ahead: int,
                 history: list[TradingSession] | None = None, history_intervals: Sequence[str] | None = None,
                 on_failure: Callable | None = None, cache: BarCache | None = None) -> None:
        super().__init__(on_failure=on_failure)
        self.store = store
        self.cache = cache
        self.symbols = list(symbols)
        self.sessions = list(sessions)
        self.ahead = max(1, ahead)
        self.history_sessions = list(history or [])
        self.history_intervals = list(history_intervals or ["1m"])
        self.history: dict[str, DayBars] | None = None   # interval -> symbol -> rows, set before day 1
        self._ready: dict[int, DayBars] = {}             # index into sessions -> bars
        self._cond = threading.Condition()
        self._last_load_ms = 0.0

    # ------------------------------------------------------------------ the thread
    def loop(self) -> None:
        self._load_history()
        for index, session in enumerate(self.sessions):
            with self._cond:
                while len(self._ready) >= self.ahead:
                    if self.stopping:
                        return
                    self._cond.wait(TICK)
            if not self.wait_while_paused() or self.stopping:
                return
            start, end = session_range(session)
            began = time.perf_counter()
            if self.cache is not None:
                bars = self.cache.read_many(self.symbols, start, end)
            else:
                bars = self.store.read_many(self.symbols, "1m", start, end)
            self._last_load_ms = (time.perf_counter() - began) * 1000
            with self._cond:
                self._ready[index] = bars
                self._cond.notify_all()
            self.beat(1, current=session.day.isoformat(), detail=self._detail_text())
            self.publish()
        while not self.stopping:  # every day is loaded: idle until stopped, still publishing
            self.stop_event.wait(TICK * 4)
            self.beat(0, detail=self._detail_text())
            self.publish()

    def _load_history(self) -> None:
        if not self.history_sessions:
            self.history = {}
            return
        out: dict[str, DayBars] = {}
        for interval in self.history_intervals:
            series: DayBars = {s: [] for s in self.symbols}
            for session in self.history_sessions:
                if self.stopping:
                    return
                start, end = session_range(session)   # derived bars (1d too) start at or after the open
                for symbol, rows in self.store.read_many(self.symbols, interval, start, end).items():
                    series[symbol].extend(rows)
            out[interval] = series
        self.history = out
        self.beat(0, current="history", detail=f"history: {len(self.history_sessions)} day(s)")
        self.publish()

    def _detail_text(self) -> str:
        return f"holds {len(self._ready)} day(s), last load {self._last_load_ms:.0f} ms"

    # ------------------------------------------------------------------ the coordinator's side
    def take(self, index: int, should_stop: Callable[[], bool]) -> DayBars | None:
        """Day `index`'s bars, waiting (in short steps) until loaded; None when stopping."""
        with self._cond:
            while index not in self._ready:
                if should_stop() or self.stopping or (not self.is_alive() and self.error is not None):
                    return None
                self._cond.wait(TICK)
            bars = self._ready.pop(index)
            self._cond.notify_all()
        return bars

    def wait_history(self, should_stop: Callable[[], bool]) -> dict[str, DayBars] | None:
        while self.history is None:
            if should_stop() or self.stopping or self.error is not None:
                return None
            time.sleep(TICK / 5)
        return self.history
