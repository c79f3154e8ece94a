"""A sweep's bars, read once from the database and held as columns (numpy arrays).

`BarColumns.load` reads every series a session config replays (1m bars of its window, plus the
trailing history intervals) in one query per series. The columns pickle cheaply to local worker
processes and sit in Ray's object store without a copy per task, so no worker needs the database.

`ColumnBarSource` answers the two reads a backtest makes of `AppContext.bars` (`count` and
`read_many`, the prefetch worker's per-day read) from the columns, with rows equal to the
database's own: the same tuples `(ts, open, high, low, close, volume, trade_count, vwap)`, the same
Python types, None where the database has NULL. Writes (upkeep storing derived bars) go to the
worker's scratch database, never to the user's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mismartera.data.bar_store import BarRow, BarStore
from mismartera.system.assembly import history_sessions
from mismartera.timekeeping.calendar import TimeManager, TradingSession

if TYPE_CHECKING:
    import numpy as np

FLOATS = ("open", "high", "low", "close", "volume")


@dataclass
class Series:
    """One (symbol, interval) as columns; `trade_count` and `vwap` carry a mask of NULLs."""

    ts: np.ndarray
    floats: np.ndarray            # shape (rows, 5): open, high, low, close, volume
    trade_count: np.ndarray
    trade_count_null: np.ndarray
    vwap: np.ndarray
    vwap_null: np.ndarray

    @classmethod
    def from_rows(cls, rows: Sequence[BarRow]) -> Series:
        import numpy as np  # heavy: loaded when a sweep reads its bars, not when the shell starts

        count = len(rows)
        ts = np.fromiter((r[0] for r in rows), dtype=np.int64, count=count)
        floats = np.array([r[1:6] for r in rows], dtype=np.float64).reshape(count, 5)
        tc_null = np.fromiter((r[6] is None for r in rows), dtype=bool, count=count)
        trade_count = np.fromiter((0 if r[6] is None else r[6] for r in rows), dtype=np.int64, count=count)
        vwap_null = np.fromiter((r[7] is None for r in rows), dtype=bool, count=count)
        vwap = np.fromiter((0.0 if r[7] is None else r[7] for r in rows), dtype=np.float64, count=count)
        return cls(ts, floats, trade_count, tc_null, vwap, vwap_null)

    def bounds(self, start_ts: int | None, end_ts: int | None) -> tuple[int, int]:
        low = 0 if start_ts is None else int(self.ts.searchsorted(start_ts, side="left"))
        high = len(self.ts) if end_ts is None else int(self.ts.searchsorted(end_ts, side="left"))
        return low, max(low, high)

    def rows(self, low: int, high: int) -> list[BarRow]:
        """Rows [low, high) as the database returns them."""
        if high <= low:
            return []
        ts = self.ts[low:high].tolist()
        o, h, lo, c, v = self.floats[low:high].T.tolist()
        tc: list[Any] = self.trade_count[low:high].tolist()
        vw: list[Any] = self.vwap[low:high].tolist()
        if self.trade_count_null[low:high].any():
            tc = [None if null else value for value, null in zip(tc, self.trade_count_null[low:high].tolist(),
                                                                 strict=True)]
        if self.vwap_null[low:high].any():
            vw = [None if null else value for value, null in zip(vw, self.vwap_null[low:high].tolist(), strict=True)]
        return list(zip(ts, o, h, lo, c, v, tc, vw, strict=True))


@dataclass
class BarColumns:
    """Every series a sweep needs, keyed by (symbol, interval)."""

    series: dict[tuple[str, str], Series] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(len(s.ts) for s in self.series.values())

    def count(self, symbol: str, interval: str, start_ts: int | None = None, end_ts: int | None = None) -> int:
        series = self.series.get((symbol, interval))
        if series is None:
            return 0
        low, high = series.bounds(start_ts, end_ts)
        return high - low

    @classmethod
    def load(cls, store: BarStore, wanted: Iterable[tuple[str, str, int, int]]) -> BarColumns:
        """Read `(symbol, interval, start_ts, end_ts)` ranges; ranges of one series are merged into
        the span covering them all (one query per series)."""
        spans: dict[tuple[str, str], tuple[int, int]] = {}
        for symbol, interval, start, end in wanted:
            key = (symbol, interval)
            low, high = spans.get(key, (start, end))
            spans[key] = (min(low, start), max(high, end))
        out = cls()
        for (symbol, interval), (start, end) in spans.items():
            out.series[(symbol, interval)] = Series.from_rows(store.read(symbol, interval, start, end))
        return out


def _session_span(sessions: list[TradingSession]) -> tuple[int, int]:
    return int(sessions[0].open.timestamp()), int(sessions[-1].close.timestamp())


def ranges_for(config: Any, tm: TimeManager) -> list[tuple[str, str, int, int]]:
    """The ranges a backtest of `config` (a SessionConfig) reads: its window's 1m bars and its
    trailing history, exactly the sessions `SystemManager` asks prefetch for."""
    backtest = config.backtest_config
    sessions = tm.sessions(backtest.start_date, backtest.end_date)
    if not sessions:
        return []
    start, end = _session_span(sessions)
    wanted = [(symbol, "1m", start, end) for symbol in config.symbols]
    historical = config.session_data_config.historical
    history = history_sessions(tm, sessions[0].day, historical.trailing_days)
    if history:
        h_start, h_end = _session_span(history)
        wanted += [(symbol, interval, h_start, h_end) for symbol in config.symbols for interval in historical.intervals]
    return wanted


class ColumnBarSource:
    """`AppContext.bars` for a backtest run from columns: reads from `columns`, writes to `scratch`."""

    def __init__(self, columns: BarColumns, scratch: BarStore) -> None:
        self.columns = columns
        self.scratch = scratch
        self.db = scratch.db   # upkeep stores derived bars in a transaction of this database

    def _series(self, symbol: str, interval: str) -> Series | None:
        return self.columns.series.get((symbol, interval))

    def count(self, symbol: str, interval: str, start_ts: int | None = None, end_ts: int | None = None,
              conn: Any = None) -> int:
        return self.columns.count(symbol, interval, start_ts, end_ts)

    def read_many(self, symbols: Sequence[str], interval: str, start_ts: int, end_ts: int
                  ) -> dict[str, list[BarRow]]:
        out: dict[str, list[BarRow]] = {}
        for symbol in symbols:
            series = self._series(symbol, interval)
            out[symbol] = [] if series is None else series.rows(*series.bounds(start_ts, end_ts))
        return out

    def read(self, symbol: str, interval: str, start_ts: int, end_ts: int, limit: int | None = None) -> list[BarRow]:
        rows = self.read_many([symbol], interval, start_ts, end_ts)[symbol]
        return rows if limit is None else rows[:limit]

    def upsert(self, symbol: str, interval: str, rows: Iterable[Sequence], conn: Any = None) -> int:
        return self.scratch.upsert(symbol, interval, rows, conn=conn)
