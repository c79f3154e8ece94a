"""`LiveCoordinator`: the coordinator of `mode: live` — the backtest's per-bar step (`DayStep`),
with bars from a `MarketDataSource`'s stream (through `LiveBarFeed`: ordered, gaps backfilled) and
the source's clock (the wall clock, or the replay's).

    history (prefetch) → on_start → for each of the source's trading days:
    wait for the open ("waiting for open 09:30 ET")
    → each settled minute through `DayStep`: broker marks/fills, SessionData, indicators, derived
      bars, strategies
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
from bisect import bisect_right
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from mismartera.config.session import SessionConfig
from mismartera.data.database import Database
from mismartera.errors import ConfigError, ExternalServiceError
from mismartera.execution.orders import Order
from mismartera.execution.registry import open_broker
from mismartera.sources.base import BarStream, SourceSetup
from mismartera.sources.live_feed import LiveBarFeed
from mismartera.sources.registry import LIVE_SOURCES, open_source
from mismartera.system.assembly import (
    Assembled,
    Hooks,
    history_sessions,
    load_strategies,
    open_run,
    session_data,
    strategy_slots,
)
from mismartera.system.bar_step import DayStep
from mismartera.system.coordinator import Coordinator
from mismartera.system.minute_refetch import MinuteRefetcher, earlier_missing
from mismartera.system.order_gateway import OrderGateway, OrderSender
from mismartera.system.order_reconcile import Reconciled, reconcile_open_orders
from mismartera.system.prefetch import Prefetch
from mismartera.system.recorder import KEEP_IN_MEMORY
from mismartera.system.runs import INTERRUPTED, RunHistory
from mismartera.system.tick_sink import TickSink
from mismartera.system.upkeep import DayWork, Upkeep
from mismartera.system.worker import TICK, Worker
from mismartera.timekeeping.calendar import EXCHANGE_TZ, TradingSession
from mismartera.timekeeping.clock import WallClock

log = logging.getLogger("mismartera.system")

STORE_EVERY = 10.0   # seconds between writes of the live 1m bars
CLOSE_TIMEOUT = 2.5  # seconds the stream and broker get to stop (each stops itself within 2 s)
FEED_GRACE = 5.0     # seconds after a minute's end before a bar missing from the stream is fetched
DATA_TIMEOUT = 30.0  # seconds of market time without a stream bar before the stream counts as silent


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

    def set_epoch(self, seconds: int) -> None:
        """Hold the end of the minute being fed (`seconds`, epoch UTC): the per-bar step's clock move."""
        self._held = datetime.fromtimestamp(seconds, UTC)

    def wall_seconds(self) -> float:
        """The wall clock in epoch seconds, never the held instant (the live feed's clock)."""
        return self._wall().timestamp()

    def hold(self, instant: datetime | None) -> None:
        """Read `instant` until `hold(None)`."""
        self._held = instant

    def set(self, instant: datetime) -> None:
        pass


