"""`DayIndicator`: what a backtest strategy holds for a built-in 1m indicator: the incremental one
until the replay starts, then values computed a day at a time in the prefetch thread.

A backtest's `SessionData` hands these out (`vectorise=True`) for the built-in kinds on 1m bars.
Indicators asked for in `on_start` are switched over when the first day starts: the coordinator takes
their incremental objects out of the per-bar update, prefetch warms a `DayVector` twin on the same
history and computes each day's values beside the replay, and the coordinator installs them at the
day's open. Reading `value` then looks up the value after the symbol's latest bar by how many bars
of the day SessionData holds, so the per-bar loop does nothing for these indicators. Indicators
first asked for later stay incremental. Live sessions never vectorise (`vectorise=False`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from mismartera.bars import Bar
from mismartera.indicators.base import Indicator
from mismartera.indicators.vectorised import DayVector, vector_for

DayValues = dict[str, list]   # output name -> the value after each bar of the day (None while warming up)


def as_values(arrays: dict[str, np.ndarray]) -> DayValues:
    """A day's output arrays as lists of floats with None where the incremental indicator has none
    (warm-up only ever comes first, so only a leading run of NaN is replaced)."""
    out = {}
    for name, array in arrays.items():
        values: list = array.tolist()
        if values and math.isnan(values[0]):
            valid = np.flatnonzero(~np.isnan(array))
            lead = int(valid[0]) if len(valid) else len(values)
            values[:lead] = [None] * lead
        out[name] = values
    return out


class DayIndicator:
    """A built-in indicator as a backtest strategy sees it (`value`, `ready`, and a Bollinger's
    `upper`/`lower`), answering from the incremental indicator or from installed day values."""

    __slots__ = ("_day", "_outputs", "incremental")

    def __init__(self, incremental: Indicator) -> None:
        self.incremental = incremental
        # (the symbol's 1m series, the value after each bar indexed by the series' length) swapped
        # in as one tuple, so a reader on another thread always sees one day's pair. The list starts
        # with one entry per bar held before the open (the last of them: the value before the day's
        # first bar), so `values[len(series)]` is the value after the latest bar: one lookup per read.
        self._day: tuple[list[Bar], list] | None = None
        self._outputs: dict[str, tuple[list[Bar], list]] = {}

    def twin(self) -> DayVector | None:
        """A fresh day-at-a-time twin of the incremental indicator."""
        return vector_for(self.incremental)

    def install(self, series: list[Bar], values: DayValues) -> None:
        """Today's values; `series` is the symbol's 1m list, whose length now marks the open."""
        start = len(series)
        lead: list = [None] * start
        outputs = {}
        for name, day in values.items():
            before = self._read(name)
            padded = [*lead, before]
            padded += day
            outputs[name] = (series, padded)
        self._outputs = outputs
        self._day = outputs["value"]

    @property
    def active(self) -> bool:
        return self._day is not None

    def _read(self, name: str) -> Any:
        if self._day is None:
            return getattr(self.incremental, name)
        series, values = self._outputs[name]
        return values[len(series)]

    @property
    def value(self) -> float | None:
        day = self._day
        if day is None:
            return self.incremental.value
        series, values = day
        return values[len(series)]

    @property
    def upper(self) -> float | None:
        return self._read("upper")

    @property
    def lower(self) -> float | None:
        return self._read("lower")

    @property
    def ready(self) -> bool:
        return self.value is not None

    @property
    def period(self) -> int:
        return self.incremental.period

    @property
    def kind(self) -> str:
        return self.incremental.kind

    def update(self, open: float, high: float, low: float, close: float, volume: float) -> float | None:
        """Feed the incremental indicator (only while it is not switched to day values)."""
        if self._day is not None:
            raise RuntimeError(f"{self.kind}: computed a day at a time by the replay; it takes no bars")
        return self.incremental.update(open, high, low, close, volume)

    def new_session(self) -> None:
        if self._day is None:
            self.incremental.new_session()

    def __repr__(self) -> str:
        return f"{type(self.incremental).__name__}(period={self.period}, value={self.value}, day-at-a-time)"

