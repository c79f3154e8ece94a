"""`StrategyWatchdog`: notices a strategy callback that does not return (or a database write that does
not finish), from outside the replay loop.

The coordinator's hot loop is left as it is (no per-bar timestamps). Instead a small thread looks at
the coordinator thread's current stack a few times a second (`sys._current_frames()`): when a
strategy callback is on it — the frame called from `Coordinator.to_strategies` or `_call_all` — the
watchdog keeps a reference to that frame object. A later look that finds the very same frame object
is the same call still running (a new call makes a new frame, and the kept reference means an old
one cannot be recycled for it). One call running for `timeout` seconds is stuck: the watchdog reports
the strategy's label and where its thread is now (file:line of the innermost frame) and stops looking.

What to do about it is the owner's business (`on_stuck`): `SystemManager` fails the session and
abandons the thread, since Python cannot stop a thread from outside.

The same looks check the run recorder's writer: a write running longer than `WRITE_TIMEOUT` (a
database that stopped answering without closing the connection) is reported to `on_write_stuck`.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import CodeType, FrameType
from typing import Any

from mismartera.errors import MismarteraError

log = logging.getLogger("mismartera.system")

LOOK_EVERY = 0.2          # seconds between looks at the coordinator's stack
WRITE_TIMEOUT = 10.0      # seconds one database write of the recorder may take
THREAD_NAME = "mismartera-watchdog"


class StrategyTimeout(MismarteraError):
    """A strategy callback ran longer than `strategy_timeout_seconds`; the session fails."""


@dataclass(frozen=True)
class StuckCall:
    """A strategy callback that has not returned."""

    strategy: str     # the slot's label ("sma_crossover", "mine#2")
    hook: str         # the callback's name ("on_bar", "on_day_end", …)
    where: str        # file:line the thread is at now
    seconds: float    # how long the call has been running when noticed

    def message(self) -> str:
        return (f"strategy {self.strategy} did not return from {self.hook} within {self.seconds:.0f}s "
                f"(stuck at {self.where}); its thread is abandoned and uses CPU until the process ends")


def call_sites(*functions: Callable[..., Any]) -> frozenset[CodeType]:
    """The code objects of the functions that call strategies (their callee frames are the callbacks)."""
    return frozenset(fn.__code__ for fn in functions)


def strategy_frame(top: FrameType | None, sites: frozenset[CodeType]) -> FrameType | None:
    """The frame of the strategy callback on this stack (called from one of `sites`), if any."""
    frame = top
    while frame is not None:
        caller = frame.f_back
        if caller is not None and caller.f_code in sites:
            return frame
        frame = caller
    return None


def describe(call: FrameType, top: FrameType, seconds: float) -> StuckCall:
    """Name the stuck call: its slot's label (a local of the calling method), and the innermost line of
    the strategy's own file on the stack (where a loop in it spins, even while it calls a library), or
    the innermost line at all when the strategy's file is not on top."""
    caller = call.f_back
    slot = caller.f_locals.get("slot") if caller is not None else None
    label = getattr(slot, "label", None) or type(call.f_locals.get("self")).__name__
    where: FrameType | None = top
    while where is not None and where is not call and where.f_code.co_filename != call.f_code.co_filename:
        where = where.f_back
    at = where if where is not None else top
    return StuckCall(str(label), call.f_code.co_name, f"{at.f_code.co_filename}:{at.f_lineno}", seconds)


class StrategyWatchdog(threading.Thread):
    """Watches one thread (`target`) for a strategy call longer than `timeout` seconds.

    Args:
        target: the coordinator thread.
        sites: what `call_sites` gives for the coordinator's strategy-calling methods.
        timeout: seconds one callback may run.
        on_stuck: called once, on the watchdog's thread, with the stuck call.
        active: looks are taken only while this says so (the session is running).
    """

    def __init__(self, target: threading.Thread, sites: frozenset[CodeType], timeout: float,
                 on_stuck: Callable[[StuckCall], None], active: Callable[[], bool] = lambda: True,
                 write_started: Callable[[], float | None] = lambda: None,
                 on_write_stuck: Callable[[float], None] | None = None) -> None:
        super().__init__(name=THREAD_NAME, daemon=True)
        self.write_started = write_started
        self.on_write_stuck = on_write_stuck
        self.target = target
        self.sites = sites
        self.timeout = timeout
        self.on_stuck = on_stuck
        self.active = active
        self.stop_event = threading.Event()
        self.stuck: StuckCall | None = None

    def request_stop(self) -> None:
        self.stop_event.set()

    def run(self) -> None:
        seen: FrameType | None = None
        since = 0.0
        while not self.stop_event.wait(LOOK_EVERY):
            if not self.target.is_alive():
                return
            if not self.active():
                seen = None
                continue
            if self._write_stuck():
                return
            top = sys._current_frames().get(self.target.ident or -1)
            call = strategy_frame(top, self.sites)
            now = time.monotonic()
            if call is None or call is not seen:
                seen, since = call, now
                continue
            if now - since >= self.timeout and top is not None:
                self.stuck = describe(call, top, now - since)
                log.error("%s", self.stuck.message())
                try:
                    self.on_stuck(self.stuck)
                except Exception:
                    log.exception("the stuck-strategy handler raised")
                return
        # dropped here: the kept frame (and the locals it holds) goes with the thread's end

    def _write_stuck(self) -> bool:
        started = self.write_started()
        if started is None or self.on_write_stuck is None:
            return False
        seconds = time.monotonic() - started
        if seconds < WRITE_TIMEOUT:
            return False
        log.error("a database write has not finished after %.0fs", seconds)
        try:
            self.on_write_stuck(seconds)
        except Exception:
            log.exception("the stuck-write handler raised")
        return True
