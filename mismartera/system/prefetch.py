"""`Prefetch`: loads the next trading days' 1m bars (and the trailing history) while the current day runs.

Each day's regular-session bars of every symbol come from the columnar bar cache when the session
has one (`mismartera.data.bar_cache`: a month of columns per symbol, checked against the database's
versions), else from one `BarStore.read_many` query, so the coordinator's roll to the next day takes
a ready dict instead of waiting on the database. It holds at most `ahead` days not yet taken.

In a backtest (`day_indicators=True`) it also computes each day's values of the indicators the
coordinator hands it once the strategies have started (`vectorise`), so the numpy work runs here,
beside the replay, and the per-bar loop does nothing for them (`mismartera.system.day_indicators`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

import numpy as np

from mismartera.data.bar_cache import BarCache
from mismartera.data.bar_store import BarRow, BarStore
from mismartera.indicators.vectorised import DayVector
from mismartera.system.day_indicators import DayIndicator, DayValues, as_values
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
                 on_failure: Callable | None = None, cache: BarCache | None = None,
                 day_indicators: bool = False) -> None:
        super().__init__(on_failure=on_failure)
        self.store = store
        self.cache = cache
        # symbol -> (indicator shown to strategies, its day-at-a-time twin); None until `vectorise`
        self._twins: dict[str, list[tuple[DayIndicator, DayVector]]] | None = None if day_indicators else {}
        self._day_values: dict[int, list[tuple[str, DayIndicator, DayValues]]] = {}
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
        while self._twins is None:   # the coordinator says which indicators once the strategies started
            if self.stopping:
                return
            self.stop_event.wait(TICK / 5)
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
            values = self._compute(bars, start, end) if self._twins else []
            self._last_load_ms = (time.perf_counter() - began) * 1000
            with self._cond:
                self._day_values[index] = values
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

    def _compute(self, bars: DayBars, start: int, end: int) -> list[tuple[str, DayIndicator, DayValues]]:
        """The day's values of every day-at-a-time indicator (their twins carry state to the next day)."""
        out = []
        twins = self._twins or {}
        prices = self.cache.read_prices(list(twins), start, end) if self.cache is not None else {}
        for symbol, pairs in twins.items():
            ohlcv = prices[symbol] if symbol in prices else _columns(bars.get(symbol, []))
            for shown, twin in pairs:
                twin.new_session()
                out.append((symbol, shown, as_values(twin.run(*ohlcv))))
        return out

    def vectorise(self, indicators: list[tuple[str, DayIndicator]]) -> None:
        """From the coordinator, after the strategies' `on_start`: compute these indicators' days from
        the first day on, each twin first warmed on the same 1m history the indicator has seen."""
        history = (self.history or {}).get("1m", {})
        twins: dict[str, list[tuple[DayIndicator, DayVector]]] = {}
        for symbol, shown in indicators:
            twin = shown.twin()
            assert twin is not None
            twin.run(*_columns(history.get(symbol, [])))
            twins.setdefault(symbol, []).append((shown, twin))
        self._twins = twins

    def take_indicators(self, index: int) -> list[tuple[str, DayIndicator, DayValues]]:
        """Day `index`'s indicator values (after `take(index)`): (symbol, indicator, values)."""
        with self._cond:
            return self._day_values.pop(index, [])

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


def _columns(rows: Sequence[BarRow]) -> tuple[np.ndarray, ...]:
    """open, high, low, close, volume of storage rows as float64 arrays."""
    if not rows:
        empty = np.empty(0)
        return empty, empty, empty, empty, empty
    columns = list(zip(*rows, strict=True))
    return tuple(np.array(columns[index], dtype=np.float64) for index in range(1, 6))
