"""`run_detached`: a blocking call (HTTP with its own timeout) that a worker can walk away from.

A worker must stop within seconds, but a request to a server that hangs ends only at its own
timeout. So the call runs on a short-lived daemon thread while the worker waits for it in `TICK`
steps, re-checking its stop event; at a stop the worker goes on without it (the call ends by its
timeout on the daemon thread, which never keeps the process alive).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from mismartera.system.worker import TICK


class Abandoned(Exception):
    """The worker stopped while the call was still running."""


def run_detached(fn: Callable[[], Any], name: str, stopping: Callable[[], bool]) -> Any:
    """`fn()`'s result (or its exception, raised here); `Abandoned` when `stopping()` turned true first."""
    result: list[Any] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            result.append(fn())
        except BaseException as exc:   # handed to the waiting thread below
            errors.append(exc)

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(TICK)
        if thread.is_alive() and stopping():
            raise Abandoned(name)
    if errors:
        raise errors[0]
    return result[0]
