"""high-low, avg-volume and session-stats against a plain pandas computation on the same bars: a
window holding Thanksgiving (closed) and the early close after it, pre-market and after-hours bars
that must not count, missing minutes, and bars without a VWAP."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime

import exchange_calendars as xcals
import pandas as pd
import pytest

from mismartera.data import analytics
from mismartera.data.bar_store import BarStore
from mismartera.data.database import Database
from mismartera.data.demo import generate_day
from mismartera.errors import NotFound, UsageError
from mismartera.timekeeping.calendar import TimeManager

DAYS = [date(2024, 11, d) for d in (20, 21, 22, 25, 26, 27, 29)] + [date(2024, 12, 2), date(2024, 12, 3)]


@pytest.fixture(scope="module")
def tm() -> TimeManager:
    return TimeManager()


@pytest.fixture
def frame(database: Database, tm: TimeManager) -> pd.DataFrame:
    """Stored bars, and the same bars as a DataFrame (every row, extended hours included)."""
    rnd = random.Random(3)
    rows: list[tuple] = []
    price = 200.0
    for day in DAYS:
        session = tm.session(day)
        assert session is not None
        day_rows, price = generate_day("AAPL", session, 11, price)
        day_rows = [r for r in day_rows if rnd.random() > 0.03]  # missing minutes
        day_rows = [(*r[:7], None) if rnd.random() < 0.1 else r for r in day_rows]  # no VWAP
        opening = int(session.open.timestamp())
        closing = int(session.close.timestamp())
        # outside the session: a huge pre-market high and after-hours low that must be ignored
        rows.append((opening - 600, 1.0, 10_000.0, 1.0, 1.0, 9e9, None, None))
        rows.extend(day_rows)
        rows.append((closing + 60, 1.0, 1.0, 0.01, 1.0, 9e9, None, None))
    BarStore(database).upsert("AAPL", "1m", rows)
    data = pd.DataFrame(rows, columns=["ts", "open", "high", "low", "close", "volume", "n", "vwap"])
    return data


def regular(data: pd.DataFrame, first: date, last: date) -> pd.DataFrame:
    """The rows inside each regular session from first to last, by exchange_calendars' own schedule."""
    schedule = xcals.get_calendar("XNYS").schedule.loc[str(first):str(last)]
    parts = []
    for day, row in schedule.iterrows():
        o, c = int(row["open"].timestamp()), int(row["close"].timestamp())
        part = data[(data.ts >= o) & (data.ts < c)].copy()
        part["day"] = day.date()
        part["minutes"] = (c - o) // 60
        parts.append(part)
    return pd.concat(parts)


def test_high_low_matches_pandas(database: Database, tm: TimeManager, frame: pd.DataFrame) -> None:
    got = analytics.high_low(database, tm, "AAPL", 5, date(2024, 12, 2))
    window = regular(frame, date(2024, 11, 25), date(2024, 12, 2))  # 25, 26, 27, 29 (early), Dec 2
    assert (got.start, got.end) == (date(2024, 11, 25), date(2024, 12, 2))
    top = window.sort_values(["high", "ts"], ascending=[False, True]).iloc[0]
    bottom = window.sort_values(["low", "ts"]).iloc[0]
    assert got.high == top.high and got.high_at == datetime.fromtimestamp(int(top.ts), UTC)
    assert got.low == bottom.low and got.low_at == datetime.fromtimestamp(int(bottom.ts), UTC)
    # default end: the latest stored day; a closed END counts back from the trading day before it
    assert analytics.high_low(database, tm, "AAPL", 2).end == date(2024, 12, 3)
    assert analytics.high_low(database, tm, "AAPL", 1, date(2024, 11, 28)).start == date(2024, 11, 27)


