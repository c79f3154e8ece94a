"""The session table on disk: the same sessions as exchange_calendars, read without importing it
(or pandas) when valid, rebuilt when stale or corrupt, never an error when the file is unusable."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mismartera.timekeeping import SimulatedClock, TimeManager, session_cache
from mismartera.timekeeping.calendar import (
    AFTER_HOURS_CLOSE,
    CALENDAR_START,
    EXCHANGE_TZ,
    PRE_MARKET_OPEN,
    REGULAR_CLOSE,
    TradingSession,
)

VERSION = session_cache.installed_version()
TODAY = datetime.now(UTC).date()


@pytest.fixture(scope="module")
def calendar() -> Any:
    """One exchange_calendars calendar for the module, so a rebuild costs no second calendar build."""
    return TimeManager().calendar


@pytest.fixture(scope="module")
def reference(calendar: Any) -> dict[date, TradingSession]:
    """Every session, computed straight from exchange_calendars' schedule with pandas' own conversions."""
    schedule = calendar.schedule
    out = {}
    for label, open_ts, close_ts in zip(schedule.index, schedule["open"], schedule["close"], strict=True):
        day = label.date()
        open_utc = open_ts.to_pydatetime().astimezone(UTC)
        close_utc = close_ts.to_pydatetime().astimezone(UTC)
        out[day] = TradingSession(
            day=day, open=open_utc, close=close_utc,
            pre_open=datetime.combine(day, PRE_MARKET_OPEN, EXCHANGE_TZ).astimezone(UTC),
            after_close=datetime.combine(day, AFTER_HOURS_CLOSE, EXCHANGE_TZ).astimezone(UTC),
            early_close=close_utc.astimezone(EXCHANGE_TZ).time() < REGULAR_CLOSE,
        )
    return out


@pytest.fixture
def imports(monkeypatch: pytest.MonkeyPatch, calendar: Any) -> list[str]:
    """Counts the exchange_calendars loads; each hands back the module's calendar."""
    loads: list[str] = []

    def import_calendar(self: TimeManager) -> Any:
        loads.append(self.exchange)
        return calendar

    monkeypatch.setattr(TimeManager, "_import_calendar", import_calendar)
    return loads


def _rows(reference: dict[date, TradingSession]) -> session_cache.SessionRows:
    days = sorted(reference)
    return session_cache.SessionRows(days, [int(reference[d].open.timestamp()) for d in days],
                                     [int(reference[d].close.timestamp()) for d in days])


def _header(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())["header"]


def test_cached_table_equals_exchange_calendars_session_for_session(
        tmp_path: Path, reference: dict[date, TradingSession]) -> None:
    path = tmp_path / "sessions.json"
    TimeManager(cache_path=path).session(date(2024, 11, 29))   # cold: builds and writes the table
    header = _header(path)
    days = sorted(reference)
    assert header["first"] == days[0].isoformat() and header["last"] == days[-1].isoformat()
    assert header["count"] == len(days) and header["built"] == TODAY.isoformat()
    assert header["exchange"] == "XNYS" and header["exchange_calendars"] == VERSION

    warm, plain = TimeManager(cache_path=path), TimeManager()
    assert warm.sessions(days[0], days[-1]) == [reference[d] for d in days]
    assert warm._calendar is None   # answered from the file
    assert plain.sessions(days[0], days[-1]) == [reference[d] for d in days]
    assert warm.trading_days(days[0], days[-1]) == days
    day = days[0]
    while day <= days[-1]:
        assert warm.session(day) == reference.get(day), day
        day += timedelta(days=1)


def test_valid_table_imports_neither_exchange_calendars_nor_pandas(tmp_path: Path, imports: list[str]) -> None:
    path = tmp_path / "sessions.json"
    expected = TimeManager(cache_path=path).sessions(date(2021, 1, 4), date(2021, 12, 29))
    probe = (
        "import json, sys\n"
        "from datetime import date\n"
        "from pathlib import Path\n"
        "from mismartera.timekeeping.calendar import TimeManager\n"
        "tm = TimeManager(cache_path=Path(sys.argv[1]))\n"
        "sessions = tm.sessions(date(2021, 1, 4), date(2021, 12, 29))\n"
        "phase = str(tm.market_phase(sessions[0].open))\n"
        "loaded = sorted(m for m in ('exchange_calendars', 'pandas') if m in sys.modules)\n"
        "print(json.dumps({'loaded': loaded, 'opens': [s.open.isoformat() for s in sessions], 'phase': phase}))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True, text=True, timeout=60,
                          check=True)
    result = json.loads(done.stdout)
    assert result["loaded"] == []
    assert result["opens"] == [s.open.isoformat() for s in expected] and len(expected) == 250
    assert result["phase"] == "open"


