"""`LiveCoordinator`: the coordinator of `mode: live` — the same per-bar work as a backtest, with
bars from the Alpaca stream (through `LiveBarFeed`: ordered, gaps backfilled) and the wall clock.

    history (prefetch) → on_start → wait for the open ("waiting for open 09:30 ET")
    → each settled minute: broker marks/fills, SessionData, indicators, derived bars, strategies
    → at the close: end of day (strategies' on_day_end, optional flatten, daily row, bars stored)

Pause stops feeding strategies; the stream keeps collecting bars in its queue and on resume the
feed releases them in order, so strategies catch up on every minute. Stop ends between minutes;
the stream and a live broker are stopped on the way out. A failed stream (rejected key,
unreachable server) fails the session with the stream's one-line error.

A session on a real broker starts by reconciling (`reconcile`): when the last live run on the same
trade api was interrupted, its open orders and the account's positions are taken over first.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from mismartera.bars import Bar
from mismartera.data.derived import DerivedBuilder
from mismartera.errors import ExternalServiceError
from mismartera.system.assembly import (
    Assembled,
    Hooks,
    history_sessions,
    load_strategies,
    open_run,
    session_data,
    strategy_slots,
)
from mismartera.system.coordinator import Coordinator
from mismartera.system.recorder import KEEP_IN_MEMORY
from mismartera.system.runs import INTERRUPTED, RunHistory
from mismartera.system.upkeep import DayWork
from mismartera.system.worker import TICK
from mismartera.timekeeping.calendar import EXCHANGE_TZ, TradingSession
from mismartera.timekeeping.clock import WallClock

log = logging.getLogger("mismartera.system")

STORE_EVERY = 10.0   # seconds between writes of the live 1m bars
CLOSE_TIMEOUT = 2.5  # seconds the stream and broker get to stop (each stops itself within 2 s)


class LiveClock:
    """The wall clock, held at a bar's end while the engine feeds that bar.

    In a backtest the clock reads the end of the bar being fed, so an order a strategy places on
    bar t is stamped t's end, which is bar t+1's start, and the broker fills it at t+1's open. Live
    bars arrive a few seconds after their minute ends; stamping orders with the wall clock would
    put them after t+1's start, and the simulated broker would fill them a bar late. So while a
    minute's bars are fed the clock reads that minute's end (`hold`), and between minutes (manual
    orders, status, waiting) it reads the wall clock. `set` does nothing: live time moves by itself
    (the backtest coordinator's history loading and day end call it).
    """

    simulated = False

    def __init__(self, now: Callable[[], datetime] | None = None) -> None:
        self._wall = now or WallClock().now
        self._held: datetime | None = None

    def now(self) -> datetime:
        held = self._held
        return held if held is not None else self._wall()

    def wall_seconds(self) -> float:
        """The wall clock in epoch seconds, never the held instant (the live feed's clock)."""
        return self._wall().timestamp()

    def hold(self, instant: datetime | None) -> None:
        """Read `instant` until `hold(None)`."""
        self._held = instant

    def set(self, instant: datetime) -> None:
        pass


class LiveCoordinator(Coordinator):
    """Runs one live trading session.

    Args:
        stream: the started `AlpacaBarStream` (its `failed`/`error` are watched).
        make_feed: builds the `LiveBarFeed` for the session, given the first minute (bar start).
        closers: called (in order) when the loop ends, e.g. `stream.stop`, `broker.stop`.
        on_message: told what the session is doing ("waiting for open 09:30 ET", "live"), for status.
        store_every: seconds between writes of the revealed 1m bars to the store.
        **kwargs: as for `Coordinator` (`sessions` holds the one session; `speed` is ignored;
            `clock` is a `LiveClock`, held at each minute's end while that minute is fed).
    """

    def __init__(self, *, stream: Any, make_feed: Callable[[int], Any], closers: tuple[Callable[[], Any], ...] = (),
                 on_message: Callable[[str], None] | None = None, store_every: float = STORE_EVERY,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.stream = stream
        self._make_feed = make_feed
        self._closers = closers
        self._on_message = on_message
        self.feed: Any = None
        session = self.sessions[0]
        self.day, self.day_index = session.day, 1   # known from the start: status shows it at once
        self._opens = session.open.astimezone(EXCHANGE_TZ).strftime("%H:%M ET")
        self.waiting = f"waiting for open {self._opens}" if self.clock.now() < session.open else ""
        self.bars_stored = 0
        self.store_every = store_every
        self._unstored: dict[str, list[tuple]] = {}
        self._last_store = time.monotonic()

    def _say(self, text: str) -> None:
        self.beat(0, current=text)
        if self._on_message is not None:
            self._on_message(text)

    def loop(self) -> None:
        try:
            if self.stream.state == "starting":   # started here so a failed start leaves no thread
                self.stream.start()
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
            if not finished and self.feed is not None:
                self._close_partial_day(session)
            self.finished = finished
            self._wrap_up(finished)
        finally:
            self._close_parts()

    def _close_parts(self) -> None:
        """Stop the stream and a live broker at the same time: each may take its whole stop timeout
        (2 s) when a socket hangs, and `system stop` must return within about that."""
        def close(part: Callable[[], Any]) -> None:
            try:
                part()
            except Exception:
                log.exception("closing a live-session part failed")

        threads = [threading.Thread(target=close, args=(part,), name=f"{self.name}-close", daemon=True)
                   for part in self._closers]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + CLOSE_TIMEOUT
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _close_partial_day(self, session: TradingSession) -> None:
        """A live session stopped after the open but before the close still has a day to report: its
        bars so far are stored and the account as it stands is the day's equity row, so `system
        report` shows what the session did (a backtest stopped part-way has its earlier, whole days
        instead; one stopped while waiting for the open has no day)."""
        self._store_bars()
        self._sync_held()
        self._publish_state()
        assert self.account is not None
        self.recorder.end_day(session.day, self.account, self._fills_today, self.progress, 0, self.clock.now())

    # ------------------------------------------------------------------ before the open
    def _wait_for_open(self, session: TradingSession) -> bool:
        if self.clock.now() < session.open:
            self.waiting = f"waiting for open {self._opens}"
            self._say(self.waiting)
        while self.clock.now() < session.open:
            self._check_stream()
            if self._interrupt and not self._handle_interrupt():
                return False
            if self.stop_event.wait(TICK):
                return False
            self._periodic(force=False)
        self.waiting = ""
        if not self.stopping:
            self._say("live")
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
        self._rows: dict[tuple[str, str], list[tuple]] = {(s, i): [] for s in symbols for i in self.derived}
        self._present = present
        self._subscribers = {s: [slot for slot in self.slots if s in slot.symbols] for s in symbols}
        done = 0
        while feed.next_ts < close_ts:
            self._check_stream()
            if self._interrupt and not self._handle_interrupt():
                self._count(done, 0)
                return False
            minute = [bar for bar in feed.next_minute(TICK * 4) if bar.ts < close_ts]
            if minute:
                self.clock.hold(datetime.fromtimestamp(minute[0].ts + 60, UTC))   # the engine is at this minute's end
                try:
                    for bar in minute:
                        self._feed_bar(bar)
                        done += 1
                        self.day_position = self.day_live = done
                finally:
                    self.clock.hold(None)
            self._periodic(force=False)
        self._count(done, 0)
        for symbol in symbols:
            for builder in self._builders[symbol]:
                for made in builder.flush():
                    self._derived_bar(symbol, builder.to, made.row, self._rows)
        self._store_bars()
        work.derived = self._rows
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
        self._unstored.setdefault(symbol, []).append(row)
        for builder in self._builders[symbol]:
            for made in builder.add(row):
                self._derived_bar(symbol, builder.to, made.row, self._rows)
        if symbol in self.held:
            self.bars_in_market += 1
        self.to_strategies(self._subscribers[symbol], bar)
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
        if self._unstored and (force or time.monotonic() - self._last_store >= self.store_every):
            self._store_bars()
        super()._periodic(force)

    def pace_text(self) -> str:
        return self.stream_text()

    def stream_text(self) -> str:
        """The stream's health for the worker panel: state, reconnects, backfilled and stored bars."""
        stream, feed = self.stream, self.feed
        parts = [f"stream {getattr(stream, 'state', '?')}", f"{getattr(stream, 'reconnects', 0)} reconnect(s)"]
        if feed is not None:
            parts.append(f"{feed.backfilled} backfilled")
            if feed.backfill_error:
                parts.append(f"backfill failing: {feed.backfill_error}")
        parts.append(f"{self.bars_stored} stored")
        return ", ".join(parts)

    def _store_bars(self) -> None:
        """Write the 1m bars revealed since the last write (one transaction), so a live bar is stored
        within `store_every` seconds, so a crash loses at most that much of the day."""
        self._last_store = time.monotonic()
        pending, self._unstored = self._unstored, {}
        store = self.upkeep.store
        if store is None or not pending:
            return
        with store.db.begin() as conn:
            for symbol, rows in pending.items():
                store.upsert(symbol, "1m", rows, conn=conn)
        self.bars_stored += sum(len(rows) for rows in pending.values())


# ---------------------------------------------------------------------- building a live session

def check_live_config(cfg: Any) -> Any:
    """What `system start` refuses in a live config, beyond the config model's own checks."""
    from mismartera.errors import ConfigError

    if cfg.api_config.data_api != "alpaca":
        raise ConfigError(f"{cfg.session_name}: mode live needs api_config.data_api 'alpaca' (live bars come from "
                          f"Alpaca's stream; found '{cfg.api_config.data_api}')")
    return cfg


def live_session_day(tm: Any, now: datetime) -> TradingSession:
    """Today's session if it has not closed yet, else the next trading day's."""
    day = tm.to_exchange(now).date()
    session = tm.session(day)
    if session is None or now >= session.close:
        session = tm.session(tm.next_trading_day(day))
    return session


def build_live(app: Any, cfg: Any, hooks: Hooks, now: Callable[[], datetime] | None = None) -> Assembled:
    """Build a `mode: live` session for `SystemManager._launch`: the strategies, the Alpaca broker (or
    the simulated one), the trailing history from Alpaca's REST API into the store, the stream
    (started by the coordinator), and the workers — prefetch (history only), upkeep,
    `LiveCoordinator`. `now` replaces the wall clock (tests)."""
    from mismartera.execution.simulated import SimulatedBroker
    from mismartera.integrations.alpaca.historical import import_bars
    from mismartera.integrations.alpaca.live_feed import LiveBarFeed, rest_backfill
    from mismartera.integrations.alpaca.stream import AlpacaBarStream
    from mismartera.system.prefetch import Prefetch
    from mismartera.system.upkeep import Upkeep

    settings = app.settings.alpaca
    feed_name = cfg.api_config.data_feed
    clock = LiveClock(now)
    tm = app.time
    session = live_session_day(tm, clock.now())
    symbols = cfg.symbols
    store = app.bars
    specs = load_strategies(cfg)
    history_cfg = cfg.session_data_config.historical
    history = history_sessions(tm, session.day, history_cfg.trailing_days)
    if history:
        for interval in history_cfg.intervals:
            import_bars(store, settings, symbols, history[0].day, history[-1].day, interval, feed_name)

    trade_api = cfg.api_config.trade_api
    note = ""
    order_prefix: str | None = None
    if trade_api == "simulated":
        broker: Any = SimulatedBroker(cfg.trading_config, clock, history=KEEP_IN_MEMORY)
        closers: tuple[Callable[[], Any], ...] = ()
    else:
        from mismartera.execution.alpaca_broker import AlpacaBroker

        broker = AlpacaBroker(cfg.trading_config, clock, settings, paper=trade_api == "alpaca_paper").start()
        closers = (broker.stop,)
        order_prefix = broker.order_prefix
    try:
        if order_prefix is not None:
            note = reconcile(app.db, broker, trade_api)
        stream = AlpacaBarStream(settings, symbols, feed_name)
        gap = cfg.session_data_config.gap_filler   # whether, and how hard, missed minutes are fetched
        # With the gap filler off, a missing minute is released after the grace period without its bar.
        backfill = rest_backfill(settings, feed_name) if gap.enabled else (lambda symbol, first, last: [])
        open_ts, close_ts = int(session.open.timestamp()), int(session.close.timestamp())

        def make_feed(start_ts: int) -> LiveBarFeed:
            return LiveBarFeed(stream, symbols, backfill, clock.wall_seconds, start_ts=start_ts,
                               is_trading_minute=lambda ts: open_ts <= ts < close_ts,
                               retry_interval=gap.retry_interval_seconds,
                               give_up_after=max(1, gap.max_retries) * gap.retry_interval_seconds)

        data = session_data(cfg)
        held: dict[str, float] = {}
        slots = strategy_slots(specs, data, broker, clock, held)
        started_at = clock.now()
        recorder, run_id = open_run(app.db, cfg, started_at, 1, order_prefix)
        prefetch = Prefetch(store, symbols, [], 1, history, history_cfg.intervals, on_failure=hooks.on_failure)
        upkeep = Upkeep(store, store_derived=True, on_failure=hooks.on_failure)
        coordinator = LiveCoordinator(
            stream=stream, make_feed=make_feed, closers=(stream.stop, *closers), sessions=[session],
            symbols=symbols, broker=broker, clock=clock, data=data, slots=slots, held=held, prefetch=prefetch,
            upkeep=upkeep, recorder=recorder, derived=[s for s in cfg.session_data_config.streams if s != "1m"],
            speed=0.0, flatten=cfg.trading_config.close_positions_at_end_of_day,
            on_failure=hooks.on_failure, on_finished=hooks.on_finished, on_message=hooks.on_message)
    except BaseException:
        for close in closers:
            close()
        raise
    return Assembled(cfg, run_id, recorder, data, coordinator, [prefetch, upkeep, coordinator], clock, started_at,
                     coordinator.waiting or "live",
                     f"live session {cfg.session_name} started: run {run_id}, {session.day}, {len(symbols)} "
                     f"symbol(s), feed {feed_name}, trade api {trade_api}" + (f"; {note}" if note else ""), note)


def _count(n: int, what: str) -> str:
    return f"{n} {what}" + ("" if n == 1 else "s")


def reconcile(db: Any, broker: Any, trade_api: str) -> str:
    """Before a live session trades: if the last live run on this trade api was interrupted (its
    process died), take over its open orders — found at the broker by the run's client order id
    prefix, never sent again — next to the account's positions, which the broker has read already.
    Returns what was reconciled, for the start message ("" when there was nothing to do)."""
    previous = RunHistory(db).last_live(trade_api)
    if previous is None or previous.state != INTERRUPTED or not previous.order_prefix:
        return ""
    adopted = broker.adopt_open_orders(previous.order_prefix)
    held = broker.positions()
    log.info("reconciled run %s: %d open order(s) (%s), %d position(s)", previous.id, len(adopted),
             ", ".join(o.client_order_id for o in adopted) or "none", len(held))
    return (f"reconciled {_count(len(adopted), 'open order')} and {_count(len(held), 'position')} "
            f"from run {previous.id}")