def test_avg_volume_matches_pandas(database: Database, tm: TimeManager, frame: pd.DataFrame) -> None:
    got = analytics.average_volume(database, tm, "AAPL", 9)
    window = regular(frame, date(2024, 11, 20), date(2024, 12, 3))
    per_day = window.groupby("day").volume.sum()
    assert (got.start, got.end, got.days_with_data) == (date(2024, 11, 20), date(2024, 12, 3), 9)
    assert got.average_volume == pytest.approx(per_day.mean(), rel=1e-12)
    # a window reaching before the first stored day: days without bars are counted apart
    wider = analytics.average_volume(database, tm, "AAPL", 12)
    assert wider.days_with_data == 9 and wider.average_volume == pytest.approx(per_day.mean(), rel=1e-12)


@pytest.mark.parametrize("day", [date(2024, 11, 27), date(2024, 11, 29)])
def test_session_stats_match_pandas(database: Database, tm: TimeManager, frame: pd.DataFrame, day: date) -> None:
    got = analytics.session_stats(database, tm, "AAPL", day)
    bars = regular(frame, day, day).sort_values("ts")
    price = bars.vwap.fillna((bars.high + bars.low + bars.close) / 3)
    assert got.open == bars.open.iloc[0] and got.close == bars.close.iloc[-1]
    assert got.high == bars.high.max() and got.low == bars.low.min()
    assert got.volume == pytest.approx(bars.volume.sum())
    assert got.vwap == pytest.approx((price * bars.volume).sum() / bars.volume.sum(), rel=1e-12)
    assert got.bars == len(bars) and got.missing == bars.minutes.iloc[0] - len(bars)
    assert (got.missing + got.bars) == (210 if day == date(2024, 11, 29) else 390)
    # the day so far: up to 10:00 ET
    until = datetime(day.year, day.month, day.day, 15, 0, tzinfo=UTC)
    partial = analytics.session_stats(database, tm, "AAPL", day, until)
    early = bars[bars.ts < until.timestamp()]
    assert partial.bars == len(early) and partial.missing == 30 - len(early)
    assert partial.close == early.close.iloc[-1]


def test_no_data_and_bad_windows(database: Database, tm: TimeManager, frame: pd.DataFrame) -> None:
    with pytest.raises(NotFound, match="2024-11-28 is not a trading day"):
        analytics.session_stats(database, tm, "AAPL", date(2024, 11, 28))
    with pytest.raises(NotFound, match="no regular-session 1m bars of 'AAPL' from 2024-01-02"):
        analytics.high_low(database, tm, "AAPL", 2, date(2024, 1, 3))
    with pytest.raises(NotFound, match="no 1m bars stored for 'MSFT'"):
        analytics.average_volume(database, tm, "MSFT", 5)
    with pytest.raises(UsageError, match="DAYS must be 1 or more"):
        analytics.high_low(database, tm, "AAPL", 0)


def test_session_stats_without_a_date_use_the_running_sessions_day_so_far(database: Database, tm: TimeManager,
                                                                          frame: pd.DataFrame) -> None:
    """A session running in this process: its day, up to its clock (10:00 ET), not the latest stored day."""
    from mismartera.commands.context import AppContext
    from mismartera.commands.market import session_stats
    from mismartera.config.settings import load_settings
    from mismartera.system.state import SystemState
    from mismartera.system.status import SystemStatus

    class Running:
        def status(self) -> SystemStatus:
            return SystemStatus(state=SystemState.RUNNING, clock=datetime(2024, 11, 27, 15, 0, tzinfo=UTC),
                                day=date(2024, 11, 27))

    ctx = AppContext(load_settings({}))
    ctx._db = database  # the test's database
    ctx.set_system(Running())
    result = session_stats(ctx, "AAPL").to_json()
    bars = regular(frame, date(2024, 11, 27), date(2024, 11, 27))
    early = bars[bars.ts < datetime(2024, 11, 27, 15, 0, tzinfo=UTC).timestamp()]
    assert result["date"] == date(2024, 11, 27) and result["bars"] == len(early)
    assert result["missing"] == 30 - len(early) and result["high"] == early.high.max()
    ctx.set_system(None)
    assert session_stats(ctx, "AAPL").to_json()["date"] == date(2024, 12, 3)
