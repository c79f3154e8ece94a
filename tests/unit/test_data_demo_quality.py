"""Demo data: deterministic, on the calendar, plausible; quality and gaps against the calendar."""

from __future__ import annotations

from datetime import date

import pytest

from mismartera.data.bar_store import BarStore
from mismartera.data.database import Database
from mismartera.data.demo import generate_day, seed_demo
from mismartera.data.quality import Gap, day_gaps, quality_report
from mismartera.timekeeping.calendar import TimeManager


@pytest.fixture(scope="module")
def tm() -> TimeManager:
    return TimeManager()


@pytest.fixture
def store(sqlite_url: str):
    db = Database(sqlite_url)
    yield BarStore(db)
    db.dispose()


def test_same_seed_same_bars_and_different_seed_different_bars(tm: TimeManager) -> None:
    session = tm.session(date(2024, 11, 4))
    a, last_a = generate_day("AAPL", session, 7, 225.0)
    b, last_b = generate_day("AAPL", session, 7, 225.0)
    c, _ = generate_day("AAPL", session, 8, 225.0)
    assert a == b and last_a == last_b == a[-1][4]
    assert a != c


def test_demo_bars_are_consistent_and_u_shaped(tm: TimeManager) -> None:
    session = tm.session(date(2024, 11, 4))
    rows, _ = generate_day("TSLA", session, 7, 250.0)
    assert len(rows) == 390
    assert rows[0][0] == int(session.open.timestamp()) and rows[-1][0] == int(session.close.timestamp()) - 60
    for _ts, o, h, low, c, v, n, vwap in rows:
        assert low <= min(o, c) <= max(o, c) <= h and low > 0
        assert all(round(p, 2) == p for p in (o, h, low, c))
        assert v >= 1000 and n >= 1 and low <= vwap <= h
    volume = [r[5] for r in rows]
    edges = sum(volume[:30]) + sum(volume[-30:])
    middle = sum(volume[180:240])
    assert edges / 2 > 1.5 * middle


def test_early_close_day_has_210_bars(tm: TimeManager) -> None:
    rows, _ = generate_day("SPY", tm.session(date(2024, 11, 29)), 7, 570.0)
    assert len(rows) == 210


def test_seed_demo_walks_the_calendar_and_is_idempotent(tm: TimeManager, store: BarStore) -> None:
    summary = seed_demo(store, tm, ["AAPL", "SPY"], date(2024, 11, 1), 20, 7)
    assert (summary.first_day, summary.last_day, summary.days) == (date(2024, 11, 1), date(2024, 11, 29), 20)
    assert summary.bars == 2 * (19 * 390 + 210)
    first = store.read("AAPL", "1m", 0, 2**40)
    assert seed_demo(store, tm, ["AAPL", "SPY"], date(2024, 11, 1), 20, 7).bars == summary.bars
    assert store.read("AAPL", "1m", 0, 2**40) == first
    thanksgiving = int(tm.session(date(2024, 11, 27)).close.timestamp())
    assert store.count("AAPL", "1m", thanksgiving, thanksgiving + 86_400) == 0
    # The walk carries over: each day opens near the previous close.
    day2 = tm.session(date(2024, 11, 4))
    monday = store.read("AAPL", "1m", int(day2.open.timestamp()), int(day2.close.timestamp()))
    friday_close = [r for r in first if r[0] < int(day2.open.timestamp())][-1][4]
    assert abs(monday[0][1] / friday_close - 1) < 0.05


def test_day_gaps_lists_each_missing_run(tm: TimeManager) -> None:
    session = tm.session(date(2024, 11, 29))
    open_ts = int(session.open.timestamp())
    present = [open_ts + 60 * i for i in range(210) if i not in (0, 1, 50, 100, 101, 102, 209)]
    assert day_gaps(session, present) == [
        Gap(open_ts, open_ts + 60, 2),
        Gap(open_ts + 3000, open_ts + 3000, 1),
        Gap(open_ts + 6000, open_ts + 6120, 3),
        Gap(open_ts + 209 * 60, open_ts + 209 * 60, 1),
    ]
    full = [open_ts + 60 * i for i in range(210)]
    assert day_gaps(session, full) == []                          # the fast path: every minute in order
    assert day_gaps(session, [open_ts - 60, *reversed(full)]) == []  # pre-market ignored, any order
    assert day_gaps(session, full[:-1]) == [Gap(open_ts + 209 * 60, open_ts + 209 * 60, 1)]


def test_quality_report_on_known_holes(tm: TimeManager, store: BarStore) -> None:
    seed_demo(store, tm, ["MSFT"], date(2024, 11, 26), 3, 1)  # 26th, 27th, 29th (early close)
    s26 = tm.session(date(2024, 11, 26))
    o26 = int(s26.open.timestamp())
    store.delete("MSFT", "1m", o26 + 600, o26 + 900)  # 5 minutes
    s29 = tm.session(date(2024, 11, 29))
    store.delete("MSFT", "1m", int(s29.close.timestamp()) - 120, None)  # last 2 minutes
    store.upsert("MSFT", "1m", [(o26 - 3600, 1.0, 1.0, 1.0, 1.0, 1.0, None, None)])  # pre-market: ignored
    report = quality_report(store, tm, "MSFT", date(2024, 11, 25), date(2024, 11, 29))
    by_day = {d.day: d for d in report.days}
    assert [d.day for d in report.days] == [date(2024, 11, 25), date(2024, 11, 26), date(2024, 11, 27),
                                           date(2024, 11, 29)]
    assert (by_day[date(2024, 11, 25)].present, by_day[date(2024, 11, 25)].pct) == (0, 0.0)
    assert by_day[date(2024, 11, 26)].gaps == [Gap(o26 + 600, o26 + 840, 5)]
    assert by_day[date(2024, 11, 26)].present == 385
    assert by_day[date(2024, 11, 29)].expected == 210 and by_day[date(2024, 11, 29)].present == 208
    assert report.expected == 390 * 3 + 210
    assert report.present == 385 + 390 + 208
    assert report.pct == pytest.approx(100 * 983 / 1380)
