"""Each incremental indicator against a plain recomputation from the full history, bar by bar."""

from __future__ import annotations

import math
import random
import statistics

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mismartera.errors import UsageError
from mismartera.indicators import (
    ATR,
    EMA,
    RSI,
    SMA,
    VWAP,
    BollingerBands,
    Indicator,
    RollingHigh,
    RollingLow,
    make_indicator,
)

prices = st.floats(min_value=1.0, max_value=1000.0, allow_nan=False, allow_infinity=False)
periods = st.integers(min_value=1, max_value=25)


@st.composite
def ohlcv_bars(draw: st.DrawFn, max_size: int = 80) -> list[tuple[float, float, float, float, float]]:
    bars = []
    for close in draw(st.lists(prices, min_size=1, max_size=max_size)):
        up = draw(st.floats(min_value=0.0, max_value=5.0))
        down = draw(st.floats(min_value=0.0, max_value=5.0))
        open_ = draw(st.floats(min_value=max(0.5, close - down), max_value=close + up))
        volume = draw(st.sampled_from([0.0, 100.0, 250.0, 1_000.0, 12_345.0]))
        bars.append((open_, max(open_, close) + up, min(open_, close) - down, close, volume))
    return bars


def close_enough(a: float | None, b: float | None, tol: float = 1e-9) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=tol, abs_tol=tol)


def feed(indicator: Indicator, bars: list[tuple[float, ...]]) -> list[float | None]:
    out = []
    for bar in bars:
        returned = indicator.update(*bar)
        assert returned == indicator.value
        assert indicator.ready is (returned is not None)
        out.append(returned)
    return out


def ref_sma(closes: list[float], p: int) -> list[float | None]:
    return [sum(closes[i + 1 - p:i + 1]) / p if i + 1 >= p else None for i in range(len(closes))]


def ref_ema(closes: list[float], p: int) -> list[float | None]:
    """The EMA written out as its weighted sum: seed (SMA of the first p) decayed, plus each later
    close weighted alpha * (1 - alpha) ** age."""
    alpha = 2 / (p + 1)
    out: list[float | None] = []
    for i in range(len(closes)):
        if i + 1 < p:
            out.append(None)
            continue
        seed = sum(closes[:p]) / p
        later = closes[p:i + 1]
        value = seed * (1 - alpha) ** len(later)
        value += sum(alpha * (1 - alpha) ** (len(later) - 1 - j) * x for j, x in enumerate(later))
        out.append(value)
    return out


def ref_rsi(closes: list[float], p: int) -> list[float | None]:
    out: list[float | None] = []
    for i in range(len(closes)):
        changes = [closes[j] - closes[j - 1] for j in range(1, i + 1)]
        if len(changes) < p:
            out.append(None)
            continue
        gains = [max(c, 0.0) for c in changes]
        losses = [max(-c, 0.0) for c in changes]
        avg_gain, avg_loss = sum(gains[:p]) / p, sum(losses[:p]) / p
        for g, lo in zip(gains[p:], losses[p:], strict=True):
            avg_gain = (avg_gain * (p - 1) + g) / p
            avg_loss = (avg_loss * (p - 1) + lo) / p
        if avg_loss == 0:
            out.append(50.0 if avg_gain == 0 else 100.0)
        else:
            out.append(100 - 100 / (1 + avg_gain / avg_loss))
    return out


def ref_atr(bars: list[tuple[float, ...]], p: int) -> list[float | None]:
    out: list[float | None] = []
    for i in range(len(bars)):
        trs = []
        for j in range(i + 1):
            high, low = bars[j][1], bars[j][2]
            if j == 0:
                trs.append(high - low)
            else:
                prev = bars[j - 1][3]
                trs.append(max(high - low, abs(high - prev), abs(low - prev)))
        if len(trs) < p:
            out.append(None)
            continue
        atr = sum(trs[:p]) / p
        for tr in trs[p:]:
            atr = (atr * (p - 1) + tr) / p
        out.append(atr)
    return out


def assert_series(got: list[float | None], want: list[float | None], tol: float = 1e-9) -> None:
    assert len(got) == len(want)
    for i, (a, b) in enumerate(zip(got, want, strict=True)):
        assert close_enough(a, b, tol), f"bar {i}: got {a}, want {b}"


@given(ohlcv_bars(), periods)
def test_sma_matches_recomputation(bars: list[tuple[float, ...]], p: int) -> None:
    assert_series(feed(SMA(p), bars), ref_sma([b[3] for b in bars], p))


