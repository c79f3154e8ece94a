"""`wait_until`: the one polling helper of the Alpaca tests, whose fakes and sessions run on threads."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_until(predicate: Callable[[], object], timeout: float = 5.0, step: float = 0.01) -> bool:
    """True as soon as `predicate()` is truthy, else False after `timeout` seconds (checked once more)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return bool(predicate())
