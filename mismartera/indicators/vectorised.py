"""Day-at-a-time indicators: a whole day of bars in, the value after every bar out, state carried over.

Each `DayVector` mirrors one incremental indicator (`vector_for(indicator)` builds the match) and gives
the same values: NaN where the incremental one is None (warm-up), and values within 1e-12 of it
(relative) after. Windowed ones (SMA, Bollinger, rolling high/low) are numpy sliding-window
reductions over the day plus the carried tail of the window; VWAP is a running sum, done with
`numpy.cumsum` (sequential, so bit for bit what the incremental one adds). The Wilder and EMA
smoothings are recurrences (each value needs the one before), which numpy cannot vectorise exactly:
their inputs (changes, true ranges) are computed in numpy and the recurrence runs as a plain loop
with the incremental arithmetic, so the values are identical to the incremental ones.

Days are fed in order; `new_session()` is called at each day's open as the engine does for the
incremental ones (only VWAP restarts there).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from mismartera.indicators.atr import ATR
from mismartera.indicators.averages import EMA, SMA
from mismartera.indicators.base import Indicator
from mismartera.indicators.bollinger import BollingerBands
from mismartera.indicators.extremes import RollingHigh, RollingLow
from mismartera.indicators.rsi import RSI
from mismartera.indicators.vwap import VWAP

NAN = math.nan


class DayVector(ABC):
    """The vectorised twin of one incremental indicator; `run` takes a day's columns (float64 arrays)."""

    outputs: tuple[str, ...] = ("value",)

    def __init__(self, period: int) -> None:
        self.period = period

    @abstractmethod
    def run(self, open: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray,
            volume: np.ndarray) -> dict[str, np.ndarray]:
        """The value after each bar of the day (NaN while warming up), per output name."""

    def new_session(self) -> None:  # noqa: B027 - only session-anchored indicators restart
        """A new trading day opens."""


class _Windowed(DayVector):
    """A window of the last `period` values of one column, kept across days as a tail."""

    def __init__(self, period: int) -> None:
        super().__init__(period)
        self._tail = np.empty(0)

    def _windows(self, series: np.ndarray) -> tuple[np.ndarray, int]:
        """The full windows ending at each of the day's bars that has one, and the first such bar."""
        period, tail = self.period, self._tail
        joined = np.concatenate((tail, series)) if len(tail) else series
        self._tail = joined[max(0, len(joined) - (period - 1)):].copy() if period > 1 else np.empty(0)
        first = max(0, period - 1 - len(tail))
        if len(joined) < period:
            return np.empty((0, period)), len(series)
        return sliding_window_view(joined, period)[len(tail) + first - (period - 1):], first


class SMAVector(_Windowed):
    def run(self, open: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray,
            volume: np.ndarray) -> dict[str, np.ndarray]:
        out = np.full(len(close), NAN)
        windows, first = self._windows(close)
        out[first:] = windows.sum(axis=1) / self.period
        return {"value": out}


class BollingerVector(_Windowed):
    outputs = ("value", "upper", "lower")

    def __init__(self, period: int, k: float) -> None:
        super().__init__(period)
        self.k = k

    def run(self, open: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray,
            volume: np.ndarray) -> dict[str, np.ndarray]:
        value, upper, lower = (np.full(len(close), NAN) for _ in range(3))
        windows, first = self._windows(close)
        mean = windows.sum(axis=1) / self.period
        sigma = np.sqrt(((windows - mean[:, None]) ** 2).sum(axis=1) / self.period)
        value[first:] = mean
        upper[first:] = mean + self.k * sigma
        lower[first:] = mean - self.k * sigma
        return {"value": value, "upper": upper, "lower": lower}


class HighVector(_Windowed):
    def run(self, open: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray,
            volume: np.ndarray) -> dict[str, np.ndarray]:
        out = np.full(len(high), NAN)
        windows, first = self._windows(high)
        out[first:] = windows.max(axis=1)
        return {"value": out}


class LowVector(_Windowed):
    def run(self, open: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray,
            volume: np.ndarray) -> dict[str, np.ndarray]:
        out = np.full(len(low), NAN)
        windows, first = self._windows(low)
        out[first:] = windows.min(axis=1)
        return {"value": out}


class EMAVector(DayVector):
    def __init__(self, period: int) -> None:
        super().__init__(period)
        self._alpha = 2.0 / (period + 1)
        self._value: float | None = None
        self._count = 0
        self._seed_sum = 0.0

    def run(self, open: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray,
            volume: np.ndarray) -> dict[str, np.ndarray]:
        values: list[float] = []
        append = values.append
        value, alpha, period = self._value, self._alpha, self.period
        for price in close.tolist():
            if value is not None:
                value += alpha * (price - value)
                append(value)
                continue
            self._count += 1
            self._seed_sum += price
            if self._count == period:
                value = self._seed_sum / period
            append(NAN if value is None else value)
        self._value = value
        return {"value": np.array(values, dtype=np.float64)}