@given(ohlcv_bars(max_size=60), periods)
def test_ema_matches_its_weighted_sum(bars: list[tuple[float, ...]], p: int) -> None:
    assert_series(feed(EMA(p), bars), ref_ema([b[3] for b in bars], p), tol=1e-8)


@given(ohlcv_bars(max_size=60), periods)
def test_rsi_matches_recomputation(bars: list[tuple[float, ...]], p: int) -> None:
    got = feed(RSI(p), bars)
    assert_series(got, ref_rsi([b[3] for b in bars], p), tol=1e-7)
    assert all(v is None or 0.0 <= v <= 100.0 for v in got)


@given(ohlcv_bars(max_size=60), periods)
def test_atr_matches_recomputation(bars: list[tuple[float, ...]], p: int) -> None:
    assert_series(feed(ATR(p), bars), ref_atr(bars, p))


@given(ohlcv_bars(), st.integers(min_value=1, max_value=40))
def test_vwap_matches_recomputation_and_restarts_each_session(bars: list[tuple[float, ...]], split: int) -> None:
    vwap = VWAP()
    sessions = [bars[:split], bars[split:]]
    for session in sessions:
        vwap.new_session()
        got = feed(vwap, session)
        want: list[float | None] = []
        for i in range(len(session)):
            seen = [b for b in session[:i + 1] if b[4] > 0]
            volume = sum(b[4] for b in seen)
            want.append(sum((b[1] + b[2] + b[3]) / 3 * b[4] for b in seen) / volume if seen else None)
        assert_series(got, want)


@given(ohlcv_bars(), periods, st.sampled_from([1.0, 2.0, 2.5]))
def test_bollinger_matches_recomputation(bars: list[tuple[float, ...]], p: int, k: float) -> None:
    bands = BollingerBands(p, k)
    closes = [b[3] for b in bars]
    for i, bar in enumerate(bars):
        bands.update(*bar)
        if i + 1 < p:
            assert bands.value is bands.upper is bands.lower is None
            continue
        window = closes[i + 1 - p:i + 1]
        mean = sum(window) / p
        sigma = statistics.pstdev(window)
        assert close_enough(bands.value, mean)
        assert close_enough(bands.upper, mean + k * sigma) and close_enough(bands.lower, mean - k * sigma)


@given(ohlcv_bars(), periods)
def test_rolling_high_and_low_match_recomputation(bars: list[tuple[float, ...]], p: int) -> None:
    highs, lows = [b[1] for b in bars], [b[2] for b in bars]
    assert feed(RollingHigh(p), bars) == [max(highs[i + 1 - p:i + 1]) if i + 1 >= p else None
                                          for i in range(len(bars))]
    assert feed(RollingLow(p), bars) == [min(lows[i + 1 - p:i + 1]) if i + 1 >= p else None
                                         for i in range(len(bars))]


def random_walk(n: int, seed: int) -> list[float]:
    rng = random.Random(seed)
    price, out = 100.0, []
    for _ in range(n):
        price = max(1.0, round(price + rng.gauss(0, 0.05), 2))
        out.append(price)
    return out


def test_sma_crossover_signals_do_not_drift_over_a_long_run() -> None:
    """A year of minutes: the running sums must give the same fast/slow crossover decisions,
    compared with a 1e-9 tolerance, as recomputing each window from scratch."""
    closes = random_walk(60_000, seed=7)
    fast, slow = SMA(10), SMA(30)
    worst = 0.0
    for i, close in enumerate(closes):
        f = fast.update(close, close, close, close, 1.0)
        s = slow.update(close, close, close, close, 1.0)
        if i + 1 < 30:
            continue
        rf = math.fsum(closes[i - 9:i + 1]) / 10
        rs = math.fsum(closes[i - 29:i + 1]) / 30
        assert f is not None and s is not None
        worst = max(worst, abs(f - rf), abs(s - rs))
        signal = (f - s > 1e-9) - (f - s < -1e-9)
        assert signal == (rf - rs > 1e-9) - (rf - rs < -1e-9), f"bar {i}"
    assert worst < 1e-10


def test_flat_prices_are_an_exact_tie_not_a_crossover() -> None:
    fast, slow = SMA(10), SMA(30)
    for _ in range(500):
        fast.update(100.1, 100.1, 100.1, 100.1, 1.0)
        slow.update(100.1, 100.1, 100.1, 100.1, 1.0)
    assert fast.value is not None and slow.value is not None
    assert abs(fast.value - slow.value) < 1e-9


