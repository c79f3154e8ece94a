"""The day-at-a-time indicators give the incremental ones' values (issue 16): hypothesis over
warm-up history, days of any length (gaps, early closes, empty days), flat stretches and jumps."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mismartera.indicators import make_indicator
from mismartera.indicators.vectorised import vector_for

REL = 1e-12
KINDS = [("sma", {"period": 1}), ("sma", {"period": 10}), ("ema", {"period": 5}), ("rsi", {"period": 14}),
         ("rsi", {"period": 2}), ("atr", {"period": 7}), ("bollinger", {"period": 20, "k": 2.0}),
         ("vwap", {}), ("high", {"period": 15}), ("low", {"period": 3}), ("ema", {"period": 1})]

prices = st.one_of(st.floats(1.0, 1000.0).map(lambda x: round(x, 2)), st.sampled_from([50.0, 50.01, 49.99]))


@st.composite
def bars(draw: st.DrawFn, size: int) -> list[tuple[float, float, float, float, float]]:
    out = []
    for close in draw(st.lists(prices, max_size=size)):
        spread = draw(st.sampled_from([0.0, 0.01, 0.5, 3.0]))
        volume = draw(st.sampled_from([0.0, 1.0, 100.0, 2500.0]))
        out.append((close, close + spread, max(0.01, close - spread), close, volume))
    return out


def columns(rows: list[tuple]) -> list[np.ndarray]:
    if not rows:
        return [np.empty(0)] * 5
    return [np.array(column, dtype=np.float64) for column in zip(*rows, strict=True)]


def close_enough(expected: float | None, got: float, scale: float) -> bool:
    if expected is None:
        return math.isnan(got)
    return abs(got - expected) <= REL * max(abs(expected), scale)


def replay(kind: str, params: dict, history: list[tuple], days: list[list[tuple]]) -> None:
    incremental = make_indicator(kind, **params)
    vector = vector_for(make_indicator(kind, **params))
    assert vector is not None
    # History warms both up as one block (the engine feeds it without session starts), then each day.
    blocks = [(False, history), *((True, day) for day in days)]
    for opens_session, rows in blocks:
        if opens_session:
            incremental.new_session()
            vector.new_session()
        got = vector.run(*columns(rows))
        for index, row in enumerate(rows):
            incremental.update(*row)
            scale = 1e-300
            for name in vector.outputs:
                expected = getattr(incremental, name)
                if kind == "bollinger" and name != "value" and expected is not None:
                    # the incremental bands are kept within 1e-10 of the price level (see BollingerBands)
                    scale = abs(incremental.value) * 1e-10 / REL
                assert close_enough(expected, float(got[name][index]), scale), \
                    (kind, params, name, index, expected, float(got[name][index]))
        assert all(len(got[name]) == len(rows) for name in vector.outputs)


@pytest.mark.parametrize(("kind", "params"), KINDS, ids=[f"{k}{sorted(p.values())}" for k, p in KINDS])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=bars(60), days=st.lists(bars(120), max_size=5))
def test_day_vectors_equal_the_incremental_indicators(kind: str, params: dict, history: list, days: list) -> None:
    replay(kind, params, history, days)


@pytest.mark.parametrize(("kind", "params"), KINDS, ids=[f"{k}{sorted(p.values())}" for k, p in KINDS])
def test_long_days_of_a_random_walk(kind: str, params: dict) -> None:
    rng = np.random.default_rng(5)
    def day(n: int) -> list[tuple]:
        closes = np.round(100 * np.exp(np.cumsum(rng.normal(0, 0.002, n))), 2)
        return [(c, c + 0.05, c - 0.05, c, float(rng.integers(0, 3000))) for c in closes.tolist()]
    replay(kind, params, day(390), [day(390), day(210), day(0), day(385), day(390)])


def test_other_indicators_have_no_vector() -> None:
    from mismartera.indicators.base import Indicator

    class Custom(Indicator):
        def update(self, open: float, high: float, low: float, close: float, volume: float) -> float | None:
            return None

    assert vector_for(Custom(3)) is None
