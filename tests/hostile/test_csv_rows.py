"""Issue 15, points 3 and 4: out-of-range and pathological CSV rows are `line N:` errors, never
stored rows; fields over the csv limit name their line; long bad fields are quick to report."""

from __future__ import annotations

import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from mismartera.data.bar_store import BarStore
from mismartera.data.csv_import import import_file
from mismartera.data.csv_parse import RowLimits, parse_csv
from mismartera.data.database import Database
from mismartera.errors import DataError, UsageError
from mismartera.timekeeping.calendar import TimeManager

ET = ZoneInfo("America/New_York")
HEADER = "timestamp,open,high,low,close,volume,trade_count,vwap\n"
GOOD = "2024-11-01T09:30:00-04:00,10,10.5,9.5,10.2,1000,,\n"
RANGE = "(expected a bar time from 1970-01-01 to 2099-12-31)"

BAD_ROWS = [
    ("0001-01-01T00:00:00Z,1,1,1,1,1,,", f"timestamp 0001-01-01T00:00:00Z is outside 1970-2099 {RANGE}"),
    ("2100-01-01T00:00:00Z,1,1,1,1,1,,", f"timestamp 2100-01-01T00:00:00Z is outside 1970-2099 {RANGE}"),
    ("1969-12-31T23:59:00Z,1,1,1,1,1,,", f"timestamp 1969-12-31T23:59:00Z is outside 1970-2099 {RANGE}"),
    ("9999-12-31T23:59:00,1,1,1,1,1,,", f"timestamp 9999-12-31T23:59:00 is outside 1970-2099 {RANGE}"),
    ("2024-11-01T09:31:00-04:00,nan,1,1,1,1,,", "open nan is not a finite number"),
    ("2024-11-01T09:31:00-04:00,1,inf,1,1,1,,", "high inf is not a finite number"),
    ("2024-11-01T09:31:00-04:00,2e9,2e9,2e9,2e9,1,,", "open 2e9 is above the largest price allowed (1e+09)"),
    ("2024-11-01T09:31:00-04:00,1,1,1,1,1e14,,", "volume 1e14 is above the largest volume allowed (1e+13)"),
    ("2024-11-01T09:31:00-04:00,1,1,1,1,NaN,,", "volume NaN is not finite"),
    ("2024-11-01T09:31:00-04:00,1,1,1,1,1,,1e300", "vwap 1e300 is above the largest vwap allowed (1e+09)"),
    ("2024-11-01T09:31:00-04:00,1,1,1,1,1,,-inf", "vwap -inf is not finite"),
    ("2024-11-01T09:31:00-04:00,1,1,1,1,1,100000000000000,", "trade_count 100000000000000 is above the largest "
                                                            "trade_count allowed (1e+13)"),
    ("2024-03-10T02:30:00,1,1,1,1,1,,", "2024-03-10 02:30 does not exist in America/New_York (the clocks skip "
                                        "that hour; give the time with its UTC offset)"),
    ("2024-11-03T01:30:00,1,1,1,1,1,,", "2024-11-03 01:30 is ambiguous in America/New_York (it happens twice as "
                                        "the clocks go back; give the time with its UTC offset)"),
]


@pytest.mark.parametrize(("row", "message"), BAD_ROWS, ids=[str(i) for i in range(len(BAD_ROWS))])
def test_each_out_of_range_row_is_a_line_error(row: str, message: str) -> None:
    parsed = parse_csv(HEADER + GOOD + row + "\n", ET)
    assert parsed.errors == [f"line 3: {message}"]
    assert len(parsed.rows) == 1  # only the good row


def test_date_time_layout_names_the_zone_for_dst_gaps_and_folds() -> None:
    text = ("Date,Time,Open,High,Low,Close,Volume\n2024-03-10,02:30,1,1,1,1,1\n2024-11-03,01:30,1,1,1,1,1\n"
            "2024-11-03,00:59,1,1,1,1,1\n2024-11-03,02:00,1,1,1,1,1\n0001-01-01,09:30,1,1,1,1,1\n")
    parsed = parse_csv(text, ZoneInfo("America/Chicago"))
    assert parsed.errors == [
        "line 2: 2024-03-10 02:30 does not exist in America/Chicago (the clocks skip that hour; give the time "
        "with its UTC offset)",
        "line 3: 2024-11-03 01:30 is ambiguous in America/Chicago (it happens twice as the clocks go back; give "
        "the time with its UTC offset)",
        f"line 6: date 0001-01-01 is outside 1970-2099 {RANGE}",
    ]
    assert len(parsed.rows) == 2  # 00:59 and 02:00 exist once each


