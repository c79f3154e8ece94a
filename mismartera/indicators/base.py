"""What every indicator shares: the update signature, `value`/`ready`, `reset()` and `new_session()`.

Indicators are fed one bar at a time by the session coordinator, so each `update` must cost O(1)
with plain floats: the engine replays hundreds of thousands of bars per second and an indicator
that rescans its window per bar would dominate the run.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from mismartera.errors import UsageError


def check_period(period: object, name: str = "period") -> int:
    """A window length: a whole number >= 1 (bools are refused, they are ints to Python)."""
    if isinstance(period, bool) or not isinstance(period, int):
        raise UsageError(f"{name} must be a whole number >= 1 (got {period!r})")
    if period < 1:
        raise UsageError(f"{name} must be a whole number >= 1 (got {period})")
    return period


class Indicator(ABC):
    """Base class: subclasses set `value` in `update` and clear their state in `reset`."""

    __slots__ = ("period", "value")

    kind: str = ""

    def __init__(self, period: int) -> None:
        self.period = check_period(period)
        self.value: float | None = None

    @property
    def ready(self) -> bool:
        """True once the indicator has seen enough bars to have a value."""
        return self.value is not None

    @abstractmethod
    def update(self, open: float, high: float, low: float, close: float, volume: float) -> float | None:
        """Take one bar; return the new value, or None until warm."""

    def reset(self) -> None:
        """Forget every bar seen, as if newly built."""
        self.value = None

    def new_session(self) -> None:  # noqa: B027 - a deliberate no-op hook, overridden by VWAP
        """Called at each trading day's open. Most indicators run across days, so this does nothing;
        session-anchored ones (VWAP) restart here."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(period={self.period}, value={self.value})"
