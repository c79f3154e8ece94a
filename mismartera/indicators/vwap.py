"""VWAP: the session's volume-weighted average price, restarted at each day's open."""

from __future__ import annotations

from mismartera.indicators.base import Indicator


class VWAP(Indicator):
    """Cumulative sum(typical price * volume) / sum(volume) since the session opened.

    Typical price is (high + low + close) / 3, the usual stand-in for the bar's traded prices when
    only OHLCV is known. There is no window, so `period` is 1; the value is None until a bar with
    volume arrives, and `new_session()` (the engine calls it at each open) starts again.
    """

    __slots__ = ("_price_volume", "_volume")

    kind = "vwap"

    def __init__(self) -> None:
        super().__init__(1)
        self._price_volume = 0.0
        self._volume = 0.0

    def update(self, open: float, high: float, low: float, close: float, volume: float) -> float | None:
        if volume > 0.0:
            self._price_volume += (high + low + close) / 3.0 * volume
            self._volume += volume
            self.value = self._price_volume / self._volume
        return self.value

    def reset(self) -> None:
        super().reset()
        self._price_volume = 0.0
        self._volume = 0.0

    def new_session(self) -> None:
        self.reset()

    def __repr__(self) -> str:
        return f"VWAP(value={self.value})"
