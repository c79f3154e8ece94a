"""`AlpacaSource`: Alpaca as the engine's `MarketDataSource` (`api_config.data_api: "alpaca"`).

Live bars come from Alpaca's websocket stream (`AlpacaBarStream`), history and the feed's backfill
of missed minutes from the REST API (`historical.py`). The clock is the wall clock, and the
session is today's (or the next trading day's once today's has closed).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

from mismartera.bars import Bar
from mismartera.config.settings import AlpacaSettings
from mismartera.integrations.alpaca.historical import fetch_bars, import_bars
from mismartera.integrations.alpaca.stream import AlpacaBarStream
from mismartera.sources.base import SourceSetup
from mismartera.timekeeping.calendar import TimeManager, TradingSession
from mismartera.timekeeping.clock import WallClock

Backfill = Callable[[str, int, int], list[Bar]]   # (symbol, first ts, last ts) -> 1m bars in that range


def rest_backfill(settings: AlpacaSettings, feed: str = "iex", timeout: float = 10.0) -> Backfill:
    """1m bars of one symbol for [first, last] bar starts from Alpaca's historical API (all pages, retried)."""

    def fetch(symbol: str, first: int, last: int) -> list[Bar]:
        rows = fetch_bars(settings, [symbol], datetime.fromtimestamp(first, UTC), datetime.fromtimestamp(last, UTC),
                          "1m", feed, timeout=timeout)
        return [Bar.from_row(symbol, row) for row in rows.get(symbol, [])]

    return fetch


def live_session_day(tm: TimeManager, now: datetime) -> TradingSession:
    """Today's session if it has not closed yet, else the next trading day's."""
    day = tm.to_exchange(now).date()
    session = tm.session(day)
    if session is None or now >= session.close:
        session = tm.session(tm.next_trading_day(day))
    assert session is not None   # the next trading day always has a session
    return session


class AlpacaSource:
    """Alpaca's stream and REST API for the config's symbols and `api_config.data_feed`."""

    def __init__(self, setup: SourceSetup) -> None:
        self._setup = setup
        self._settings = setup.settings.alpaca
        self._feed = setup.config.api_config.data_feed
        self._symbols = setup.config.symbols
        self._now = setup.now or WallClock().now
        self._fetch = rest_backfill(self._settings, self._feed)

    def now(self) -> datetime:
        return self._now()

    def sessions(self) -> list[TradingSession]:
        return [live_session_day(self._setup.time, self.now())]

    def load_history(self, first: date, last: date, interval: str) -> None:
        import_bars(self._setup.store, self._settings, self._symbols, first, last, interval, self._feed)

    def history(self, symbol: str, first_ts: int, last_ts: int) -> list[Bar]:
        return self._fetch(symbol, first_ts, last_ts)

    def stream(self) -> AlpacaBarStream:
        return AlpacaBarStream(self._settings, self._symbols, self._feed)

    def describe(self) -> str:
        return f"feed {self._feed}"