@pytest.mark.parametrize(
    ("case", "write"),
    [
        ("other exchange_calendars version",
         lambda path, rows: session_cache.save(path, rows, exchange="XNYS", version="0.0.1", start=CALENDAR_START,
                                               built=TODAY)),
        ("built 31 days ago",
         lambda path, rows: session_cache.save(path, rows, exchange="XNYS", version=VERSION, start=CALENDAR_START,
                                               built=TODAY - timedelta(days=31))),
        ("built in the future",
         lambda path, rows: session_cache.save(path, rows, exchange="XNYS", version=VERSION, start=CALENDAR_START,
                                               built=TODAY + timedelta(days=2))),
        ("other exchange",
         lambda path, rows: session_cache.save(path, rows, exchange="XLON", version=VERSION, start=CALENDAR_START,
                                               built=TODAY)),
        ("not JSON", lambda path, rows: path.write_text("{not json")),
        ("truncated", lambda path, rows: path.write_text(
            json.dumps({"header": {"format": 1}, "days": ["2000-01-03"], "open": [1], "close": [2]}))),
        ("not UTF-8", lambda path, rows: path.write_bytes(b"\xff\xfe\x00garbage")),
        ("a list", lambda path, rows: path.write_text("[1, 2, 3]")),
    ],
)
def test_stale_or_corrupt_table_is_rebuilt(tmp_path: Path, reference: dict[date, TradingSession],
                                           imports: list[str], case: str, write: Any) -> None:
    path = tmp_path / "sessions.json"
    write(path, _rows(reference))
    tm = TimeManager(cache_path=path)
    assert tm.session(date(2024, 11, 29)) == reference[date(2024, 11, 29)]
    assert imports == ["XNYS"], case
    header = _header(path)
    assert (header["exchange"], header["exchange_calendars"], header["built"]) == ("XNYS", VERSION, TODAY.isoformat())
    assert TimeManager(cache_path=path).session(date(2024, 11, 29)) == reference[date(2024, 11, 29)]
    assert imports == ["XNYS"]   # the rebuilt table is used as is


def test_table_built_30_days_ago_is_still_used(tmp_path: Path, reference: dict[date, TradingSession],
                                               imports: list[str]) -> None:
    path = tmp_path / "sessions.json"
    session_cache.save(path, _rows(reference), exchange="XNYS", version=VERSION, start=CALENDAR_START,
                       built=TODAY - timedelta(days=30))
    assert TimeManager(cache_path=path).is_trading_day(date(2024, 11, 29))
    assert imports == []


def test_simulated_clock_does_not_age_the_table(tmp_path: Path, reference: dict[date, TradingSession],
                                                imports: list[str]) -> None:
    path = tmp_path / "sessions.json"
    session_cache.save(path, _rows(reference), exchange="XNYS", version=VERSION, start=CALENDAR_START, built=TODAY)
    clock = SimulatedClock(datetime(2021, 3, 1, 15, tzinfo=UTC))
    assert TimeManager(clock, cache_path=path).next_trading_day(date(2021, 3, 1)) == date(2021, 3, 2)
    assert imports == []


@pytest.mark.parametrize("where", ["under a file", "a directory"])
def test_unusable_path_still_answers(tmp_path: Path, reference: dict[date, TradingSession],
                                     caplog: pytest.LogCaptureFixture, where: str) -> None:
    blocker = tmp_path / "blocker"
    if where == "under a file":
        blocker.write_text("")
        path = blocker / "sessions.json"
    else:
        blocker.mkdir()
        path = blocker
    with caplog.at_level(logging.WARNING, logger="mismartera.time"):
        tm = TimeManager(cache_path=path)
        assert tm.session(date(2024, 11, 29)) == reference[date(2024, 11, 29)]
    assert any("session table" in record.getMessage() for record in caplog.records)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocker"]
    assert blocker.is_dir() == (where == "a directory") and list(tmp_path.glob("**/*.tmp")) == []


def test_missing_folder_is_created_and_no_temp_file_is_left(tmp_path: Path, imports: list[str]) -> None:
    path = tmp_path / "state" / "deeper" / "sessions.json"
    TimeManager(cache_path=path).trading_days(date(2024, 11, 25), date(2024, 11, 29))
    assert [p.name for p in path.parent.iterdir()] == ["sessions.json"]


def test_holidays_still_named_with_a_valid_table(tmp_path: Path, reference: dict[date, TradingSession],
                                                 imports: list[str]) -> None:
    path = tmp_path / "sessions.json"
    session_cache.save(path, _rows(reference), exchange="XNYS", version=VERSION, start=CALENDAR_START, built=TODAY)
    tm = TimeManager(cache_path=path)
    assert tm.market_phase(datetime(2024, 11, 29, 17, tzinfo=UTC)).value == "open"
    assert tm.next_change(datetime(2024, 11, 29, 17, tzinfo=UTC))[0] == datetime(2024, 11, 29, 18, tzinfo=UTC)
    assert imports == []
    names = {h.day: h.name for h in tm.holidays(2024)}
    assert "July" in names[date(2024, 7, 4)] and imports == ["XNYS"]


def test_threads_share_one_load(tmp_path: Path, reference: dict[date, TradingSession], imports: list[str]) -> None:
    path = tmp_path / "sessions.json"
    tm = TimeManager(cache_path=path)
    results: list[list[TradingSession]] = []
    barrier = threading.Barrier(8)

    def ask() -> None:
        barrier.wait()
        results.append(tm.sessions(date(2024, 1, 2), date(2024, 12, 31)))

    threads = [threading.Thread(target=ask, name=f"ask-{n}") for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    expected = [reference[d] for d in sorted(reference) if date(2024, 1, 2) <= d <= date(2024, 12, 31)]
    assert results == [expected] * 8 and imports == ["XNYS"]


def test_installed_version_is_what_the_package_metadata_says() -> None:
    from importlib.metadata import version

    assert session_cache.installed_version() == version("exchange_calendars")
    assert session_cache.installed_version("pytest") == version("pytest")
    assert session_cache.installed_version("no_such_package_here") is None