class _Wilder(DayVector):
    """Seed with the mean of the first `period` inputs, then avg = (avg * (period - 1) + x) / period."""

    def __init__(self, period: int) -> None:
        super().__init__(period)
        self._count = 0
        self._seed = 0.0
        self._average: float | None = None

    def _smooth(self, inputs: list[float]) -> np.ndarray:
        period = self.period
        out: list[float] = []
        append = out.append
        average = self._average
        for x in inputs:
            if average is not None:
                average = (average * (period - 1) + x) / period
                append(average)
                continue
            self._count += 1
            self._seed += x
            if self._count == period:
                average = self._seed / period
            append(NAN if average is None else average)
        self._average = average
        return np.array(out, dtype=np.float64)


class ATRVector(_Wilder):
    def __init__(self, period: int) -> None:
        super().__init__(period)
        self._prev_close: float | None = None

    def run(self, open: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray,
            volume: np.ndarray) -> dict[str, np.ndarray]:
        if not len(close):
            return {"value": np.empty(0)}
        previous = np.concatenate(([NAN if self._prev_close is None else self._prev_close], close[:-1]))
        ranges = np.maximum(high - low, np.maximum(np.abs(high - previous), np.abs(low - previous)))
        if self._prev_close is None:
            ranges[0] = high[0] - low[0]
        self._prev_close = float(close[-1])
        return {"value": self._smooth(ranges.tolist())}


class RSIVector(DayVector):
    """Wilder's RSI: the gains and losses are two Wilder smoothings of the close-to-close changes."""

    def __init__(self, period: int) -> None:
        super().__init__(period)
        self._prev_close: float | None = None
        self._count = 0
        self._avg_gain = 0.0
        self._avg_loss = 0.0

    def run(self, open: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray,
            volume: np.ndarray) -> dict[str, np.ndarray]:
        n = len(close)
        out = np.full(n, NAN)
        if not n:
            return {"value": out}
        skip = 1 if self._prev_close is None else 0       # the very first close has no change
        previous = close[:-1] if self._prev_close is None else np.concatenate(([self._prev_close], close[:-1]))
        changes = close[skip:] - previous
        gains = np.where(changes > 0.0, changes, 0.0).tolist()
        losses = np.where(changes < 0.0, -changes, 0.0).tolist()
        self._prev_close = float(close[-1])
        period = self.period
        avg_gain, avg_loss, count = self._avg_gain, self._avg_loss, self._count
        gain_out = np.full(len(gains), NAN)
        loss_out = np.full(len(gains), NAN)
        for index, (gain, loss) in enumerate(zip(gains, losses, strict=True)):
            if count < period:
                count += 1
                avg_gain += gain
                avg_loss += loss
                if count < period:
                    continue
                avg_gain /= period
                avg_loss /= period
            else:
                avg_gain = (avg_gain * (period - 1) + gain) / period
                avg_loss = (avg_loss * (period - 1) + loss) / period
            gain_out[index] = avg_gain
            loss_out[index] = avg_loss
        self._avg_gain, self._avg_loss, self._count = avg_gain, avg_loss, count
        with np.errstate(divide="ignore", invalid="ignore"):
            rsi = 100.0 - 100.0 / (1.0 + gain_out / loss_out)
        rsi = np.where(loss_out == 0.0, np.where(gain_out == 0.0, 50.0, 100.0), rsi)
        out[skip:] = np.where(np.isnan(gain_out), NAN, rsi)
        return {"value": out}


class VWAPVector(DayVector):
    def __init__(self) -> None:
        super().__init__(1)
        self.new_session()

    def new_session(self) -> None:
        self._price_volume = 0.0
        self._volume = 0.0

    def run(self, open: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray,
            volume: np.ndarray) -> dict[str, np.ndarray]:
        if not len(close):
            return {"value": np.empty(0)}
        traded = volume > 0.0
        # The same additions in the same order as the incremental VWAP (cumsum is sequential); a bar
        # without volume adds nothing, which leaves both sums, and so the value, as they were.
        weighted = np.where(traded, (high + low + close) / 3.0 * volume, 0.0)
        sums = np.cumsum(np.concatenate(([self._price_volume], weighted)))[1:]
        volumes = np.cumsum(np.concatenate(([self._volume], np.where(traded, volume, 0.0))))[1:]
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.where(volumes > 0.0, sums / volumes, NAN)
        self._price_volume, self._volume = float(sums[-1]), float(volumes[-1])
        return {"value": out}


def vector_for(indicator: Indicator) -> DayVector | None:
    """The day-at-a-time twin of a fresh built-in indicator, or None for any other kind."""
    kind = type(indicator)
    if kind is SMA:
        return SMAVector(indicator.period)
    if kind is EMA:
        return EMAVector(indicator.period)
    if kind is RSI:
        return RSIVector(indicator.period)
    if kind is ATR:
        return ATRVector(indicator.period)
    if kind is BollingerBands:
        assert isinstance(indicator, BollingerBands)
        return BollingerVector(indicator.period, indicator.k)
    if kind is VWAP:
        return VWAPVector()
    if kind is RollingHigh:
        return HighVector(indicator.period)
    if kind is RollingLow:
        return LowVector(indicator.period)
    return None
