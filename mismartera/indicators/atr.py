"""ATR: Wilder's average true range."""

from __future__ import annotations

from mismartera.indicators.base import Indicator


def true_range(high: float, low: float, prev_close: float | None) -> float:
    """The bar's range widened to include a gap from the previous close (just high - low for the first bar)."""
    if prev_close is None:
        return high - low
    return max(high - low, abs(high - prev_close), abs(low - prev_close))


class ATR(Indicator):
    """Average true range over `period` bars.

    The first bar has no previous close, so its true range is high - low; the first ATR is the mean
    of the first `period` true ranges, then Wilder smoothing: atr = (atr * (period - 1) + tr) / period.
    """

    __slots__ = ("_count", "_prev_close", "_seed_sum")

    kind = "atr"

    def __init__(self, period: int = 14) -> None:
        super().__init__(period)
        self._prev_close: float | None = None
        self._count = 0
        self._seed_sum = 0.0

    def update(self, open: float, high: float, low: float, close: float, volume: float) -> float | None:
        tr = true_range(high, low, self._prev_close)
        self._prev_close = close
        period = self.period
        value = self.value
        if value is not None:
            self.value = (value * (period - 1) + tr) / period
            return self.value
        self._count += 1
        self._seed_sum += tr
        if self._count == period:
            self.value = self._seed_sum / period
        return self.value

    def reset(self) -> None:
        super().reset()
        self._prev_close = None
        self._count = 0
        self._seed_sum = 0.0
