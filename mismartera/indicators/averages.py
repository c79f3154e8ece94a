"""Moving averages of the close: SMA (simple) and EMA (exponential, seeded with the SMA)."""

from __future__ import annotations

import math
from collections import deque

from mismartera.indicators.base import Indicator

# A running sum drifts by a few ulps per add/subtract. Re-adding the window exactly (math.fsum)
# every RESYNC updates bounds the drift far below 1e-9, so two SMAs compared with a tiny tolerance
# agree with a plain recomputation; fsum over a window every few hundred bars costs next to nothing.
RESYNC = 256


class SMA(Indicator):
    """Simple moving average of the last `period` closes."""

    __slots__ = ("_since_resync", "_sum", "_warm", "_window")

    kind = "sma"

    def __init__(self, period: int) -> None:
        super().__init__(period)
        self._window: deque[float] = deque(maxlen=self.period)
        self._sum = 0.0
        self._since_resync = 0
        self._warm = False

    def update(self, open: float, high: float, low: float, close: float, volume: float) -> float | None:
        window = self._window
        if self._warm:   # the usual case, kept short: the engine calls this for every bar
            self._sum += close - window[0]
            window.append(close)   # a full deque with maxlen drops the oldest close itself
            self._since_resync += 1
            if self._since_resync >= RESYNC:
                self._since_resync = 0
                self._sum = math.fsum(window)
            self.value = value = self._sum / self.period
            return value
        window.append(close)
        self._sum += close
        if len(window) == self.period:
            self._warm = True
            self.value = self._sum / self.period
        return self.value

    def reset(self) -> None:
        super().reset()
        self._window.clear()
        self._sum = 0.0
        self._since_resync = 0
        self._warm = False


class EMA(Indicator):
    """Exponential moving average of the close, alpha = 2 / (period + 1).

    The first value is the SMA of the first `period` closes (the usual seed); from then on
    value = value + alpha * (close - value).
    """

    __slots__ = ("_alpha", "_count", "_seed_sum")

    kind = "ema"

    def __init__(self, period: int) -> None:
        super().__init__(period)
        self._alpha = 2.0 / (period + 1)
        self._count = 0
        self._seed_sum = 0.0

    def update(self, open: float, high: float, low: float, close: float, volume: float) -> float | None:
        value = self.value
        if value is not None:
            value += self._alpha * (close - value)
            self.value = value
            return value
        self._count += 1
        self._seed_sum += close
        if self._count == self.period:
            self.value = self._seed_sum / self.period
        return self.value

    def reset(self) -> None:
        super().reset()
        self._count = 0
        self._seed_sum = 0.0
