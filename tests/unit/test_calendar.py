from datetime import UTC, date, datetime

import pytest

from mismartera.errors import UsageError
from mismartera.timekeeping import MarketPhase, SimulatedClock, TimeManager


@pytest.fixture(scope="module")
def tm() -> TimeManager:
    return TimeManager()


def test_black_friday_2024_closes_early_at_13_et(tm: TimeManager) -> None:
    session = tm.session(date(2024, 11, 29))
    assert session is not None and session.early_close
    assert session.close == datetime(2024, 11, 29, 18, 0, tzinfo=UTC)
    assert session.minutes == 210


def test_national_day_of_mourning_2025_01_09_is_closed(tm: TimeManager) -> None:
    assert tm.session(date(2025, 1, 9)) is None
    assert any(h.day == date(2025, 1, 9) for h in tm.holidays(2025))


def test_independence_day_2024_closed_and_named(tm: TimeManager) -> None:
    assert not tm.is_trading_day(date(2024, 7, 4))
    names = {h.day: h.name for h in tm.holidays(2024)}
    assert "July" in names[date(2024, 7, 4)]


def test_2023_has_250_trading_days(tm: TimeManager) -> None:
    assert tm.count_trading_days(date(2023, 1, 1), date(2023, 12, 31)) == 250


@pytest.mark.parametrize(
    ("day", "open_utc_hour"),
    [
        (date(2024, 3, 8), 14),   # last Friday of EST
        (date(2024, 3, 11), 13),  # first Monday of EDT
        (date(2024, 11, 1), 13),  # last Friday of EDT
        (date(2024, 11, 4), 14),  # first Monday of EST
    ],
)
def test_sessions_across_dst_changes(tm: TimeManager, day: date, open_utc_hour: int) -> None:
    session = tm.session(day)
    assert session is not None
    assert session.open == datetime(day.year, day.month, day.day, open_utc_hour, 30, tzinfo=UTC)
    assert session.minutes == 390
    assert tm.to_exchange(session.open).strftime("%H:%M") == "09:30"
    assert tm.to_exchange(session.pre_open).strftime("%H:%M") == "04:00"
    assert tm.to_exchange(session.after_close).strftime("%H:%M") == "20:00"


def test_next_and_previous_trading_day_skip_weekends_and_holidays(tm: TimeManager) -> None:
    assert tm.next_trading_day(date(2024, 7, 3)) == date(2024, 7, 5)
    assert tm.next_trading_day(date(2024, 12, 24), n=2) == date(2024, 12, 27)
    assert tm.previous_trading_day(date(2024, 7, 8)) == date(2024, 7, 5)
    assert tm.trading_days(date(2024, 11, 25), date(2024, 11, 29)) == [
        date(2024, 11, 25), date(2024, 11, 26), date(2024, 11, 27), date(2024, 11, 29)]


def test_market_phase_and_next_change(tm: TimeManager) -> None:
    assert tm.market_phase(datetime(2024, 11, 29, 17, 0, tzinfo=UTC)) is MarketPhase.OPEN
    assert tm.market_phase(datetime(2024, 11, 29, 19, 0, tzinfo=UTC)) is MarketPhase.AFTER
    assert tm.market_phase(datetime(2024, 11, 29, 10, 0, tzinfo=UTC)) is MarketPhase.PRE
    assert tm.market_phase(datetime(2024, 11, 28, 17, 0, tzinfo=UTC)) is MarketPhase.CLOSED
    change, phase = tm.next_change(datetime(2024, 11, 29, 17, 0, tzinfo=UTC))
    assert change == datetime(2024, 11, 29, 18, 0, tzinfo=UTC) and phase is MarketPhase.AFTER
    assert tm.is_open(datetime(2024, 11, 29, 14, 30, tzinfo=UTC))


def test_convert_and_unknown_zone(tm: TimeManager) -> None:
    result = tm.convert(datetime(2024, 7, 1, 9, 30), "ET", "UTC")
    assert result == datetime(2024, 7, 1, 13, 30, tzinfo=UTC)
    with pytest.raises(UsageError, match="unknown time zone 'America/New_Yrok' — did you mean 'America/New_York'"):
        tm.convert(datetime(2024, 7, 1), "America/New_Yrok", "UTC")


def test_out_of_calendar_range_is_a_clear_error(tm: TimeManager) -> None:
    with pytest.raises(UsageError, match="outside the calendar"):
        tm.session(date(1990, 1, 2))


def test_calendar_is_loaded_lazily() -> None:
    fresh = TimeManager()
    assert fresh._calendar is None
    fresh.is_trading_day(date(2024, 1, 2))
    assert fresh._calendar is not None


def test_simulated_clock_set_advance_pause() -> None:
    from datetime import timedelta

    clock = SimulatedClock(datetime(2024, 1, 2, 14, 30, tzinfo=UTC))
    assert clock.advance(timedelta(minutes=1)) == datetime(2024, 1, 2, 14, 31, tzinfo=UTC)
    clock.pause()
    assert clock.paused
    clock.resume()
    assert not clock.paused
    with pytest.raises(ValueError, match="naive"):
        clock.set(datetime(2024, 1, 2))