def test_hand_computed_values() -> None:
    rsi = RSI(2)
    assert [rsi.update(c, c, c, c, 0) for c in (1.0, 2.0, 3.0, 2.0)] == [None, None, 100.0, 50.0]
    flat = RSI(3)
    assert [flat.update(5, 5, 5, 5, 0) for _ in range(4)][-1] == 50.0
    ema = EMA(3)  # alpha 0.5, seed mean(1, 2, 3) = 2
    assert [ema.update(c, c, c, c, 0) for c in (1.0, 2.0, 3.0, 6.0)] == [None, None, 2.0, 4.0]
    atr = ATR(2)
    assert atr.update(10, 11, 9, 10, 0) is None            # TR 2
    assert atr.update(13, 14, 12.5, 13, 0) == 3.0           # TR max(1.5, 4, 2.5) = 4 -> (2 + 4) / 2
    assert atr.update(13, 13.5, 12.5, 13, 0) == 2.0         # TR 1 -> (3 * 1 + 1) / 2
    vwap = VWAP()
    assert vwap.update(1, 3, 1, 2, 0) is None
    assert vwap.update(1, 3, 1, 2, 100) == 2.0
    assert vwap.update(4, 5, 4, 6, 300) == 4.25              # (2*100 + 5*300) / 400


def test_reset_forgets_everything_and_new_session_is_a_no_op_except_vwap() -> None:
    bars = [(c, c + 1, c - 1, c, 100.0) for c in random_walk(50, seed=3)]
    for kind, params in [("sma", {"period": 5}), ("ema", {"period": 5}), ("rsi", {"period": 5}),
                         ("atr", {"period": 5}), ("bollinger", {"period": 5}), ("high", {"period": 5}),
                         ("low", {"period": 5}), ("vwap", {})]:
        used, fresh = make_indicator(kind, **params), make_indicator(kind, **params)
        feed(used, bars)
        used.reset()
        assert not used.ready
        assert feed(used, bars[:20]) == feed(fresh, bars[:20])
        if kind != "vwap":
            before = used.value
            used.new_session()
            assert used.value == before and used.ready


def test_make_indicator_builds_each_kind() -> None:
    assert isinstance(make_indicator("SMA", period=3), SMA)
    bands = make_indicator("bollinger", period=20, k=2.5)
    assert isinstance(bands, BollingerBands) and bands.k == 2.5 and bands.period == 20
    assert make_indicator("rsi").period == 14
    assert isinstance(make_indicator("vwap"), VWAP)
    assert isinstance(make_indicator("high", period=4), RollingHigh)
    assert isinstance(make_indicator("low", period=4), RollingLow)


@pytest.mark.parametrize(("kind", "params", "message"), [
    ("smaa", {"period": 3}, "unknown indicator 'smaa' — did you mean 'sma'? (expected one of: sma, ema, rsi, vwap, "
                            "atr, bollinger, high, low)"),
    ("sma", {"perod": 3}, "sma: unknown parameter 'perod' — did you mean 'period'? (expected: period)"),
    ("sma", {}, "sma: missing parameter period (a whole number >= 1, e.g. period=14)"),
    ("sma", {"period": 0}, "sma: period must be a whole number >= 1 (got 0)"),
    ("ema", {"period": 2.5}, "ema: period must be a whole number >= 1 (got 2.5)"),
    ("rsi", {"period": True}, "rsi: period must be a whole number >= 1 (got True)"),
    ("atr", {"period": "14"}, "atr: period must be a whole number >= 1 (got '14')"),
    ("bollinger", {"period": 20, "k": 0}, "bollinger: k must be a number > 0 (got 0)"),
    ("vwap", {"period": 5}, "vwap: unknown parameter 'period' (expected: none)"),
])
def test_make_indicator_rejects_bad_input_with_one_clear_line(kind: str, params: dict, message: str) -> None:
    with pytest.raises(UsageError) as info:
        make_indicator(kind, **params)
    assert str(info.value) == message


@settings(max_examples=25)
@given(st.lists(prices, min_size=300, max_size=700), st.integers(min_value=2, max_value=40))
def test_resync_keeps_long_windows_exact(closes: list[float], p: int) -> None:
    """Past the periodic exact re-sum the SMA and bands still agree with recomputation."""
    sma, bands = SMA(p), BollingerBands(p)
    for i, c in enumerate(closes):
        sma.update(c, c, c, c, 1.0)
        bands.update(c, c, c, c, 1.0)
        if i + 1 >= p:
            want = math.fsum(closes[i + 1 - p:i + 1]) / p
            assert close_enough(sma.value, want, 1e-11) and close_enough(bands.value, want, 1e-11)
