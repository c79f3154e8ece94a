"""Rolling high and low: the highest high / lowest low of the last `period` bars."""

from __future__ import annotations

from collections import deque

from mismartera.indicators.base import Indicator


class _RollingExtreme(Indicator):
    """A monotonic deque of (bar number, price): each bar is pushed and popped at most once, so an
    update is O(1) amortised however long the window is."""

    __slots__ = ("_count", "_deque")

    def __init__(self, period: int) -> None:
        super().__init__(period)
        self._deque: deque[tuple[int, float]] = deque()
        self._count = 0

    def reset(self) -> None:
        super().reset()
        self._deque.clear()
        self._count = 0


class RollingHigh(_RollingExtreme):
    """Highest high of the last `period` bars (None until `period` bars have been seen)."""

    __slots__ = ()

    kind = "high"

    def update(self, open: float, high: float, low: float, close: float, volume: float) -> float | None:
        dq = self._deque
        # Older entries not above the new high can never be the maximum again.
        while dq and dq[-1][1] <= high:
            dq.pop()
        dq.append((self._count, high))
        self._count += 1
        if dq[0][0] <= self._count - 1 - self.period:
            dq.popleft()
        if self._count >= self.period:
            self.value = dq[0][1]
        return self.value


class RollingLow(_RollingExtreme):
    """Lowest low of the last `period` bars (None until `period` bars have been seen)."""

    __slots__ = ()

    kind = "low"

    def update(self, open: float, high: float, low: float, close: float, volume: float) -> float | None:
        dq = self._deque
        while dq and dq[-1][1] >= low:
            dq.pop()
        dq.append((self._count, low))
        self._count += 1
        if dq[0][0] <= self._count - 1 - self.period:
            dq.popleft()
        if self._count >= self.period:
            self.value = dq[0][1]
        return self.value
