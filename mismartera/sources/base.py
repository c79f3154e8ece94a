"""The `MarketDataSource` seam: where a live session's bars and clock come from.

A source gives the engine four things: the session's clock and trading days, history for a range
(the trailing days before the session, and the live feed's backfill of missed minutes), and a
stream of closed 1m bars. `LiveBarFeed` turns the stream into the engine's contract (minutes in
order, each bar once, gaps backfilled through `history`). Sources are registered by name in
`sources/registry.py` and chosen by `api_config.data_api`.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from mismartera.bars import Bar
from mismartera.config.session import SessionConfig
from mismartera.config.settings import Settings
from mismartera.data.bar_store import BarStore
from mismartera.timekeeping.calendar import TimeManager, TradingSession


@dataclass(frozen=True)
class SourceSetup:
    """What a source is built from.

    Attributes:
        config: the session config (symbols, `api_config`, `replay_config`, …).
        settings: the program's settings (Alpaca keys and endpoints).
        store: the bar store (trailing history is read from it; a source may import into it).
        time: the exchange calendar.
        now: replaces the wall clock (tests); None for the real one.
    """

    config: SessionConfig
    settings: Settings
    store: BarStore
    time: TimeManager
    now: Callable[[], datetime] | None = None


class BarStream(Protocol):
    """A running stream of closed 1m bars, as `LiveBarFeed` and the live coordinator use it."""

    bars: queue.Queue[Bar]            # closed 1m bars as they arrive
    reconnected: threading.Event      # set after each reconnect (the feed backfills at once)
    reconnects: int
    error: str | None                 # the one-line reason once failed

    @property
    def state(self) -> str: ...       # starting | connecting | streaming | reconnecting | failed | stopped

    @property
    def failed(self) -> bool: ...

    def start(self) -> Any: ...

    def stop(self, timeout: float = 2.0) -> bool: ...

    def reconnect(self) -> bool: ...  # drop and reopen a silent connection; False when there is none


class MarketDataSource(Protocol):
    """A provider of live 1m bars (Alpaca's stream, the replay of stored bars, …)."""

    def now(self) -> datetime:
        """The session clock: the wall clock live, the replay's clock in a replay."""
        ...

    def sessions(self) -> list[TradingSession]:
        """The trading days the session runs, in order (today's for a live source)."""
        ...

    def load_history(self, first: date, last: date, interval: str) -> None:
        """Make the session's symbols' bars of `interval` for [first, last] available in the store."""
        ...

    def history(self, symbol: str, first_ts: int, last_ts: int) -> list[Bar]:
        """`symbol`'s 1m bars with bar starts in [first_ts, last_ts], in time order (the feed's backfill)."""
        ...

    def stream(self) -> BarStream:
        """The stream of the session's symbols' closed 1m bars, not started yet."""
        ...

    def describe(self) -> str:
        """A few words for the start message ("feed iex", "replay 2024-01-02..2024-01-05 at 0x")."""
        ...


SourceFactory = Callable[[SourceSetup], MarketDataSource]
