"""`SystemManager`: owns one session at a time and moves it through the state table.

    start(config) → starting → running ⇄ paused → stopping → stopped     (failed from any active state)

`start` builds the session (calendar window, strategies, broker, SessionData, a runs row) and starts
the workers in order — prefetch, upkeep, coordinator. `stop` asks them to stop in reverse order and
joins each within a deadline, naming any thread still alive. A worker that raises moves the system
to `failed` (its name and error kept for `system status`) and the others are told to stop. When the
coordinator reaches the end of the window the session stops itself ("finished").

All transitions happen under one lock with `next_state`, so an illegal request raises the
`StateError` whose message names the state and the legal moves.
"""

from __future__ import annotations

import atexit
import functools
import gc
import logging
import threading
import time
import weakref
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mismartera.config.session import SessionConfig, load_session_config, parse_session_config
from mismartera.errors import ConfigError, Interrupted, MismarteraError, NotFound, StateError, UsageError, WaitTimeout
from mismartera.execution.registry import FILLS_FROM_BARS, open_broker
from mismartera.system.coordinator import Coordinator
from mismartera.system.prefetch import Prefetch
from mismartera.system.record_writer import RecorderError, describe
from mismartera.system.recorder import KEEP_IN_MEMORY, RunRecorder
from mismartera.system.runs import RESUMABLE_STATES, RunHistory, RunInfo, mark_interrupted
from mismartera.system.session_access import SessionAccess
from mismartera.system.session_data import SessionData
from mismartera.system.state import SystemState, Trigger, next_state
from mismartera.system.status import SystemStatus
from mismartera.system.tick_replay import TickReplay
from mismartera.system.upkeep import Upkeep
from mismartera.system.watchdog import StrategyTimeout, StrategyWatchdog, StuckCall, call_sites
from mismartera.system.worker import Worker, join_all
from mismartera.timekeeping.clock import SimulatedClock, WallClock

if TYPE_CHECKING:
    from mismartera.system.assembly import Assembled, Hooks

log = logging.getLogger("mismartera.system")

STOP_TIMEOUT = 10.0
FAILURE_RECORD_TIMEOUT = 8.0   # seconds `wait` gives a failure to be written to the runs row
STOP_GRACE = 5.0          # seconds a stop's caller waits beyond the join deadline (the run's last writes)
STRATEGY_CALL_SITES = call_sites(Coordinator.to_strategies, Coordinator._call_all)
WAIT_STEP = 0.1
_WALL = WallClock()
_MANAGERS: weakref.WeakSet[SystemManager] = weakref.WeakSet()


@atexit.register
def _stop_sessions_at_exit() -> None:
    """A process that ends with a session still running (one-shot `system start`) stops it cleanly,
    so its runs row says stopped instead of running forever."""
    for manager in list(_MANAGERS):
        manager._at_exit()


YOUNG_GC_THRESHOLD = 10_000   # allocations between young-generation collections while sessions run