class LiveCoordinator(Coordinator):
    """Runs a live session over the source's trading days (one for a live source, the replay's window).

    Args:
        stream: the source's bar stream, not started (its `failed`/`error` are watched).
        make_feed: builds the `LiveBarFeed` for the session, given the first minute (bar start); the
            feed moves on to each later day's open.
        closers: called (in order) when the loop ends, e.g. `stream.stop`, `broker.stop`.
        on_message: told what the session is doing ("waiting for open 09:30 ET", "live"), for status.
        store_every: seconds between writes of the revealed 1m bars to the store.
        **kwargs: as for `Coordinator` (`speed` is ignored: the source's clock paces the bars;
            `clock` is a `LiveClock`, held at each minute's end while that minute is fed).
    """

    def __init__(self, *, stream: BarStream, make_feed: Callable[[int], LiveBarFeed],
                 closers: tuple[Callable[[], Any], ...] = (), on_message: Callable[[str], None] | None = None,
                 store_every: float = STORE_EVERY, gateway: OrderGateway | None = None,
                 refetcher: MinuteRefetcher | None = None, data_timeout: float = DATA_TIMEOUT,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.speed = 0.0
        self.data_timeout = data_timeout
        self.silent = False          # no stream bar for data_timeout seconds in market hours
        self._silent_since = 0.0
        self._last_reconnect = 0.0
        self.gateway = gateway
        self.refetcher = refetcher
        # a stop may take this much longer than a backtest's: the grace for orders in flight
        self.stop_grace = gateway.grace if gateway is not None else 0.0
        self.unknown_orders: list[Order] = []
        self.stream = stream
        self._make_feed = make_feed
        self._closers = closers
        self._on_message = on_message
        self.feed: LiveBarFeed | None = None
        self.clock: LiveClock = kwargs["clock"]
        session = self.sessions[0]
        self.day, self.day_index = session.day, 1   # known from the start: status shows it at once
        self.waiting = f"waiting for open {self._opens(session)}" if self.clock.now() < session.open else ""
        self.bars_stored = 0
        self.missing = 0    # bars of trading minutes neither the stream nor the backfill had
        self.store_every = store_every
        self._unstored: dict[str, list[tuple]] = {}
        self._last_store = time.monotonic()
        self._step: DayStep | None = None   # the day in progress

    @staticmethod
    def _opens(session: TradingSession) -> str:
        return session.open.astimezone(EXCHANGE_TZ).strftime("%H:%M ET")

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
            if history is None or not self._load_history(history):   # stopped before or while feeding it
                self._wrap_up(False)
                return
            self._call_all("on_start")
            finished = True
            stopped_in: TradingSession | None = None   # the day a stop cut short after its open
            for index, session in enumerate(self.sessions):
                self.day, self.day_index = session.day, index + 1
                if not (self._wait_for_open(session) and self._run_live_day(session)):
                    finished = False
                    stopped_in = session if self._step is not None else None
                    break
            self._settle_orders()
            if stopped_in is not None:
                self._close_partial_day(stopped_in)
            self.finished = finished
            self._wrap_up(finished)
        finally:
            self._close_parts()
            # the final counts, with the stream as it ended (stopped), for the stopped worker's panel
            self.beat(0, detail=f"day {self.day_index} of {len(self.sessions)}, {self.pace_text()}")

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

    def _settle_orders(self) -> None:
        """Orders in flight when the session ends: at a stop nothing more is sent (at the close the
        flatten's orders still go out); those sent get up to the gateway's grace to be answered,
        the rest are recorded `unknown` and listed in the report (the next live start reconciles
        them with the broker)."""
        if self.gateway is None:
            return
        if self.gateway.broker.in_flight():
            self._say(f"waiting up to {self.gateway.grace:g} s for orders in flight")
        self.unknown_orders = self.gateway.settle(stopping=self.stopping)
        if self.unknown_orders:
            log.warning("%d order(s) still unknown at the stop: %s", len(self.unknown_orders),
                        ", ".join(o.client_order_id for o in self.unknown_orders))
        self._sync_held()

    def status_extra(self) -> dict[str, Any]:
        """The minutes that reached strategies late or never, for `system status` (when any)."""
        late = _late_ranges(list(self.feed.late)) if self.feed is not None else []
        missing = [_missing_text(item) for item in self.refetcher.summary()] if self.refetcher is not None else []
        return {key: value for key, value in (("minutes_late", late), ("minutes_missing", missing)) if value}

    def build_summary(self) -> dict[str, Any]:
        summary = super().build_summary()
        missing = self.refetcher.summary() if self.refetcher is not None else []
        summary["missing_minutes"] = missing
        summary["minutes_missing"] = [_missing_text(item) for item in missing]
        summary["minutes_late"] = _late_ranges(self.feed.late if self.feed is not None else [])
        summary["orders_unknown"] = [
            {"id": o.id, "client_order_id": o.client_order_id, "symbol": o.symbol, "side": o.side.value,
             "quantity": o.quantity, "filled_quantity": o.filled_quantity} for o in self.unknown_orders]
        return summary

    def _close_partial_day(self, session: TradingSession) -> None:
        """A live session stopped after the open but before the close still has a day to report: its
        bars so far are stored and the account as it stands is the day's equity row, so `system
        report` shows what the session did (a backtest stopped part-way has its earlier, whole days
        instead; one stopped while waiting for the open has no day)."""
        step, self._step = self._step, None
        self._store_bars()
        if step is not None and self.feed is not None:
            self._store_derived_through(step, self.feed.next_ts)
        self._sync_held()
        self._publish_state()
        assert self.account is not None
        self.recorder.end_day(session.day, self.account, self._fills_today, self.progress, 0, self.clock.now())

    def _store_derived_through(self, step: DayStep, end_ts: int) -> None:
        """Store the derived bars (5m, 15m, …) of a day stopped part-way, up to the last window whose
        minutes have all been released by `end_ts`; the window still running is left out. Written
        here, not by upkeep, which is stopping too."""
        store = self.upkeep.store
        if not self.derived or store is None:
            return
        for position, symbol in enumerate(self.symbols):
            for builder in step.builders[position]:
                for made in builder.flush_through(end_ts):
                    self._derived_bar(symbol, builder.to, made.row, step.derived_rows)
        with store.db.begin() as conn:
            for (symbol, interval), rows in step.derived_rows.items():
                if rows:
                    self.upkeep.derived_stored += store.upsert(symbol, interval, rows, conn=conn)

    # ------------------------------------------------------------------ before the open
    def _wait_for_open(self, session: TradingSession) -> bool:
        if self.clock.now() < session.open:
            self.waiting = f"waiting for open {self._opens(session)}"
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
        if self.stream.failed:
            raise ExternalServiceError(self.stream.error or "the market-data stream failed")

    # ------------------------------------------------------------------ the session
    def _run_live_day(self, session: TradingSession) -> bool:
        """Feed each settled minute through the day's step until the close; False when stopped first."""
        symbols = self.symbols
        rank = {symbol: position for position, symbol in enumerate(symbols)}
        open_ts, close_ts = int(session.open.timestamp()), int(session.close.timestamp())
        if self.feed is None:
            self.feed = self._make_feed(open_ts)
        else:
            self.feed.move_to(open_ts)
        feed = self.feed
        self.day_bars = session.minutes * len(symbols)
        self.day_position = self.day_live = 0
        self._fills_today = 0
        self.data.start_day()
        self.data.new_session()
        self._step = step = DayStep(self, session)
        self.upkeep.track(step.work, lambda: int(self.clock.now().timestamp()))
        try:
            while feed.next_ts < close_ts:
                self._check_stream()
                if self._interrupt and not self._handle_interrupt():
                    return False
                minute = [bar for bar in feed.next_minute(TICK * 4) if bar.ts < close_ts]
                self._watch_silence(feed)
                if minute:
                    before = step.done
                    try:
                        fed = step.run([(rank[bar.symbol], bar) for bar in minute])
                    finally:
                        self.clock.hold(None)
                    for bar in minute[:step.done - before]:
                        self._unstored.setdefault(bar.symbol, []).append(bar.to_row())
                    self.day_position = self.day_live = step.done
                    if not fed:
                        return False
                self._periodic(force=False)
        finally:
            self._count(step.done, step.in_market)
        absent = self.day_bars - step.done
        if absent:
            self.missing += absent
            log.warning("%s: %d bar(s) of the session's minutes were neither streamed nor found by the backfill",
                        session.day, absent)
        work = step.finish()
        self._step = None
        self._store_bars()
        self._end_day(session, work)
        return True

    def _end_day(self, session: TradingSession, work: DayWork) -> None:
        """The backtest's end of day, with the clock held at the close (as a backtest's reads)."""
        self.clock.hold(session.close)
        try:
            super()._end_day(session, work)
        finally:
            self.clock.hold(None)

    def _watch_silence(self, feed: LiveBarFeed) -> None:
        """A stream silent for `data_timeout` seconds of market time shows as silent (REST covers
        its minutes meanwhile) and is reconnected now; again after each further `data_timeout`."""
        now = self.clock.wall_seconds()
        last_bar = feed.last_stream_bar
        if self.silent and last_bar > self._silent_since:
            self.silent = False
            log.info("the market-data stream brings bars again")
        if now - max(last_bar, self._last_reconnect) < self.data_timeout:
            return
        if not self.silent:
            log.warning("the market-data stream has been silent for %g s: reconnecting it (REST covers the minutes)",
                        self.data_timeout)
            self.silent, self._silent_since = True, last_bar
        self._last_reconnect = now
        self.stream.reconnect()

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
        """The stream's health for the worker panel: state, reconnects, backfilled, missing and stored bars."""
        stream, feed = self.stream, self.feed
        state = stream.state
        shown = "silent, covered by REST" if self.silent and state in ("streaming", "reconnecting") else state
        parts = [f"stream {shown}", f"{stream.reconnects} reconnect(s)"]
        if feed is not None:
            parts.append(f"{feed.backfilled} backfilled")
            if feed.late:
                parts.append(f"{len(feed.late)} minute(s) late")
            if feed.missing:
                stored = len(self.refetcher.stored) if self.refetcher is not None else 0
                parts.append(f"{len(feed.missing)} released missing ({stored} re-fetched since)")
            if feed.backfill_error:
                parts.append(f"backfill failing: {feed.backfill_error}")
        if self.missing:
            parts.append(f"{self.missing} missing")
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


def _minute_et(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).astimezone(EXCHANGE_TZ).strftime("%H:%M ET")


def _missing_text(item: dict[str, Any]) -> str:
    """One minute released missing, for the report."""
    when = datetime.fromtimestamp(item["ts"], UTC).astimezone(EXCHANGE_TZ).strftime("%Y-%m-%d %H:%M ET")
    if item.get("stored"):
        fate = "re-fetched and stored later"
    elif item.get("no_trades"):
        fate = "REST has no bar (no trades)"
    else:
        fate = "not stored yet (the next live session or data backfill fetches it)"
    return f"{item['symbol']} {when}: {fate}"


def _late_ranges(late: list[tuple[int, float]]) -> list[str]:
    """Minutes released late, runs of consecutive minutes merged: '09:44-09:45 ET, up to 95 s late'."""
    out: list[str] = []
    run: list[tuple[int, float]] = []
    for minute, delay in sorted(late):
        if run and minute != run[-1][0] + 60:
            out.append(_late_text(run))
            run = []
        run.append((minute, delay))
    if run:
        out.append(_late_text(run))
    return out


def _late_text(run: list[tuple[int, float]]) -> str:
    span = _minute_et(run[0][0]) if len(run) == 1 else f"{_minute_et(run[0][0])[:5]}-{_minute_et(run[-1][0])}"
    return f"{span}, up to {max(d for _, d in run):.0f} s late"


# ---------------------------------------------------------------------- building a live session

def check_live_config(cfg: SessionConfig) -> SessionConfig:
    """What `system start` refuses in a live config, beyond the config model's own checks."""
    if cfg.api_config.data_api not in LIVE_SOURCES:
        raise ConfigError(f"{cfg.session_name}: mode live needs api_config.data_api one of "
                          f"{', '.join(LIVE_SOURCES.names())} (live bars come from a stream; found "
                          f"'{cfg.api_config.data_api}')")
    return cfg


def trading_minutes(sessions: list[TradingSession]) -> Callable[[int], bool]:
    """Whether a bar start falls in one of `sessions`' regular hours."""
    spans = [(int(s.open.timestamp()), int(s.close.timestamp())) for s in sessions]
    opens = [start for start, _ in spans]

    def inside(ts: int) -> bool:
        index = bisect_right(opens, ts) - 1
        return index >= 0 and ts < spans[index][1]

    return inside


def build_live(app: Any, cfg: SessionConfig, hooks: Hooks, now: Callable[[], datetime] | None = None) -> Assembled:
    """Build a `mode: live` session for `SystemManager._launch`: the strategies, the source named by
    `api_config.data_api` (its clock, days, trailing history into the store, stream started by the
    coordinator), the broker named by `api_config.trade_api`, and the workers — prefetch (history
    only), upkeep, `LiveCoordinator`. `now` replaces the wall clock (tests)."""
    tm = app.time
    store = app.bars
    source = open_source(SourceSetup(cfg, app.settings, store, tm, now))
    clock = LiveClock(source.now)
    sessions = source.sessions()
    symbols = cfg.symbols
    specs = load_strategies(cfg)
    history_cfg = cfg.session_data_config.historical
    history = history_sessions(tm, sessions[0].day, history_cfg.trailing_days)
    if history:
        for interval in history_cfg.intervals:
            source.load_history(history[0].day, history[-1].day, interval)

    trade_api = cfg.api_config.trade_api
    broker = open_broker(trade_api, cfg.trading_config, clock, app.settings, KEEP_IN_MEMORY)
    gateway: OrderGateway | None = None   # a broker that fills from the bars does so on the engine's thread
    reconciled: list[Reconciled] = []
    note = ""
    order_prefix: str | None = None
    try:
        if isinstance(broker, OrderSender):
            order_prefix = broker.order_prefix
            # an interrupted run's open orders are taken over (never sent again) ...
            note = reconcile(app.db, broker, trade_api)
            # ... and orders an earlier run left unknown are settled with the broker before this one trades
            reconciled = reconcile_open_orders(app.db, broker.remote_order)
            # orders go out on their own thread: a slow or hung broker delays orders, never bars
            gateway = OrderGateway(broker, grace=cfg.api_config.stop_order_grace_seconds,
                                   on_failure=hooks.on_failure)
        stream = source.stream()
        gap = cfg.session_data_config.gap_filler   # whether, and how hard, missed minutes are fetched
        # With the gap filler off, a missing minute is released after the grace period without its bar.
        backfill = source.history if gap.enabled else (lambda symbol, first, last: [])
        is_trading_minute = trading_minutes(sessions)
        # a minute the backfill could not get within gap_wait_seconds reaches strategies missing,
        # and is fetched again in the background until stored (with those earlier runs missed)
        refetcher = MinuteRefetcher(store, backfill, retry_interval=gap.retry_interval_seconds,
                                    on_failure=hooks.on_failure) if gap.enabled else None
        if refetcher is not None:
            for symbol, ts in earlier_missing(app.db, store):
                refetcher.add(symbol, ts)

        def make_feed(start_ts: int) -> LiveBarFeed:
            return LiveBarFeed(stream, symbols, backfill, clock.wall_seconds, start_ts=start_ts,
                               grace=FEED_GRACE, is_trading_minute=is_trading_minute,
                               retry_interval=min(gap.retry_interval_seconds, gap.gap_wait_seconds),
                               give_up_after=max(0.0, gap.gap_wait_seconds - FEED_GRACE),
                               on_missing=refetcher.add if refetcher is not None else None)

        data = session_data(cfg)
        closers: tuple[Callable[..., Any], ...] = (stream.stop, broker.stop)
        subscribe_ticks = getattr(stream, "subscribe_ticks", None)  # sources that stream trades/quotes
        if cfg.session_data_config.tick_streams and subscribe_ticks is not None:
            ticks = TickSink(app.db, data, cfg.session_data_config.tick_streams)
            subscribe_ticks(cfg.session_data_config.tick_streams, ticks.add)
            ticks.start()
            closers = (stream.stop, ticks.stop, broker.stop)
        held: dict[str, float] = {}
        slots = strategy_slots(specs, data, broker, clock, held)
        started_at = (now or WallClock().now)()   # when the run happened, not the session clock's time
        recorder, run_id = open_run(app.db, cfg, started_at, len(sessions), order_prefix)
        prefetch = Prefetch(store, symbols, [], 1, history, history_cfg.intervals, on_failure=hooks.on_failure)
        upkeep = Upkeep(store, store_derived=True, on_failure=hooks.on_failure)
        coordinator = LiveCoordinator(
            stream=stream, make_feed=make_feed, closers=closers, sessions=sessions,
            symbols=symbols, broker=broker, clock=clock, data=data, slots=slots, held=held, prefetch=prefetch,
            upkeep=upkeep, recorder=recorder, derived=[s for s in cfg.session_data_config.streams if s != "1m"],
            speed=0.0, flatten=cfg.trading_config.close_positions_at_end_of_day,
            on_failure=hooks.on_failure, on_finished=hooks.on_finished, on_message=hooks.on_message,
            gateway=gateway, refetcher=refetcher, data_timeout=cfg.api_config.data_timeout_seconds)
    except BaseException:
        broker.stop()
        raise
    days = f"{sessions[0].day}" if len(sessions) == 1 else f"{sessions[0].day}..{sessions[-1].day}"
    workers: list[Worker] = [prefetch, upkeep, *[w for w in (refetcher, gateway) if w is not None], coordinator]
    return Assembled(cfg, run_id, recorder, data, coordinator, workers, clock, started_at,
                     coordinator.waiting or "live",
                     f"live session {cfg.session_name} started: run {run_id}, {days}, {len(symbols)} "
                     f"symbol(s), {source.describe()}, trade api {trade_api}"
                     + (f", {len(reconciled)} open order(s) of earlier runs reconciled" if reconciled else "")
                     + (f"; {note}" if note else ""), note)


def _count(n: int, what: str) -> str:
    return f"{n} {what}" + ("" if n == 1 else "s")


def reconcile(db: Database, broker: OrderSender, trade_api: str) -> str:
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
