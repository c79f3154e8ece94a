"""The two clocks behind one interface: a simulated clock for backtests, the wall clock for live.

Engine code asks its clock for the time; nothing in the engine calls `datetime.now()`.
All instants are timezone-aware UTC datetimes.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...

    @property
    def simulated(self) -> bool: ...


class WallClock:
    """Real time, UTC."""

    simulated = False

    def now(self) -> datetime:
        return datetime.now(UTC)


class SimulatedClock:
    """A clock the session coordinator moves. Thread-safe: the shell reads it while the engine sets it.

    Reads and writes of one attribute are atomic in CPython; the lock only guards the
    read-modify-write of `advance`.
    """

    simulated = True

    def __init__(self, start: datetime | None = None) -> None:
        self._now = _utc(start) if start is not None else datetime(1970, 1, 1, tzinfo=UTC)
        self._lock = threading.Lock()
        self._paused = False

    def now(self) -> datetime:
        return self._now

    def set(self, instant: datetime) -> None:
        self._now = _utc(instant)

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            self._now = self._now + delta
            return self._now

    @property
    def paused(self) -> bool:
        return self._paused

    def pause(self) -> None:
        self._paused = True

    def resume(self) -> None:
        self._paused = False


def _utc(instant: datetime) -> datetime:
    if instant.tzinfo is None:
        raise ValueError(f"naive datetime {instant!r}: clocks take timezone-aware instants")
    return instant.astimezone(UTC)