def prepare_garbage_collector() -> None:
    """Before the replay starts: move everything alive now (imported modules, the calendar, the
    session's set-up) out of the garbage collector's reach, and collect the young generation less often.

    A replay allocates objects by the million; each full collection would otherwise re-scan the whole
    heap, which stalls every thread (the shell's keystroke echo too) for tens of milliseconds. What is
    frozen is long-lived anyway; collecting first keeps garbage from being frozen with it, and what
    an earlier session froze is thawed first so its leftovers can be collected now.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    # The replay makes a Bar per bar and keeps it for a day or two: with the default threshold (700)
    # a young-generation collection runs every few hundred bars and scans each Bar before it can be
    # untracked. At 10,000 most short-lived objects are gone before a collection sees them: about a
    # tenth off the coordinator's CPU time on the reference backtest, the same as no collector at
    # all. Never lowered, and it stays for the process (a shell runs one session after another).
    first, second, third = gc.get_threshold()
    if first and first < YOUNG_GC_THRESHOLD:
        gc.set_threshold(YOUNG_GC_THRESHOLD, second, third)


class SystemManager(SessionAccess):
    """The session owner. `app` is anything with `.db`, `.bars` and `.time` (the AppContext).

    `live_now` is the wall clock live sessions run on (default: the real one); tests give a
    scripted one to be inside market hours on any day.
    """

    def __init__(self, app: Any, live_now: Callable[[], datetime] | None = None) -> None:
        self.app = app
        self._live_now = live_now
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self.state = SystemState.STOPPED
        self.config: SessionConfig | None = None
        self.run_id: int | None = None
        self.error: str | None = None
        self.error_worker: str | None = None
        self.message = ""
        self.started_at: datetime | None = None
        self.ended_at: datetime | None = None
        self.coordinator: Coordinator | None = None
        self.workers: list[Worker] = []
        self._waiters = 0    # threads in wait(): a failure is theirs to show
        self.recorder: RunRecorder | None = None
        self.data: SessionData | None = None
        self._wall_clock = None
        self._finalizing = False
        self._start_done = threading.Event()   # cleared while start() builds the session
        self._start_done.set()
        self._stopper: threading.Thread | None = None     # completes a stop, whoever asked for it
        self._watchdog: StrategyWatchdog | None = None
        self.stuck: StuckCall | None = None               # the strategy call that failed the last session
        self.start_note = ""                              # what the last start did besides starting
        self._abandoned: list[Worker] = []                # stuck threads of this process's sessions
        self._failure_recorded = threading.Event()        # cleared while a failure is written to the run
        self._failure_recorded.set()
        # Set by whoever hosts the session (mismartera.api.host): each guard runs before a start and
        # may refuse it (StateError); each listener hears every new state (under the lock: be quick);
        # `owner` says which process owns the session and where its control API listens.
        self.start_guards: list[Callable[[], None]] = []
        self.listeners: list[Callable[[SystemState], None]] = []
        self.owner: Callable[[], Any] | None = None
        _MANAGERS.add(self)

    # ------------------------------------------------------------------ transitions
    def _move(self, trigger: Trigger) -> SystemState:
        with self._lock:
            self.state = next_state(self.state, trigger)
            self._changed.notify_all()
            for listener in self.listeners:
                try:
                    listener(self.state)
                except Exception:
                    log.exception("state listener failed on %s", self.state.value)
            return self.state

    # ------------------------------------------------------------------ start
    def start(self, config: SessionConfig | str | Path | None, speed: float | None = None,
              resume: int | None = None) -> SystemStatus:
        """Start a session from a config (object or file path); returns the status once running.

        With `resume`, continue that stored backtest run instead (its own config; `config` is unused):
        its stored days are replayed without recording and checked against the stored day-end equity,
        then the run goes on recording where it stopped.
        """
        with self._lock:
            next_state(self.state, Trigger.START)   # a wrong state is named before any guard is asked
            for guard in self.start_guards:
                guard()
            self._move(Trigger.START)
            self.error = self.error_worker = None
            self.message = "starting"
            self._start_done.clear()
        try:
            self._build_and_start(config, speed, resume)
        except BaseException as exc:
            self._start_done.set()
            with self._lock:
                starting = self.state is SystemState.STARTING
                if starting:
                    self._move(Trigger.STOP)
            if starting:
                self._in_stopper(functools.partial(self._abort_start, exc), 2.0)
            raise
        self._start_done.set()
        return self.status()

    def _abort_start(self, exc: BaseException) -> None:
        """A start that failed or was interrupted: stop what it started, record the failure."""
        self._stop_workers(2.0)
        with self._lock:
            if self.recorder is not None and self.recorder.run_id is not None:
                self._safe_finish("failed", error=f"start failed: {exc}")
            self._restore_clock()
            self._move(Trigger.STOP_COMPLETED)
            self.message = "start failed"

    def _load(self, config: SessionConfig | str | Path, speed: float | None) -> SessionConfig:
        cfg = config if isinstance(config, SessionConfig) else load_session_config(config)
        if speed is not None and speed < 0:
            raise UsageError(f"--speed {speed:g} is negative (expected 0 for as fast as possible, or N > 0)")
        if cfg.mode == "live":
            from mismartera.system.live import check_live_config

            if speed is not None:
                if cfg.replay_config is None:
                    raise UsageError(f"--speed applies to backtests and replays; {cfg.session_name} is a live "
                                     "session on the market's own clock")
                cfg = cfg.model_copy(update={"replay_config": cfg.replay_config.model_copy(
                    update={"speed_multiplier": speed})})
            return check_live_config(cfg)
        if cfg.api_config.trade_api not in FILLS_FROM_BARS:
            raise ConfigError(f"{cfg.session_name}: api_config.trade_api '{cfg.api_config.trade_api}' is not "
                              f"available for backtests (expected {' or '.join(FILLS_FROM_BARS)})")
        if speed is not None:
            assert cfg.backtest_config is not None
            cfg = cfg.model_copy(update={"backtest_config": cfg.backtest_config.model_copy(
                update={"speed_multiplier": speed})})
        return cfg

    def _build_and_start(self, config: SessionConfig | str | Path | None, speed: float | None,
                         resume: int | None = None) -> None:
        from mismartera.system.assembly import Hooks

        mark_interrupted(self.app.db)   # runs whose process died are found before a new one starts
        resumed = None
        if resume is not None:
            resumed = self._resumable(resume)
            config = parse_session_config(resumed.config, f"run {resume}'s config")
        if config is None:
            raise UsageError("give a session-config file (or --resume RUN)")
        cfg = self._load(config, speed)
        hooks = Hooks(on_failure=self._worker_failed, on_finished=self._coordinator_done,
                      on_message=self._show_live_message)
        if cfg.mode == "live":
            from mismartera.system.live import build_live

            built = build_live(self.app, cfg, hooks, self._live_now)
        else:
            built = self._build_backtest(cfg, hooks, resumed)
        self._launch(built)

    def _resumable(self, run_id: int) -> RunInfo:
        """The stored run `run_id` if `system start --resume` can continue it, else a clear error."""
        info = RunHistory(self.app.db).run(run_id)
        if info.mode != "backtest":
            raise UsageError(f"cannot resume run {run_id}: it is a {info.mode} session (only backtests resume; "
                             "a new live session reconciles with the broker instead)")
        if info.state == "finished":
            raise StateError(f"cannot resume run {run_id}: it finished all {info.days_total} day(s) "
                             f"(its report: system report {run_id})")
        if info.state not in RESUMABLE_STATES:
            raise StateError(f"cannot resume run {run_id}: it is {info.state} in process {info.owner_pid} on "
                             f"{info.owner_host} (stop it there, or wait for it to end)")
        return info

    def _build_backtest(self, cfg: SessionConfig, hooks: Hooks, resumed: RunInfo | None = None) -> Assembled:
        from mismartera.system.assembly import (
            Assembled,
            history_sessions,
            load_strategies,
            open_run,
            session_data,
            strategy_slots,
        )

        backtest = cfg.backtest_config
        assert backtest is not None
        tm = self.app.time
        sessions = tm.sessions(backtest.start_date, backtest.end_date)
        if not sessions:
            raise ConfigError(f"{cfg.session_name}: no trading days between {backtest.start_date} and "
                              f"{backtest.end_date} (the exchange is closed on all of them)")
        symbols = cfg.symbols
        store = self.app.bars
        self._check_data(store, symbols, sessions)
        history_cfg = cfg.session_data_config.historical
        history = history_sessions(tm, sessions[0].day, history_cfg.trailing_days)
        specs = load_strategies(cfg)

        clock = SimulatedClock(sessions[0].open)
        broker = open_broker(cfg.api_config.trade_api, cfg.trading_config, clock, self.app.settings, KEEP_IN_MEMORY)
        data = session_data(cfg)
        data.vectorise = True   # built-in 1m indicators a day at a time in prefetch (live keeps them per bar)
        held: dict[str, float] = {}
        slots = strategy_slots(specs, data, broker, clock, held)
        started_at = _WALL.now()
        if resumed is None:
            recorder, run_id = open_run(self.app.db, cfg, started_at, len(sessions))
            verb = "started"
        else:
            recorder, run_id = RunRecorder(self.app.db), resumed.id
            stored = recorder.resume_run(run_id)
            verb = f"resumed (fast-forward over {len(stored)} stored day(s))"
        derived: list[str] = [s for s in cfg.session_data_config.streams if s != "1m"]
        prefetch = Prefetch(store, symbols, sessions, backtest.prefetch_days, history,
                            history_cfg.intervals, on_failure=hooks.on_failure, cache=self.app.open_bar_cache(),
                            day_indicators=True)
        upkeep = Upkeep(store, store_derived=True, on_failure=hooks.on_failure)
        coordinator = Coordinator(sessions=sessions, symbols=symbols, broker=broker, clock=clock, data=data,
                                  slots=slots, held=held, prefetch=prefetch, upkeep=upkeep, recorder=recorder,
                                  derived=derived, speed=backtest.speed_multiplier,
                                  flatten=cfg.trading_config.close_positions_at_end_of_day,
                                  on_failure=hooks.on_failure, on_finished=hooks.on_finished)
        if cfg.session_data_config.tick_streams:
            coordinator.ticks = TickReplay(self.app.db, symbols, cfg.session_data_config.tick_streams, data)
        return Assembled(cfg, run_id, recorder, data, coordinator, [prefetch, upkeep, coordinator], clock,
                         started_at, "replaying",
                         f"session {cfg.session_name} {verb}: run {run_id}, {len(sessions)} day(s), "
                         f"{len(symbols)} symbol(s), speed {backtest.speed_multiplier:g}")

    def _launch(self, built: Assembled) -> None:
        """Start a built session's workers in order and move to running (unless a stop came first)."""
        with self._lock:
            self.config, self.run_id, self.recorder, self.data = built.config, built.run_id, built.recorder, built.data
            self.started_at, self.ended_at = built.started_at, None
            self.coordinator = built.coordinator
            self.workers = list(built.workers)
            self._wall_clock = self.app.time.clock
            self.app.time.clock = built.clock
            self._finalizing = False
            prepare_garbage_collector()
            for worker in self.workers:
                worker.start()
            self.stuck = None
            writer = built.recorder.writer
            self._watchdog = StrategyWatchdog(
                built.coordinator, STRATEGY_CALL_SITES, built.config.strategy_timeout_seconds, self._strategy_stuck,
                active=lambda: self.state.active, write_started=lambda: writer.busy_since,
                on_write_stuck=self._write_stuck)
            self._watchdog.start()
            if self.state is SystemState.STARTING:
                self._move(Trigger.START_COMPLETED)
                self.message = built.message
                self.start_note = built.note
                # A failed write is the coordinator's to report (it fails the session); here it is logged.
                self._record_state("running")
        log.info("%s", built.summary)

    def _show_live_message(self, text: str) -> None:
        """A live session says what it is doing ("waiting for open 09:30 ET", "live") while it runs."""
        with self._lock:
            if self.state is SystemState.RUNNING:
                self.message = text

    @staticmethod
    def _check_data(store: Any, symbols: list[str], sessions: list[Any]) -> None:
        start, end = int(sessions[0].open.timestamp()), int(sessions[-1].close.timestamp())
        missing = [s for s in symbols if store.count(s, "1m", start, end) == 0]
        if missing:
            raise NotFound(f"no 1m bars for {', '.join(missing)} between {sessions[0].day} and {sessions[-1].day} "
                           "(load them first: data import-file, data import-api, or data demo)")

    # ------------------------------------------------------------------ pause / resume
    def pause(self) -> SystemStatus:
        with self._lock:
            self._move(Trigger.PAUSE)
            for worker in self.workers:
                worker.pause()
            self.message = "paused"
        self._await_coordinator_paused(1.0)
        self._record_state("paused")
        return self.status()

    def _await_coordinator_paused(self, timeout: float) -> None:
        """Return once the coordinator sits at its pause gate (so the clock the caller sees next is
        the frozen one), or after `timeout` when it is busy elsewhere (e.g. loading a day)."""
        coordinator = self.coordinator
        deadline = time.monotonic() + timeout
        while (coordinator is not None and coordinator.is_alive() and self.state is SystemState.PAUSED
               and coordinator.status().state != "paused" and time.monotonic() < deadline):
            time.sleep(0.005)

    def resume(self) -> SystemStatus:
        with self._lock:
            self._move(Trigger.RESUME)
            for worker in self.workers:
                worker.resume()
            self.message = self._verb()
        self._record_state("running")
        return self.status()

    def _verb(self) -> str:
        """What a running session is doing, for its message and progress line."""
        return "live" if self.config is not None and self.config.mode == "live" else "replaying"

    def _record_state(self, state: str) -> None:
        if self.recorder is not None:
            try:
                self.recorder.update_run(state=state)
            except Exception:
                log.exception("could not record state %s of run %s", state, self.run_id)

    # ------------------------------------------------------------------ stop
    def stop(self, timeout: float = STOP_TIMEOUT) -> SystemStatus:
        """Stop the session between bars; workers are joined in reverse start order within `timeout`."""
        if timeout <= 0:
            raise UsageError(f"--timeout {timeout:g} must be > 0 seconds")
        with self._lock:
            if self.state is SystemState.STOPPING:
                # Already on its way (the window ended, or another stop): stopping twice is
                # waiting for the first one.
                if not self._wait_while_stopping(timeout):
                    raise WaitTimeout(f"session still stopping after {timeout:g}s (run {self.run_id})")
                return self.status()
            if self._stopper is not None and self._stopper.is_alive():   # a failed session being stopped
                stopper = self._stopper
            else:
                failed = self.state is SystemState.FAILED
                if not failed:
                    next_state(self.state, Trigger.STOP)   # a stop that cannot happen is refused here
                # The stop, its move to `stopping` included, happens on its own thread: an interrupt
                # landing in this method (a second Ctrl-C, SIGTERM) ends this wait only, and can never
                # leave the session `stopping` with nobody to finish the stop.
                stopper = self._start_stopper(lambda: self._begin_stop(failed, timeout))
        stopper.join(timeout + STOP_GRACE)
        return self.status()

    def _wait_while_stopping(self, timeout: float) -> bool:
        """Wait (holding the lock's condition) until the state leaves `stopping`; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self.state is SystemState.STOPPING and time.monotonic() < deadline:
                self._changed.wait(WAIT_STEP)
            return self.state is not SystemState.STOPPING

    def _begin_stop(self, failed: bool, timeout: float) -> None:
        """On the stopper thread: move to `stopping` (unless the session ended meanwhile) and complete."""
        if not failed:
            with self._lock:
                failed = self.state is SystemState.FAILED   # it failed since stop() looked
                ended_meanwhile = self.state not in (SystemState.STARTING, SystemState.RUNNING,
                                                     SystemState.PAUSED, SystemState.FAILED)
                if not (failed or ended_meanwhile):
                    self._move(Trigger.STOP)
                    self._finalizing = True
                    self.message = "stopping"
            if ended_meanwhile:   # the window ended since stop() looked: its own thread finishes it
                self._wait_while_stopping(timeout)
                return
        self._complete_stop(failed, timeout)

    def _start_stopper(self, work: Callable[[], None]) -> threading.Thread:
        def run() -> None:
            try:
                work()
            except BaseException as exc:   # the state must still leave `stopping`
                log.exception("stopping the session failed")
                with self._lock:
                    if self.state is SystemState.STOPPING:
                        self.error, self.error_worker = f"{type(exc).__name__}: {exc}", "stop"
                        self._move(Trigger.FAIL)
                        self.message = "stop failed"

        stopper = threading.Thread(target=run, name="mismartera-stopper", daemon=True)
        self._stopper = stopper
        stopper.start()
        return stopper

    def _in_stopper(self, work: Callable[[], None], timeout: float) -> None:
        """Run `work` on the stopper thread and wait for it (an interrupt ends the wait, not the work)."""
        self._start_stopper(work).join(timeout + STOP_GRACE)

    def _complete_stop(self, failed: bool, timeout: float) -> None:
        """The body of `stop`, on the stopper thread: join the workers, record the run's end, move on."""
        if failed:
            alive = self._stop_workers(timeout)
            with self._lock:
                self._restore_clock()
                self._move(Trigger.STOP)
                self.message = self._alive_message(alive) or f"stopped after failure in {self.error_worker}"
            return
        # A stop during `starting` lets start() finish building first, then stops what it started.
        self._start_done.wait(timeout)
        alive = self._stop_workers(timeout)
        with self._lock:
            if self.state is not SystemState.STOPPING:   # failed while stopping
                return
            coordinator = self.coordinator
            if coordinator is not None and not coordinator.is_alive() and coordinator.error is None:
                self._safe_finish("finished" if coordinator.finished else "stopped")
            else:
                self._safe_finish("stopped", error=self._alive_message(alive) or None)
            self._restore_clock()
            self.ended_at = _WALL.now()
            self._move(Trigger.STOP_COMPLETED)
            self.message = self._alive_message(alive) or ("finished" if coordinator and coordinator.finished
                                                          else "stopped")

    def _stop_workers(self, timeout: float) -> list[str]:
        """Ask every worker to stop, coordinator first; join them within `timeout`; names still alive."""
        ordered = list(reversed(self.workers))
        for worker in ordered:
            worker.request_stop()
        # a live coordinator first gives orders in flight their grace (`stop_order_grace_seconds`)
        grace = max((float(getattr(worker, "stop_grace", 0.0)) for worker in ordered), default=0.0)
        alive = join_all(ordered, timeout + grace)
        self._stop_watchdog()
        if alive:
            log.warning("threads still running after %.1fs: %s", timeout, ", ".join(alive))
        return alive

    def _stop_watchdog(self) -> None:
        watchdog = self._watchdog
        if watchdog is not None and watchdog is not threading.current_thread():
            watchdog.request_stop()
            watchdog.join(1.0)

    @staticmethod
    def _alive_message(alive: list[str]) -> str:
        return f"threads still running after stop: {', '.join(alive)}" if alive else ""

    def _restore_clock(self) -> None:
        if self._wall_clock is not None:
            self.app.time.clock = self._wall_clock
            self._wall_clock = None

    def _safe_finish(self, state: str, error: str | None = None) -> None:
        recorder, coordinator = self.recorder, self.coordinator
        if recorder is None:
            return
        try:
            recorder.finish(state, account=coordinator.account if coordinator else None,
                            summary=coordinator.summary if coordinator else None, error=error)
        except Exception:
            log.exception("could not record the end of run %s", self.run_id)

    # ------------------------------------------------------------------ callbacks from worker threads
    def _coordinator_done(self, coordinator: Coordinator, finished: bool) -> None:
        """On the coordinator's thread, after its wrap-up: a natural end stops the session."""
        with self._lock:
            if self._finalizing or self.state not in (SystemState.RUNNING, SystemState.PAUSED):
                return   # a user stop (or a failure) is already handling the end
            self._move(Trigger.STOP)
            self._finalizing = True
            self.message = "finishing"
        others = [w for w in reversed(self.workers) if w is not coordinator]
        for worker in others:
            worker.request_stop()
        alive = join_all(others, STOP_TIMEOUT)
        self._stop_watchdog()
        with self._lock:
            if self.state is not SystemState.STOPPING:
                return
            self._safe_finish("finished" if finished else "stopped", error=self._alive_message(alive) or None)
            self._restore_clock()
            self.ended_at = _WALL.now()
            self._move(Trigger.STOP_COMPLETED)
            self.message = self._alive_message(alive) or ("finished" if finished else "stopped")

    def _strategy_stuck(self, stuck: StuckCall) -> None:
        """On the watchdog's thread: a strategy callback did not return in time. The coordinator's
        thread cannot be stopped from outside; it is abandoned (a daemon, waited for by nobody) and
        the session fails. The recorder's own thread writes the finished days meanwhile."""
        coordinator = self.coordinator
        if coordinator is None:
            return
        self.stuck = stuck
        coordinator.abandoned = True
        self._abandoned.append(coordinator)
        self._worker_failed(coordinator, StrategyTimeout(stuck.message()))

    def _write_stuck(self, seconds: float) -> None:
        """On the watchdog's thread: a database write hangs (the server stopped answering). The session
        fails with that; its runs row cannot be written now and is found interrupted once the process
        ends, so the run can be resumed when the database is back."""
        coordinator = self.coordinator
        if coordinator is None:
            return
        run = self.recorder.run_id if self.recorder is not None else self.run_id
        self._worker_failed(coordinator, RecorderError(
            f"recorder of run {run}: a database write did not finish within {seconds:.0f}s (the database does "
            "not answer)"), record=False)

    @property
    def abandoned_threads(self) -> list[str]:
        """Threads of past sessions given up on and still running (a stuck strategy burning CPU)."""
        return [w.name for w in self._abandoned if w.is_alive()]

    def _worker_failed(self, worker: Worker, exc: BaseException, record: bool = True) -> None:
        with self._lock:
            if not self.state.active:
                return
            self.error = describe(exc)  # one line: a database error without its SQL
            self.error_worker = worker.role
            self._failure_recorded.clear()
            self._move(Trigger.FAIL)
            self.message = f"failed in {worker.role}"
            for other in self.workers:
                if other is not worker:
                    other.request_stop()
        # shown once: by whoever waits for the session (it raises it), else by this line
        log.error("session failed in %s: %s", worker.role, self.error, extra={"console": not self._waiters})
        try:
            if self.recorder is not None and record:
                coordinator = self.coordinator
                account, day, trades = None, None, 0
                if coordinator is not None:
                    if worker is coordinator:   # on its own thread: its broker can be asked once more
                        try:
                            coordinator.refresh_account()
                        except Exception:
                            log.exception("could not read the account of run %s after its failure", self.run_id)
                    account, day, trades = coordinator.account, coordinator.partial_day(), coordinator.fills_today
                self.recorder.finish("failed", error=f"{worker.role}: {self.error}", account=account,
                                     partial_day=day, trades=trades)
        except Exception:
            log.exception("could not record the failure of run %s", self.run_id)
        finally:
            self._failure_recorded.set()

    def _at_exit(self) -> None:
        stopper = self._stopper
        if stopper is not None and stopper.is_alive():   # a stop on its way: let it record the run's end
            stopper.join(STOP_TIMEOUT + STOP_GRACE)
        if self.state in (SystemState.STARTING, SystemState.RUNNING, SystemState.PAUSED):
            try:
                self.stop(5.0)
            except MismarteraError:
                pass
        elif self.state is SystemState.FAILED:
            self._stop_workers(2.0)

    # ------------------------------------------------------------------ wait
    def wait(self, timeout: float | None = None, progress: Any = None, progress_factory: Any = None
             ) -> SystemStatus:
        """Block until the session is no longer running (finished, stopped or failed).

        Waits in short steps so Ctrl-C lands promptly. Raises WaitTimeout after `timeout` seconds
        and MismarteraError when the session failed. `progress_factory(description, total, unit)`
        makes a progress display (closed on return) when `progress` is not given.
        """
        if timeout is not None and timeout <= 0:
            raise UsageError(f"--timeout {timeout:g} must be > 0 seconds")
        if progress is None and progress_factory is not None and self.coordinator is not None and self.state.active:
            made = progress_factory(self._verb(), len(self.coordinator.sessions), "days")
            try:
                return self.wait(timeout, made)
            finally:
                made.close()
        self._waiters += 1
        try:
            return self._wait(timeout, progress)
        finally:
            self._waiters -= 1

    def _wait(self, timeout: float | None, progress: Any) -> SystemStatus:
        deadline = None if timeout is None else time.monotonic() + timeout
        last_progress = -1.0
        while True:
            with self._lock:
                state = self.state
                if state in (SystemState.STOPPED, SystemState.FAILED):
                    break
                step = WAIT_STEP if deadline is None else max(0.0, min(WAIT_STEP, deadline - time.monotonic()))
                if deadline is not None and step <= 0:
                    status = self.status()
                    raise WaitTimeout(f"session still {state.value} after {timeout:g}s (run {self.run_id}, "
                                      f"day {status.day_index} of {status.days_total})")
                self._changed.wait(step)
            if progress is not None:
                coordinator = self.coordinator
                if coordinator is not None and coordinator.progress != last_progress:
                    last_progress = coordinator.progress
                    progress.update(completed=round(last_progress * len(coordinator.sessions), 2),
                                    description=f"{self._verb()} {coordinator.day or ''}".strip())
        coordinator = self.coordinator
        if coordinator is not None and coordinator.is_alive() and not coordinator.abandoned:
            coordinator.join(2.0)
        if progress is not None and coordinator is not None:
            progress.update(completed=round(coordinator.progress * len(coordinator.sessions), 2))
        if self.state is SystemState.FAILED:
            self._failure_recorded.wait(FAILURE_RECORD_TIMEOUT)   # the run's row says failed before we say so
            raise MismarteraError(f"session failed in {self.error_worker}: {self.error} (run {self.run_id})")
        return self.status()

    def run(self, config: SessionConfig | str | Path | None, speed: float | None = None, progress_factory: Any = None,
            timeout: float | None = None, resume: int | None = None) -> SystemStatus:
        """Start a session (or resume a run) and wait for its end; Ctrl-C / SIGTERM stops it gracefully
        (Interrupted, exit 130)."""
        self.start(config, speed, resume)
        if self.start_note:   # shown before the wait (the report comes at the end)
            log.warning("%s", self.start_note)
        progress = None
        if progress_factory is not None and self.coordinator is not None:
            progress = progress_factory(self._verb(), len(self.coordinator.sessions), "days")
        try:
            return self.wait(timeout, progress)
        except KeyboardInterrupt:
            status = self._stop_quietly()
            at = self.app.time.to_exchange(status.clock).strftime("%Y-%m-%d %H:%M %Z") if status.clock else "the start"
            raise Interrupted(f"interrupted: session stopped at {at} (run {self.run_id}, "
                              f"day {status.day_index} of {status.days_total})") from None
        except WaitTimeout:
            self._stop_quietly()
            raise
        finally:
            if progress is not None:
                progress.close()

    def _stop_quietly(self) -> SystemStatus:
        try:
            return self.stop(STOP_TIMEOUT)
        except (StateError, KeyboardInterrupt):
            return self.status()

    # ------------------------------------------------------------------ status
    def status(self) -> SystemStatus:
        """One snapshot of everything the shell shows; only reads references (never blocks on I/O)."""
        coordinator = self.coordinator
        cfg = self.config
        owner = self._owner_fields()
        if coordinator is None or cfg is None:
            return SystemStatus(self.state, message=self.message, error=self.error, error_worker=self.error_worker,
                                **owner)
        elapsed = coordinator.run_seconds if not coordinator.is_alive() else time.monotonic() - coordinator.started
        bars = coordinator.bars_seen
        rate = bars / elapsed if elapsed > 0 else 0.0
        live = self.state in (SystemState.RUNNING, SystemState.PAUSED, SystemState.STARTING)
        extra: dict[str, Any] = {"speed": cfg.backtest_config.speed_multiplier if cfg.backtest_config else None,
                                 "symbols": cfg.symbols}
        disabled = {slot.label: slot.error for slot in coordinator.slots if slot.error}
        if disabled:
            extra["strategy_errors"] = disabled
        if self.data is not None and live:
            extra["indicators"] = [{"symbol": s, "indicator": n, "value": v}
                                   for s, n, v in self.data.indicator_values()]
        extra.update(coordinator.status_extra())
        return SystemStatus(
            state=self.state, mode=cfg.mode, session_name=cfg.session_name, run_id=self.run_id,
            clock=coordinator.clock.now(), day=coordinator.day, day_index=coordinator.day_index,
            days_total=len(coordinator.sessions), progress=coordinator.progress, bars_done=bars,
            bars_per_second=rate, account=coordinator.account, open_orders=coordinator.open_orders,
            recent_orders=tuple(self.recorder.recent_orders) if self.recorder else (),
            recent_fills=tuple(self.recorder.recent_fills) if self.recorder else (),
            workers=tuple(worker.status() for worker in self.workers), error=self.error,
            error_worker=self.error_worker, started_at=self.started_at, ended_at=self.ended_at,
            message=self.message, extra=extra, **owner)

    def _owner_fields(self) -> dict[str, Any]:
        record = self.owner() if self.owner is not None else None
        if record is None:
            return {}
        return {"owner_pid": record.pid, "owner_kind": record.kind, "api_url": record.api_url}
