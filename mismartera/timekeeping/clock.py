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
        first = _utc(start) if start is not None else datetime(1970, 1, 1, tzinfo=UTC)
        # `_at` is the current instant as given: a datetime (`set`) or epoch seconds (`set_epoch`).
        # `_made` pairs an `_at` with its datetime; it is valid only while its key is `_at`, so a
        # reader that builds a datetime from an older `_at` can never leave a stale one behind.
        self._at: datetime | int = first
        self._made: tuple[datetime | int, datetime] = (first, first)
        self._lock = threading.Lock()
        self._paused = False

    def now(self) -> datetime:
        at = self._at
        made = self._made
        if made[0] == at:
            return made[1]
        instant = datetime.fromtimestamp(at, UTC)  # type: ignore[arg-type]  # an int: set_epoch
        self._made = (at, instant)
        return instant

    def set(self, instant: datetime) -> None:
        instant = _utc(instant)
        self._made = (instant, instant)
        self._at = instant

    def set_epoch(self, seconds: int) -> None:
        """Move to `seconds` (epoch seconds UTC, a whole number). The datetime is built only when
        someone asks: the replay moves the clock every minute, and most minutes nobody does."""
        self._at = seconds

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            instant = self.now() + delta
            self.set(instant)
            return instant

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
