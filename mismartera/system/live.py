"""`LiveCoordinator`: the coordinator of `mode: live` — the same per-bar work as a backtest, with
bars from the Alpaca stream (through `LiveBarFeed`: ordered, gaps backfilled) and the wall clock.

    history (prefetch) → on_start → wait for the open ("waiting for open 09:30 ET")
    → each settled minute: broker marks/fills, SessionData, indicators, derived bars, strategies
    → at the close: end of day (strategies' on_day_end, optional flatten, daily row, bars stored)

Pause stops feeding strategies; the stream keeps collecting bars in its queue and on resume the
feed releases them in order, so strategies catch up on every minute. Stop ends between minutes;
the stream and a live broker are stopped on the way out. A failed stream (rejected key,
unreachable server) fails the session with the stream's one-line error.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from mismartera.bars import Bar
from mismartera.data.derived import DerivedBuilder
from mismartera.errors import ExternalServiceError
from mismartera.system.coordinator import Coordinator, StrategyStop
from mismartera.system.upkeep import DayWork
from mismartera.system.worker import TICK
from mismartera.timekeeping.calendar import EXCHANGE_TZ, TradingSession
from mismartera.timekeeping.clock import WallClock

log = logging.getLogger("mismartera.system")


class LiveClock:
    """The wall clock behind the coordinator's clock interface. `set` does nothing: live time moves
    by itself (the backtest coordinator's history loading and day end call it)."""

    simulated = False

    def __init__(self, now: Callable[[], datetime] | None = None) -> None:
        self._now = now or WallClock().now

    def now(self) -> datetime:
        return self._now()

    def set(self, instant: datetime) -> None:
        pass


class LiveCoordinator(Coordinator):
    """Runs one live trading session.

    Args:
        stream: the started `AlpacaBarStream` (its `failed`/`error` are watched).
        make_feed: builds the `LiveBarFeed` for the session, given the first minute (bar start).
        closers: called (in order) when the loop ends, e.g. `stream.stop`, `broker.stop`.
        **kwargs: as for `Coordinator` (`sessions` holds the one session; `speed` is ignored).
    """

    def __init__(self, *, stream: Any, make_feed: Callable[[int], Any], closers: tuple[Callable[[], Any], ...] = (),
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.stream = stream
        self._make_feed = make_feed
        self._closers = closers
        self.feed: Any = None
        self.waiting = ""

    def loop(self) -> None:
        try:
            self.started = time.monotonic()
            self._publish_state()
            history = self.prefetch.wait_history(lambda: self.stopping)
            if history is None:
                self._wrap_up(False)
                return
            self._load_history(history)
            self._call_all("on_start")
            session = self.sessions[0]
            finished = self._wait_for_open(session) and self._run_live_day(session)
            self.finished = finished
            self._wrap_up(finished)
        finally:
            for close in self._closers:
                try:
                    close()
                except Exception:
                    log.exception("closing a live-session part failed")

    # ------------------------------------------------------------------ before the open
    def _wait_for_open(self, session: TradingSession) -> bool:
        self.day, self.day_index = session.day, 1
        opens = session.open.astimezone(EXCHANGE_TZ).strftime("%H:%M ET")
        while self.clock.now() < session.open:
            self._check_stream()
            self.waiting = f"waiting for open {opens}"
            self.beat(0, current=self.waiting)
            if self._interrupt and not self._handle_interrupt():
                return False
            if self.stop_event.wait(TICK):
                return False
            self._periodic(force=False)
        self.waiting = ""
        return not self.stopping

    def _check_stream(self) -> None:
        if getattr(self.stream, "failed", False):
            raise ExternalServiceError(self.stream.error or "the Alpaca stream failed")

    # ------------------------------------------------------------------ the session
    def _run_live_day(self, session: TradingSession) -> bool:
        """Feed each settled minute until the close; False when stopped first."""
        symbols = self.symbols
        open_ts, close_ts = int(session.open.timestamp()), int(session.close.timestamp())
        self.feed = feed = self._make_feed(open_ts)
        self.day_bars = session.minutes * len(symbols)
        self.day_position = self.day_live = 0
        self._fills_today = 0
        self.data.start_day()
        self.data.new_session()
        present: dict[str, list[int]] = {s: [] for s in symbols}
        work = DayWork(session, present)
        self.upkeep.track(work, lambda: int(self.clock.now().timestamp()))
        self._builders = {s: [DerivedBuilder(interval, session) for interval in self.derived] for s in symbols}
        self._rows: dict[tuple[str, str], list[tuple]] = {(s, i): [] for s in symbols for i in [*self.derived, "1m"]}
        self._present = present
        self._subscribers = {s: [slot for slot in self.slots if s in slot.symbols] for s in symbols}
        done = 0
        while feed.next_ts < close_ts:
            self._check_stream()
            if self._interrupt and not self._handle_interrupt():
                self._count(done, 0)
                return False
            for bar in feed.next_minute(TICK * 4):
                if bar.ts < close_ts:
                    self._feed_bar(bar)
                    done += 1
                    self.day_position = self.day_live = done
            self._periodic(force=False)
        self._count(done, 0)
        for symbol in symbols:
            for builder in self._builders[symbol]:
                for made in builder.flush():
                    self._derived_bar(symbol, builder.to, made.row, self._rows)
        work.derived = self._rows   # the day's 1m bars are stored with the derived ones
        self._end_day(session, work)
        return True

    def _feed_bar(self, bar: Bar) -> None:
        """One revealed 1m bar: the same steps, in the same order, as a backtest's."""
        symbol = bar.symbol
        row = bar.to_row()
        fills = self.broker.process_bar(symbol, bar.ts, bar.open, bar.high, bar.low, bar.close)
        if fills:
            self._apply_fills(fills)
        self.data.append(bar)
        for indicator in self.data.feeds[symbol]["1m"]:
            indicator.update(bar.open, bar.high, bar.low, bar.close, bar.volume)
        self._present[symbol].append(bar.ts)
        self._rows[(symbol, "1m")].append(row)
        for builder in self._builders[symbol]:
            for made in builder.add(row):
                self._derived_bar(symbol, builder.to, made.row, self._rows)
        if symbol in self.held:
            self.bars_in_market += 1
        for slot in self._subscribers[symbol]:
            if slot.enabled:
                try:
                    slot.strategy.on_bar(slot.ctx, bar)
                except StrategyStop:
                    raise
                except Exception as exc:
                    self._strategy_failed(slot, "on_bar", exc, bar)
        self._sync_held()

    def _sync_held(self) -> None:
        """A live broker fills on its own thread: take its positions as what strategies hold."""
        changed_orders, fills = self.broker.drain_changes()
        if changed_orders or fills:
            self.recorder.collect(changed_orders, fills)
        if fills:
            self._fills_today += len(fills)
        self.held.clear()
        self.held.update({p.symbol: p.quantity for p in self.broker.positions()})

    def _periodic(self, force: bool) -> None:
        self._sync_held()
        super()._periodic(force)
