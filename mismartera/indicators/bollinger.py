"""Bollinger bands: the SMA of the close with bands `k` population standard deviations away."""

from __future__ import annotations

import math
from collections import deque

from mismartera.errors import UsageError
from mismartera.indicators.averages import RESYNC
from mismartera.indicators.base import Indicator

_ULP = 4.5e-16  # a safe bound on the rounding of one add-multiply, relative to its operands


def _allowed_error(m2: float, n: int, mean: float) -> float:
    """How far m2 may be off while σ = sqrt(m2 / n) stays within 1e-10 of the price level."""
    tol = 1e-10 * abs(mean)
    sigma = math.sqrt(m2 / n) if m2 > 0.0 else 0.0
    return n * tol * (tol + 2.0 * sigma)


class BollingerBands(Indicator):
    """`value` is the middle band (SMA of `period` closes); `upper`/`lower` are value ± k·σ.

    σ is the population standard deviation of the window, as Bollinger defines the bands. Mean and
    the sum of squared deviations (m2) slide with Welford-style updates (no sum-of-squares
    cancellation). Each update rounds m2 by about one ulp of |change| · |price|; `_noise` adds that
    up, and when it could move σ by more than 1e-10 of the price level (a big jump followed by a
    flat stretch does that) the window is re-summed exactly, as it is every few hundred bars anyway.
    On real prices that is only the periodic re-sum: amortised O(1).
    """

    __slots__ = ("_m2", "_mean", "_noise", "_since_resync", "_window", "k", "lower", "upper")

    kind = "bollinger"

    def __init__(self, period: int = 20, k: float = 2.0) -> None:
        super().__init__(period)
        if isinstance(k, bool) or not isinstance(k, (int, float)) or not math.isfinite(k) or k <= 0:
            raise UsageError(f"k must be a number > 0 (got {k!r})")
        self.k = float(k)
        self.upper: float | None = None
        self.lower: float | None = None
        self._window: deque[float] = deque()
        self._mean = 0.0
        self._m2 = 0.0
        self._noise = 0.0
        self._since_resync = 0

    def update(self, open: float, high: float, low: float, close: float, volume: float) -> float | None:
        window = self._window
        n = self.period
        window.append(close)
        if len(window) > n:
            old = window.popleft()
            change = close - old
            mean = self._mean + change / n
            self._m2 += change * (close - mean + old - self._mean)
            self._noise += abs(change) * (abs(close) + abs(old) + abs(mean))
        else:
            change = close - self._mean
            mean = self._mean + change / len(window)
            self._m2 += change * (close - mean)
            self._noise += abs(change) * (abs(close) + abs(mean))
        self._mean = mean
        self._since_resync += 1
        if self._since_resync >= RESYNC or self._noise * _ULP > _allowed_error(self._m2, len(window), mean):
            self._resync()
        if len(window) == n:
            sigma = math.sqrt(self._m2 / n) if self._m2 > 0.0 else 0.0
            self.value = self._mean
            self.upper = self._mean + self.k * sigma
            self.lower = self._mean - self.k * sigma
        return self.value

    def _resync(self) -> None:
        window = self._window
        self._since_resync = 0
        self._noise = 0.0
        self._mean = math.fsum(window) / len(window)
        self._m2 = math.fsum((x - self._mean) ** 2 for x in window)

    def reset(self) -> None:
        super().reset()
        self.upper = None
        self.lower = None
        self._window.clear()
        self._mean = 0.0
        self._m2 = 0.0
        self._noise = 0.0
        self._since_resync = 0

    def __repr__(self) -> str:
        return (f"BollingerBands(period={self.period}, k={self.k}, "
                f"lower={self.lower}, value={self.value}, upper={self.upper})")
