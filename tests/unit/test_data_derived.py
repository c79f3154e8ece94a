"""Derived bars equal a pandas resample of the same 1-minute bars, on session-aligned windows."""

from __future__ import annotations

import random
from datetime import date

import pandas as pd
import pytest

from mismartera.data.demo import generate_day
from mismartera.data.derived import DerivedBuilder, aggregate
from mismartera.errors import UsageError
from mismartera.timekeeping.calendar import TimeManager

RULES = {"5m": "5min", "15m": "15min", "30m": "30min", "1h": "60min"}


@pytest.fixture(scope="module")
def tm() -> TimeManager:
    return TimeManager()


def _with_holes(rows: list[tuple], seed: int) -> list[tuple]:
    rng = random.Random(seed)
    return [row for row in rows if rng.random() > 0.08]


def _pandas(rows: list[tuple], to: str, open_ts: int, close_ts: int) -> list[tuple]:
    frame = pd.DataFrame(rows, columns=["ts", "open", "high", "low", "close", "volume", "trade_count", "vwap"])
    frame = frame[(frame.ts >= open_ts) & (frame.ts < close_ts)]
    frame.index = pd.to_datetime(frame.ts, unit="s", utc=True)
    frame["pv"] = frame.vwap * frame.volume
    rule = RULES.get(to, f"{(close_ts - open_ts) // 60}min")
    grouped = frame.resample(rule, origin=pd.Timestamp(open_ts, unit="s", tz="UTC"), closed="left", label="left")
    out = grouped.agg({"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum",
                       "trade_count": "sum", "pv": "sum", "ts": "count"}).dropna(subset=["open"])
    return [(int(stamp.timestamp()), r.open, r.high, r.low, r.close, r.volume, int(r.trade_count),
             r.pv / r.volume, int(r.ts)) for stamp, r in out.iterrows()]


@pytest.mark.parametrize("to", ["5m", "15m", "30m", "1h", "1d"])
@pytest.mark.parametrize("day", [date(2024, 11, 29), date(2024, 11, 26)])
def test_aggregate_equals_pandas_resample(tm: TimeManager, to: str, day: date) -> None:
    session = tm.session(day)
    rows, _ = generate_day("AAPL", session, 3, 100.0)
    open_ts, close_ts = int(session.open.timestamp()), int(session.close.timestamp())
    # Extended-hours bars must be ignored.
    extra = [(open_ts - 120, 1.0, 1.0, 1.0, 1.0, 5.0, 1, 1.0), (close_ts, 1.0, 1.0, 1.0, 1.0, 5.0, 1, 1.0)]
    holed = _with_holes(rows, 11) + extra
    ours = aggregate(holed, to, session)
    expected = _pandas(holed, to, open_ts, close_ts)
    assert [b.row[:7] for b in ours] == [e[:7] for e in expected]
    for bar, exp in zip(ours, expected, strict=True):
        assert bar.row[7] == pytest.approx(exp[7], rel=1e-12)
        assert bar.minutes == exp[8]


def test_windows_align_to_the_open_and_cut_at_an_early_close(tm: TimeManager) -> None:
    session = tm.session(date(2024, 11, 29))  # closes 13:00 ET
    rows, _ = generate_day("SPY", session, 1, 500.0)
    hourly = aggregate(rows, "1h", session)
    open_ts = int(session.open.timestamp())
    assert [b.row[0] - open_ts for b in hourly] == [0, 3600, 7200, 10800]
    assert [b.minutes for b in hourly] == [60, 60, 60, 30]
    assert all(b.complete for b in hourly)
    daily = aggregate(rows, "1d", session)
    assert len(daily) == 1 and daily[0].minutes == 210 and daily[0].complete
    assert daily[0].row[1] == rows[0][1] and daily[0].row[4] == rows[-1][4]


def test_missing_minutes_flag_the_window_incomplete(tm: TimeManager) -> None:
    session = tm.session(date(2024, 11, 26))
    rows, _ = generate_day("MSFT", session, 2, 400.0)
    del rows[7]
    bars = aggregate(rows, "5m", session)
    assert [b.complete for b in bars[:3]] == [True, False, True]
    assert bars[1].minutes == 4
    assert sum(b.row[5] for b in bars) == sum(r[5] for r in rows)


def test_vwap_and_trade_count_absent_stay_none(tm: TimeManager) -> None:
    session = tm.session(date(2024, 11, 26))
    open_ts = int(session.open.timestamp())
    rows = [(open_ts + 60 * i, 10.0, 11.0, 9.0, 10.5, 100.0, None, None) for i in range(5)]
    (bar,) = aggregate(rows, "5m", session)
    assert bar.row == (open_ts, 10.0, 11.0, 9.0, 10.5, 500.0, None, None) and bar.complete


def test_builder_emits_as_minutes_arrive_and_matches_aggregate(tm: TimeManager) -> None:
    session = tm.session(date(2024, 11, 26))
    rows, _ = generate_day("NVDA", session, 5, 130.0)
    holed = _with_holes(rows, 4)
    builder = DerivedBuilder("15m", session)
    emitted = []
    for row in holed:
        done = builder.add(row)
        for bar in done:
            # A window is handed out once its last minute or a later window's bar has arrived.
            assert row[0] + 60 >= bar.row[0] + 900
        emitted.extend(done)
    emitted.extend(builder.flush())
    assert emitted == aggregate(holed, "15m", session)
    first = DerivedBuilder("5m", session)
    out = [first.add(r) for r in rows[:5]]
    assert out[:4] == [[], [], [], []] and len(out[4]) == 1 and out[4][0].complete
    assert first.flush() == []


def test_unknown_target_is_a_usage_error(tm: TimeManager) -> None:
    with pytest.raises(UsageError, match="cannot derive '2m' bars"):
        DerivedBuilder("2m", tm.session(date(2024, 11, 26)))


def test_flush_through_gives_a_stopped_days_last_window_only_once_its_time_is_over() -> None:
    """Issue 20, point 7: a day stopped after minutes 0-3 (minute 4 missing) has its 09:30 window
    once 09:35 has passed, never the window still running."""
    session = TimeManager().session(date(2024, 11, 29))
    assert session is not None
    open_ts = int(session.open.timestamp())
    builder = DerivedBuilder("5m", session)
    for minute in range(4):
        assert builder.add((open_ts + 60 * minute, 1.0 + minute, 2.0 + minute, 0.5, 1.5, 10.0, 1, None)) == []
    assert builder.flush_through(open_ts + 240) == []          # minute 4 may still come
    [made] = builder.flush_through(open_ts + 300)
    assert (made.row[:6], made.complete, made.minutes) == ((open_ts, 1.0, 5.0, 0.5, 1.5, 40.0), False, 4)
    assert builder.flush_through(open_ts + 300) == []
