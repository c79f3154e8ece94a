"""`Worker`: the one base class of the session's threads (prefetch, upkeep, coordinator).

A worker is a plain named `threading.Thread` with a stop event, a pause gate, a bounded inbox and a
frozen `WorkerStatus` it republishes by swapping a reference, so readers (the toolbar, `system
watch`) never call into the worker and never block. Every wait has a timeout and re-checks the stop
event, so a stop request lands within `TICK` seconds wherever the worker is waiting.

An exception escaping `loop()` is kept (`error`), published as the worker's `last_error`, and handed
to `on_failure` so the manager can move the system to `failed` and stop the others.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from abc import ABCMeta, abstractmethod
from collections.abc import Callable
from typing import Any

from mismartera.system.status import WorkerStatus

TICK = 0.05           # seconds: the longest any wait goes without re-checking stop
THREAD_PREFIX = "mismartera-"

log = logging.getLogger("mismartera.system")


class Worker(threading.Thread, metaclass=ABCMeta):
    """Base class; subclasses implement `loop()` and call `beat()` / `publish()` as they go."""

    role = "worker"

    def __init__(self, *, inbox_size: int = 64, on_failure: Callable[[Worker, BaseException], None] | None = None
                 ) -> None:
        super().__init__(name=THREAD_PREFIX + self.role, daemon=True)
        self.stop_event = threading.Event()
        self._gate = threading.Event()        # set = may run; cleared = paused
        self._gate.set()
        self.inbox: queue.Queue[Any] = queue.Queue(maxsize=inbox_size)
        self.error: BaseException | None = None
        self._on_failure = on_failure
        self._state = "idle"
        self._items = 0
        self._current = ""
        self._detail = ""
        self._rate = 0.0
        self._rate_mark = (time.monotonic(), 0)
        self._status = WorkerStatus(self.role, "idle", time.time())

    # ------------------------------------------------------------------ control (any thread)
    def request_stop(self) -> None:
        self.stop_event.set()
        self._gate.set()  # a paused worker must wake up to see the stop

    def pause(self) -> None:
        self._gate.clear()

    def resume(self) -> None:
        self._gate.set()

    @property
    def stopping(self) -> bool:
        return self.stop_event.is_set()

    @property
    def paused(self) -> bool:
        return not self._gate.is_set()

    def status(self) -> WorkerStatus:
        """The last published snapshot (a reference read: never blocks)."""
        return self._status

    # ------------------------------------------------------------------ helpers for the worker's own thread
    def wait_while_paused(self, idle: Callable[[], None] | None = None) -> bool:
        """Block at the pause gate; False when asked to stop. `idle` runs on every tick while paused."""
        if self._gate.is_set():
            return not self.stop_event.is_set()
        self._set_state("paused")
        while not self._gate.wait(TICK):
            if self.stop_event.is_set():
                return False
            if idle is not None:
                idle()
        self._set_state("running")
        return not self.stop_event.is_set()

    def sleep(self, seconds: float) -> bool:
        """Sleep up to `seconds` in short steps; False as soon as a stop is requested."""
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return not self.stop_event.is_set()
            if self.stop_event.wait(min(TICK, left)):
                return False

    def next_item(self, timeout: float = TICK) -> Any | None:
        """The next inbox item, or None after `timeout` (so the caller re-checks stop)."""
        try:
            return self.inbox.get(timeout=timeout)
        except queue.Empty:
            return None

    def beat(self, items: int = 0, current: str | None = None, detail: str | None = None) -> None:
        """Count work done; cheap enough to call per item (the snapshot is rebuilt by `publish`)."""
        self._items += items
        if current is not None:
            self._current = current
        if detail is not None:
            self._detail = detail

    def publish(self) -> None:
        """Swap in a fresh status snapshot (rate over the time since the last publish)."""
        now = time.monotonic()
        mark_time, mark_items = self._rate_mark
        if now - mark_time >= 0.5:
            self._rate = (self._items - mark_items) / (now - mark_time)
            self._rate_mark = (now, self._items)
        error = None if self.error is None else f"{type(self.error).__name__}: {self.error}"
        self._status = WorkerStatus(self.role, self._state, time.time(), self._items, self._rate, self._current,
                                    error, self._detail)

    def _set_state(self, state: str) -> None:
        self._state = state
        self.publish()

    # ------------------------------------------------------------------ thread body
    def run(self) -> None:
        self._set_state("running")
        try:
            self.loop()
        except BaseException as exc:  # a worker must never die silently
            self.error = exc
            # the traceback to the log file; the failure itself is shown once, by the manager
            log.exception("worker %s failed", self.role, extra={"console": False})
            self._set_state("failed")
            if self._on_failure is not None:
                try:
                    self._on_failure(self, exc)
                except Exception:
                    log.exception("failure handler of %s raised", self.role)
            return
        self._set_state("stopped")

    @abstractmethod
    def loop(self) -> None:
        """The worker's work, run on its thread until it returns or raises."""


def join_all(workers: list[Worker], deadline: float) -> list[str]:
    """Join workers (in the given order) within `deadline` seconds in total; names of those still alive."""
    end = time.monotonic() + deadline
    alive = []
    current = threading.current_thread()
    for worker in workers:
        if worker is current or (not worker.is_alive() and worker.ident is None):
            continue
        worker.join(max(0.0, end - time.monotonic()))
        if worker.is_alive():
            alive.append(worker.role)
    return alive
