"""Blocking calls (HTTP with its own timeout) that a worker can walk away from.

A worker must stop within seconds, but a request to a server that hangs ends only at its own
timeout. So the call runs on a short-lived daemon thread (`Detached`) while the worker goes on
re-checking its stop event; at a stop the worker leaves it (the call ends by its timeout on the
daemon thread, which never keeps the process alive). An exception of the call is raised again on
the worker's thread (`check`), so a worker still fails on an error it did not expect. The threads
are named `<role>-request`, not `mismartera-…`: they are not the engine's workers, and one left to
its HTTP timeout after a stop is not a worker that failed to stop.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from mismartera.system.worker import TICK


class Abandoned(Exception):
    """The worker stopped while the call was still running."""


class Detached:
    """`fn()` running on its own daemon thread named `name`."""

    def __init__(self, fn: Callable[[], Any], name: str) -> None:
        self.result: Any = None
        self.error: BaseException | None = None
        self._fn = fn
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self.result = self._fn()
        except BaseException as exc:   # handed to the worker's thread by `check`
            self.error = exc

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def wait(self, timeout: float) -> bool:
        """True once the call ended (within `timeout` seconds)."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def check(self) -> Any:
        """The call's result, or its exception raised here (call once it ended)."""
        if self.error is not None:
            raise self.error
        return self.result


def run_detached(fn: Callable[[], Any], name: str, stopping: Callable[[], bool]) -> Any:
    """`fn()`'s result (or its exception, raised here); `Abandoned` when `stopping()` turned true first."""
    call = Detached(fn, name)
    while not call.wait(TICK):
        if stopping():
            raise Abandoned(name)
    return call.check()
