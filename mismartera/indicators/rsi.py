"""RSI: Wilder's relative strength index of the close, 0..100."""

from __future__ import annotations

from mismartera.indicators.base import Indicator


class RSI(Indicator):
    """Wilder's RSI over `period` close-to-close changes.

    The first averages of gains and losses are the plain means of the first `period` changes (so
    the first value comes with the `period + 1`-th close); after that Wilder smoothing:
    avg = (avg * (period - 1) + change) / period. With no losses the RSI is 100; with no movement
    at all (no gains, no losses) it is 50, neither overbought nor oversold.
    """

    __slots__ = ("_avg_gain", "_avg_loss", "_count", "_prev_close")

    kind = "rsi"

    def __init__(self, period: int = 14) -> None:
        super().__init__(period)
        self._prev_close: float | None = None
        self._avg_gain = 0.0
        self._avg_loss = 0.0
        self._count = 0

    def update(self, open: float, high: float, low: float, close: float, volume: float) -> float | None:
        prev = self._prev_close
        self._prev_close = close
        if prev is None:
            return None
        change = close - prev
        gain = change if change > 0.0 else 0.0
        loss = -change if change < 0.0 else 0.0
        period = self.period
        if self._count < period:
            # Seeding: accumulate sums, turned into means on the period-th change.
            self._count += 1
            self._avg_gain += gain
            self._avg_loss += loss
            if self._count < period:
                return None
            self._avg_gain /= period
            self._avg_loss /= period
        else:
            self._avg_gain = (self._avg_gain * (period - 1) + gain) / period
            self._avg_loss = (self._avg_loss * (period - 1) + loss) / period
        self.value = rsi_from_averages(self._avg_gain, self._avg_loss)
        return self.value

    def reset(self) -> None:
        super().reset()
        self._prev_close = None
        self._avg_gain = 0.0
        self._avg_loss = 0.0
        self._count = 0


def rsi_from_averages(avg_gain: float, avg_loss: float) -> float:
    """100 - 100 / (1 + RS), with the flat and no-loss cases defined (see `RSI`)."""
    if avg_loss == 0.0:
        return 50.0 if avg_gain == 0.0 else 100.0
    return 100.0 - 100.0 / (1.0 + avg_gain / avg_loss)
