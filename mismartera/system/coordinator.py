"""`Coordinator`: replays the session day by day, bar by bar, on its own thread.

For each trading day of the window: take the day's bars from prefetch, merge the symbols in
timestamp order (ties in config order), and run each bar through the per-bar step
(`system/bar_step.py`, shared with live sessions): clock to the bar's end, broker fills and marks,
SessionData, indicators, derived bars, strategies.

At the day's end: strategies' `on_day_end`, the optional flatten at the close, `broker.end_of_day`
(DAY orders expire), a daily equity row, and the day handed to upkeep. Then the next day.

The hot loop checks one attribute (`_interrupt`) per bar; pause, stop and requests from other
threads (manual orders) set it, and are handled between bars. With `speed > 0` each new minute is
released at `speed`× real time, measured from an anchor that is reset after a pause.
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import UTC, date, datetime
from itertools import chain, cycle
from operator import itemgetter
from typing import Any, Protocol

from mismartera.bars import Bar
from mismartera.errors import MismarteraError, StateError, WaitTimeout
from mismartera.execution.broker import Broker
from mismartera.execution.orders import Fill
from mismartera.system.bar_step import DayStep
from mismartera.system.prefetch import Prefetch
from mismartera.system.recorder import RunRecorder
from mismartera.system.session_data import SessionData
from mismartera.system.status import AccountView
from mismartera.system.strategy_host import StrategySlot
from mismartera.system.tick_replay import TickReplay
from mismartera.system.upkeep import DayWork, Upkeep
from mismartera.system.worker import TICK, Worker
from mismartera.timekeeping.calendar import TradingSession

log = logging.getLogger("mismartera.system")

PUBLISH_EVERY = 0.25      # seconds between status/account snapshots
HEARTBEAT_EVERY = 1.0     # seconds between runs-row heartbeats
HISTORY_CHUNK = 5_000     # bars fed between two looks at the stop event


class SessionClock(Protocol):
    """The clock a coordinator moves: a backtest's `SimulatedClock` or a live session's `LiveClock`."""

    def now(self) -> datetime: ...

    def set(self, instant: datetime) -> None: ...

    def set_epoch(self, seconds: int) -> None: ...

    @property
    def simulated(self) -> bool: ...


class StrategyStop(MismarteraError):
    """A strategy configured with `on_error: stop` raised; the session fails with its message."""


def _utc(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def as_bars(symbol: str, rows: Sequence[tuple]) -> list[Bar]:
    """A symbol's stored 1m rows `(ts, open, high, low, close, volume, trade_count, vwap)` as Bars.

    Each Bar is the row with the symbol in front and the interval behind, made by `tuple.__new__`
    (what NamedTuple's own `_make` does) without the per-bar keyword handling of `Bar(...)`: about
    half the cost, for every bar of a replay. Rows of another shape go through `Bar(...)`.
    """
    if not rows or len(rows[0]) != len(Bar._fields) - 2:
        return [Bar(symbol, *row) for row in rows]
    new, head, tail = tuple.__new__, (symbol,), ("1m",)
    return [new(Bar, head + row + tail) for row in rows]


class Coordinator(Worker):
    role = "coordinator"

    def __init__(self, *, sessions: list[TradingSession], symbols: list[str], broker: Broker, clock: SessionClock,
                 data: SessionData, slots: list[StrategySlot], held: dict[str, float], prefetch: Prefetch,
                 upkeep: Upkeep, recorder: RunRecorder, derived: Sequence[str], speed: float, flatten: bool,
                 on_failure: Callable | None = None, on_finished: Callable[[Coordinator, bool], None] | None = None
                 ) -> None:
        super().__init__(inbox_size=256, on_failure=on_failure)
        self.sessions = sessions
        self.symbols = symbols
        self.broker = broker
        self.clock = clock
        self.data = data
        self.slots = slots
        self.held = held
        self.prefetch = prefetch
        self.upkeep = upkeep
        self.recorder = recorder
        self.derived = list(derived)
        self.speed = speed
        self.flatten = flatten
        self._on_finished = on_finished
        self._interrupt = False
        self.ticks: TickReplay | None = None  # stored trades/quotes to replay (config streams), set by the manager
        # progress, read by SystemManager.status() (plain attribute reads)
        self.day: date | None = None
        self.day_index = 0
        self.bars_done = 0
        self.bars_in_market = 0
        self.day_bars = 0
        self.day_position = 0
        self.day_live = 0
        self.account: AccountView | None = None
        self.open_orders = 0
        self.finished = False
        self.summary: dict[str, Any] | None = None
        self.closed_partial: date | None = None   # the day stopped part-way, recorded as it stood
        self.started = time.monotonic()
        self.run_seconds = 0.0
        self._last_publish = 0.0
        self._last_heartbeat = 0.0
        self._anchor: tuple[float, int] | None = None
        self._fills_today = 0

    # ------------------------------------------------------------------ control from other threads
    def pause(self) -> None:
        super().pause()
        self._interrupt = True

    def resume(self) -> None:
        super().resume()
        self._interrupt = True

    def request_stop(self) -> None:
        super().request_stop()
        self._interrupt = True

    def call(self, fn: Callable[[], Any], timeout: float = 5.0) -> Any:
        """Run `fn` on the coordinator's thread between bars and return its result (manual orders).

        Raises StateError when the session ends before the request ran, WaitTimeout when the
        coordinator does not get to it within `timeout` seconds.
        """
        deadline = time.monotonic() + timeout
        future: Future = Future()
        try:
            self.inbox.put((fn, future), timeout=timeout)
        except queue.Full:
            raise WaitTimeout(f"the session did not take the request within {timeout:g}s (too many pending)") from None
        self._interrupt = True
        while True:
            try:
                return future.result(timeout=TICK)
            except FutureTimeout:
                if not self.is_alive() and not future.done():
                    future.cancel()
                    raise StateError("the session ended before the request ran") from None
                if time.monotonic() > deadline:
                    future.cancel()
                    raise WaitTimeout(f"the session did not answer within {timeout:g}s") from None

    def _serve_inbox(self) -> None:
        while True:
            item = self.next_item(timeout=0) if not self.inbox.empty() else None
            if item is None:
                return
            fn, future = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn())
            except Exception as exc:
                future.set_exception(exc)
            self._publish_state()

    def _handle_interrupt(self) -> bool:
        """Between bars: serve requests, honour pause; False when the loop must stop."""
        self._interrupt = False
        self._serve_inbox()
        if self.paused:
            self._publish_state()
            if not self.wait_while_paused(idle=self._idle):
                return False
            self._anchor = None  # pacing restarts from here
        if self.stopping:
            return False
        if not self.inbox.empty():
            self._interrupt = True
        return True

    def _idle(self) -> None:
        self._serve_inbox()
        self._periodic(force=False)

    # ------------------------------------------------------------------ publishing
    def _publish_state(self) -> None:
        changed, fills = self.broker.drain_changes()
        if changed or fills:
            self.recorder.collect(changed, fills)
            self._fills_today += len(fills)
        self.account = self.broker.account()
        self.open_orders = len(self.broker.open_orders())
        self.publish()

    def refresh_account(self) -> None:
        """Publish the account as it stands now (on the coordinator's thread only)."""
        self._publish_state()

    @property
    def fills_today(self) -> int:
        return self._fills_today

    def _periodic(self, force: bool) -> None:
        now = time.monotonic()
        if force or now - self._last_publish >= PUBLISH_EVERY:
            self._last_publish = now
            self.beat(self.bars_seen - self._items, current=self.clock.now().strftime("%Y-%m-%d %H:%M UTC"),
                      detail=f"day {self.day_index} of {len(self.sessions)}, {self.pace_text()}")
            self._publish_state()
            if self.recorder.pending > 5000:
                self.recorder.flush()
        if now - self._last_heartbeat >= HEARTBEAT_EVERY:
            self._last_heartbeat = now
            # Completed days are the recorded ones (right after a day's end, day_index still names it).
            self.recorder.update_run(progress=self.progress, days_done=len(self.recorder.daily),
                                     sim_time=self.clock.now())

    def status_extra(self) -> dict[str, Any]:
        """Session facts for `system status` beyond the common ones (a live session's late and
        missing minutes); read from other threads, so no I/O and no waiting."""
        return {}

    def pace_text(self) -> str:
        """How the session moves, for the worker panel (a live session shows its stream instead)."""
        return f"{self.speed:g}x real time" if self.speed > 0 else "full speed"

    @property
    def progress(self) -> float:
        total = len(self.sessions)
        if not total:
            return 1.0
        if self.finished:
            return 1.0
        done = max(0, self.day_index - 1)
        part = self.day_position / self.day_bars if self.day_bars else 0.0
        return min(1.0, (done + part) / total)

    # ------------------------------------------------------------------ fills
    def _apply_fills(self, fills: list[Fill]) -> None:
        held = self.held
        for fill in fills:
            signed = fill.quantity if fill.side == "buy" else -fill.quantity   # a Side (StrEnum) or a plain str
            quantity = held.get(fill.symbol, 0.0) + signed
            if abs(quantity) < 1e-9:
                held.pop(fill.symbol, None)
            else:
                held[fill.symbol] = quantity

    # ------------------------------------------------------------------ strategies
    def _strategy_failed(self, slot: StrategySlot, hook: str, exc: Exception, bar: Bar | None) -> None:
        where = f" on {bar.symbol} bar {bar.start.isoformat()}" if bar is not None else ""
        message = f"strategy {slot.label} raised in {hook}{where}: {type(exc).__name__}: {exc}"
        slot.error = message
        if slot.on_error == "stop":
            slot.ctx.log.error("%s (on_error: stop, stopping the session)", message, exc_info=exc)
            raise StrategyStop(message) from exc
        slot.enabled = False
        slot.ctx.log.error("%s; strategy disabled for the rest of the session", message, exc_info=exc)

    def to_strategies(self, slots: Sequence[StrategySlot], bar: Bar) -> None:
        """`on_bar` of each enabled slot, in order; a raising strategy is disabled or stops the session
        (its `on_error`). Shared by the backtest and live loops."""
        for slot in slots:
            if slot.enabled:
                try:
                    slot.strategy.on_bar(slot.ctx, bar)
                except StrategyStop:
                    raise
                except Exception as exc:
                    self._strategy_failed(slot, "on_bar", exc, bar)

    def _call_all(self, hook: str) -> None:
        for slot in self.slots:
            if not slot.enabled:
                continue
            try:
                getattr(slot.strategy, hook)(slot.ctx)
            except StrategyStop:
                raise
            except Exception as exc:
                self._strategy_failed(slot, hook, exc, None)

    # ------------------------------------------------------------------ the thread
    def loop(self) -> None:
        self.started = time.monotonic()
        self._publish_state()
        history = self.prefetch.wait_history(lambda: self.stopping)
        if history is None:
            self._wrap_up(finished=False)
            return
        if not self._load_history(history):
            self._wrap_up(finished=False)
            return
        self._call_all("on_start")
        self.prefetch.vectorise(self.data.switch_to_days() if self.data.vectorise else [])
        finished = True
        for index, session in enumerate(self.sessions):
            if self.stopping or (self._interrupt and not self._handle_interrupt()):
                finished = False
                break
            day_bars = self.prefetch.take(index, lambda: self.stopping)
            if day_bars is None:
                finished = False
                break
            if not self._run_day(index, session, day_bars):
                finished = False
                break
        if not finished:
            self.close_partial_day()
        self.finished = finished
        self._wrap_up(finished)

    def _load_history(self, history: dict[str, dict[str, list[tuple]]]) -> bool:
        """Feed the trailing history to the session data and indicators; False when a stop came first
        (checked between chunks of `HISTORY_CHUNK` bars, so a long history never delays a stop)."""
        for interval, by_symbol in history.items():
            if interval not in self.data.intervals:
                continue
            for symbol, rows in by_symbol.items():
                series = self.data.series(symbol, interval)
                feeds = self.data.feeds[symbol][interval]
                for start in range(0, len(rows), HISTORY_CHUNK):
                    if self.stopping:
                        return False
                    for row in rows[start:start + HISTORY_CHUNK]:
                        series.append(Bar(symbol, *row, interval=interval))  # type: ignore[misc]  # 8-field row
                        for indicator in feeds:
                            indicator.update(row[1], row[2], row[3], row[4], row[5])
                if rows:
                    self.clock.set(max(self.clock.now(), _utc(rows[-1][0] + 60)))
        return True

    def _run_day(self, index: int, session: TradingSession, day_bars: dict[str, list[tuple]]) -> bool:
        """Replay one day; False when stopped part-way."""
        symbols = self.symbols
        width = len(symbols)
        lists = [as_bars(symbol, day_bars.get(symbol, ())) for symbol in symbols]
        total = sum(len(bars) for bars in lists)
        grid = [bar[1] for bar in lists[0]] if lists else []
        if all([bar[1] for bar in bars] == grid for bars in lists[1:]):
            # Every symbol has a bar at the same minutes (the usual case): minute by minute, in
            # config order, with no per-bar key to build and sort. The lists are equally long (their
            # minutes are equal), so positions cycle in step; C iterators, no generator frame per bar.
            bars_in_order = chain.from_iterable(zip(*lists, strict=True))
            events: Iterable[tuple[int, Bar]] = zip(cycle(range(width)), bars_in_order, strict=False)
        else:
            keyed: list[tuple[int, int, Bar]] = []
            for position, bars in enumerate(lists):
                # One int key per bar: time order, ties in config symbol order (faster than a tuple key).
                keyed.extend([(bar[1] * width + position, position, bar) for bar in bars])
            keyed.sort(key=itemgetter(0))
            events = map(itemgetter(1, 2), keyed)

        self.day, self.day_index, self.day_bars, self.day_position = session.day, index + 1, total, 0
        self.day_live = 0
        self._fills_today = 0
        self.data.start_day()
        self.data.new_session()
        for symbol, shown, values in self.prefetch.take_indicators(index):
            shown.install(self.data.series(symbol, "1m"), values)
        self.clock.set(session.open)
        if self.ticks is not None:
            self.ticks.load_day(session)
        # A resumed run fast-forwards through the days it had stored (issue 14): never paced.
        step = DayStep(self, session, paced=not self.recorder.replaying)
        self.upkeep.track(step.work, lambda: int(self.clock.now().timestamp()))
        self._anchor = None
        finished = step.run(events)
        self._count(step.done, step.in_market)
        if not finished:
            return False
        self._end_day(session, step.finish())
        return True

    def _count(self, done: int, in_market: int) -> None:
        self.bars_done += done
        self.bars_in_market += in_market
        self.day_position = done
        self.day_live = 0

    @property
    def bars_seen(self) -> int:
        """Bars replayed so far, including the day in progress (for status)."""
        return self.bars_done + self.day_live

    def _derived_bar(self, symbol: str, interval: str, row: tuple, rows: dict[tuple[str, str], list[tuple]]) -> None:
        rows[(symbol, interval)].append(row)
        if interval in self.data.intervals:
            self.data.append(Bar(symbol, *row, interval=interval))  # type: ignore[misc]  # 8-field row
            for indicator in self.data.feeds[symbol][interval]:
                indicator.update(row[1], row[2], row[3], row[4], row[5])

    def _pace(self, end: int) -> bool:
        """Wait until minute `end` is due at `speed`× real time; False when stopping."""
        now = time.monotonic()
        if self._anchor is None:
            self._anchor = (now, end - 60)
        wall, sim = self._anchor
        due = wall + (end - sim) / self.speed
        while now < due:
            if self.stop_event.wait(min(TICK, due - now)):
                return False
            if self._interrupt:
                if not self._handle_interrupt():
                    return False
                if self._anchor is None:  # resumed from a pause: restart the pacing here
                    self._anchor = (time.monotonic(), end - 60)
                    wall, sim = self._anchor
                    due = wall + (end - sim) / self.speed
            self._periodic(force=False)
            now = time.monotonic()
        return True

    def _end_day(self, session: TradingSession, work: DayWork) -> None:
        self.clock.set(max(self.clock.now(), session.close))
        self._call_all("on_day_end")
        if self.flatten and self.held:
            prices = {}
            for symbol in list(self.held):
                last = self.data.last(symbol)
                if last is not None:
                    prices[symbol] = last.close
            fills = self.broker.flatten_at(prices, session.close)
            if fills:
                self._apply_fills(fills)
        self.broker.end_of_day(session.close)
        self._publish_state()
        assert self.account is not None
        self.recorder.end_day(session.day, self.account, self._fills_today, self.progress_after(self.day_index),
                              self.day_index, self.clock.now())
        self.upkeep.track(work, lambda: 0)
        self.upkeep.submit(work, lambda: self.stopping)
        self._periodic(force=True)

    def partial_day(self) -> date | None:
        """The day being replayed when the session ended part-way through it (its replay began but its
        close was not reached), else None."""
        daily = self.recorder.daily
        if self.day is None or (daily and daily[-1][0] >= self.day):
            return None
        return self.day

    def close_partial_day(self) -> None:
        """A session stopped in the middle of a day keeps what it did: the account as it stands (cash,
        positions marked at their last price) becomes the day's equity row, so the report, `account
        balance` and `account positions` show the session at the moment it stopped. Nothing of the
        day's end is applied (no flatten, no expiry of day orders)."""
        day = self.partial_day()
        if day is None:
            return
        self._publish_state()
        assert self.account is not None
        self.recorder.end_day(day, self.account, self._fills_today, self.progress, max(0, self.day_index - 1),
                              self.clock.now())
        self.closed_partial = day

    def progress_after(self, days_done: int) -> float:
        return days_done / len(self.sessions) if self.sessions else 1.0

    def _wrap_up(self, finished: bool) -> None:
        """The session ends (finished or stopped): strategies' `on_stop`, final writes, the summary."""
        self.run_seconds = time.monotonic() - self.started
        try:
            self._call_all("on_stop")
        except StrategyStop:
            log.warning("a strategy raised in on_stop; ignored while stopping")
        self._publish_state()
        # The days' writes are queued on the recorder's thread: wait for them here, so a failed write
        # fails the session (raised on this thread) instead of reaching the end as "finished".
        self.recorder.drain()
        self.summary = self.build_summary()
        if self._on_finished is not None:
            self._on_finished(self, finished)

    def build_summary(self) -> dict[str, Any]:
        initial = self.account.initial_cash if self.account is not None else 0.0
        report = self.recorder.running.report(initial, self.bars_in_market, self.bars_done)
        summary = dict(report.to_json())
        summary.setdefault("bars", self.bars_done)
        summary["bars_in_market"] = self.bars_in_market
        summary["bars_total"] = self.bars_done
        summary["days"] = len(self.recorder.daily)
        summary["days_planned"] = len(self.sessions)
        summary["partial_day"] = self.closed_partial.isoformat() if self.closed_partial else None
        summary["finished"] = self.finished
        summary["run_seconds"] = round(self.run_seconds, 3)
        summary["strategy_errors"] = {slot.label: slot.error for slot in self.slots if slot.error}
        summary.update(self.recorder.rejections.summary())
        return summary