def test_limits_are_configurable() -> None:
    row = "2024-11-01T09:31:00-04:00,20,20,20,20,5000,,\n"
    assert parse_csv(HEADER + row, ET).errors == []
    assert parse_csv(HEADER + row, ET, limits=RowLimits(max_price=10, max_volume=1e6)).errors == [
        "line 2: open 20 is above the largest price allowed (10)"]


@pytest.fixture
def store(tmp_path: Path) -> BarStore:
    db = Database(f"sqlite:///{tmp_path / 'bars.db'}")
    yield BarStore(db)
    db.dispose()


def test_a_year_0001_row_is_never_stored_and_the_import_succeeds(tmp_path: Path, store: BarStore) -> None:
    path = tmp_path / "bars.csv"
    path.write_text(HEADER + "0001-01-01T00:00:00Z,1,1,1,1,1,,\n" + GOOD)
    summary = import_file(store, TimeManager(), path, "AAPL")
    assert (summary.imported, summary.skipped) == (1, 1)
    assert summary.errors == [f"line 2: timestamp 0001-01-01T00:00:00Z is outside 1970-2099 {RANGE}"]
    assert [row[0] for row in store.read("AAPL", "1m", -2**62, 2**62)] == [1730467800]


def test_a_field_over_the_csv_limit_names_its_line_and_nothing_is_stored(tmp_path: Path, store: BarStore) -> None:
    path = tmp_path / "huge.csv"
    path.write_text(HEADER + GOOD + "2024-11-01T09:31:00-04:00," + "9" * 5_000_000 + ",1,1,1,1,,\n")
    with pytest.raises(DataError) as caught:
        import_file(store, TimeManager(), path, "AAPL")
    assert str(caught.value) == ("line 3: field longer than 131,072 characters (a bar file's fields are short: "
                                 "is this a CSV file of bars?)")
    assert store.count("AAPL", "1m") == 0


def test_a_long_bad_field_is_reported_quickly_and_shown_cut(tmp_path: Path, store: BarStore) -> None:
    path = tmp_path / "long.csv"
    path.write_text(HEADER + GOOD + "2024-11-01T09:31:00-04:00," + "x" * 100_000 + ",1,1,1,1,,\n")
    started = time.perf_counter()
    with pytest.raises(DataError) as caught:
        import_file(store, TimeManager(), path, "AAPL", strict=True)
    assert time.perf_counter() - started < 1.0
    assert str(caught.value).splitlines()[1] == (
        "line 3: open 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx… (100,000 characters)' is not a number")


def test_a_symbol_the_rule_refuses_is_refused_by_the_importer_too(tmp_path: Path, store: BarStore) -> None:
    path = tmp_path / "bars.csv"
    path.write_text(HEADER + GOOD)
    for bad in ("ABCDEFGHIJKLMNOP", "BRK/B", "1ABC", "A'B"):
        with pytest.raises(UsageError, match="is not a ticker symbol"):
            import_file(store, TimeManager(), path, bad)
    assert store.symbols() == []


def test_not_utf8_midway_is_one_line(tmp_path: Path, store: BarStore) -> None:
    path = tmp_path / "mixed.csv"
    path.write_bytes((HEADER + GOOD * 3).encode() + b"\xff\xfe,1,1\n")
    with pytest.raises(DataError, match=r"mixed.csv is not a UTF-8 text file \(expected CSV\)$"):
        import_file(store, TimeManager(), path, "AAPL")
    assert store.count("AAPL", "1m") == 0


def test_time_convert_refuses_skipped_and_repeated_local_times() -> None:
    from datetime import datetime

    with pytest.raises(UsageError) as caught:
        TimeManager.convert(datetime(2024, 3, 10, 2, 30), "ET", "UTC")
    assert str(caught.value) == ("2024-03-10 02:30 does not exist in America/New_York (the clocks skip that hour; "
                                 "give the time with its UTC offset)")
    with pytest.raises(UsageError, match="2024-11-03 01:30 is ambiguous in America/New_York"):
        TimeManager.convert(datetime(2024, 11, 3, 1, 30), "ET", "UTC")
    assert TimeManager.convert(datetime(2024, 11, 3, 2, 30), "ET", "UTC").hour == 7
