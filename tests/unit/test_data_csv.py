"""CSV import: both layouts, every kind of bad row with its exact message, strict vs default,
idempotency, atomicity, extended hours; CSV export round trip."""

from __future__ import annotations

import errno
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mismartera.data import bar_store as bar_store_module
from mismartera.data import csv_import
from mismartera.data.bar_store import BarStore
from mismartera.data.csv_export import csv_lines, export_csv
from mismartera.data.csv_import import import_file
from mismartera.data.csv_parse import parse_csv
from mismartera.data.database import Database
from mismartera.data.demo import seed_demo
from mismartera.errors import DataError, NotFound
from mismartera.timekeeping.calendar import TimeManager

ET = ZoneInfo("America/New_York")
OPEN_1101 = int(datetime(2024, 11, 1, 13, 30, tzinfo=UTC).timestamp())  # 09:30 EDT
OPEN_1104 = int(datetime(2024, 11, 4, 14, 30, tzinfo=UTC).timestamp())  # 09:30 EST


@pytest.fixture(scope="module")
def tm() -> TimeManager:
    return TimeManager()


@pytest.fixture
def store(database: Database) -> BarStore:
    return BarStore(database)


def write(tmp_path: Path, text: str, name: str = "bars.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_date_time_layout_with_header(tmp_path: Path, tm: TimeManager, store: BarStore) -> None:
    path = write(tmp_path, "Date,Time,Open,High,Low,Close,Volume\n"
                           "2024-11-01,09:30,10.0,10.5,9.5,10.2,1000\n"
                           "2024-11-01,09:31,10.2,10.3,10.1,10.25,500\n"
                           "2024-11-04,09:30,11.0,11.0,11.0,11.0,0\n")
    summary = import_file(store, tm, path, "AAPL")
    assert (summary.layout, summary.rows_read, summary.imported, summary.new, summary.skipped) == \
        ("date,time", 3, 3, 3, 0)
    assert store.read("AAPL", "1m", 0, 2**40) == [
        (OPEN_1101, 10.0, 10.5, 9.5, 10.2, 1000.0, None, None),
        (OPEN_1101 + 60, 10.2, 10.3, 10.1, 10.25, 500.0, None, None),
        (OPEN_1104, 11.0, 11.0, 11.0, 11.0, 0.0, None, None),
    ]


def test_no_header_us_dates_and_seconds(tmp_path: Path, tm: TimeManager) -> None:
    parsed = parse_csv("11/01/2024,09:30:00,10,10.5,9.5,10.2,1000\n11/4/2024,9:31,10,10,10,10,5\n", ET)
    assert [r[0] for r in parsed.rows] == [OPEN_1101, OPEN_1104 + 60]
    assert parsed.error_count == 0


def test_timestamp_layout_offsets_zulu_naive_and_extras(tmp_path: Path) -> None:
    text = ("TIMESTAMP,Open,High,Low,Close,Volume,Trade_Count,VWAP\n"
            "2024-11-01T09:30:00-04:00,10,11,9,10.5,100,7,10.1\n"
            "2024-11-01T13:31:00Z,10,11,9,10.5,100,,\n"
            "2024-11-01 08:32:00,10,11,9,10.5,100,3,\n")
    parsed = parse_csv(text, ZoneInfo("America/Chicago"))
    assert parsed.layout == "timestamp" and parsed.error_count == 0
    assert parsed.rows == [(OPEN_1101, 10.0, 11.0, 9.0, 10.5, 100.0, 7, 10.1),
                           (OPEN_1101 + 60, 10.0, 11.0, 9.0, 10.5, 100.0, None, None),
                           (OPEN_1101 + 120, 10.0, 11.0, 9.0, 10.5, 100.0, 3, None)]


def test_unsorted_rows_are_sorted(tmp_path: Path) -> None:
    parsed = parse_csv("timestamp,open,high,low,close,volume\n"
                       "2024-11-01T09:32:00-04:00,1,1,1,1,1\n2024-11-01T09:30:00-04:00,1,1,1,1,1\n", ET)
    assert [r[0] for r in parsed.rows] == [OPEN_1101 + 120, OPEN_1101][::-1]


BAD_ROWS = [
    ("2024-11-01,09:31,10.5,10.2,10.0,10.5,100", "high 10.2 is below close 10.5"),
    ("2024-11-01,09:31,10.6,10.2,10.0,10.1,100", "high 10.2 is below open 10.6"),
    ("2024-11-01,09:31,10.1,10.8,10.2,10.5,100", "low 10.2 is above open 10.1"),
    ("2024-11-01,09:31,10.5,10.8,10.2,10.1,100", "low 10.2 is above close 10.1"),
    ("2024-11-01,09:31,0,10.8,10.2,10.1,100", "open 0 is not a positive price"),
    ("2024-11-01,09:31,10.5,10.8,-1,10.1,100", "low -1 is not a positive price"),
    ("2024-11-01,09:31,abc,10.8,10.2,10.5,100", "open 'abc' is not a number"),
    ("2024-11-01,09:31,10.5,10.8,10.2,10.5,-5", "volume -5 is negative"),
    ("2024-11-01,09:31,10.5,10.8,10.2,10.5", "expected 7 fields, found 6"),
    ("2024-11-01,09:31,10.5,10.8,10.2,10.5,1,2", "expected 7 fields, found 8"),
    ("2024-13-01,09:31,10.5,10.8,10.2,10.5,1",
     "date/time '2024-13-01 09:31' is not a date YYYY-MM-DD or MM/DD/YYYY with a time HH:MM[:SS]"),
    ("11/01/24,09:31,10.5,10.8,10.2,10.5,1",
     "date/time '11/01/24 09:31' is not a date YYYY-MM-DD or MM/DD/YYYY with a time HH:MM[:SS]"),
    ("2024-11-01,09:61,10.5,10.8,10.2,10.5,1",
     "date/time '2024-11-01 09:61' is not a date YYYY-MM-DD or MM/DD/YYYY with a time HH:MM[:SS]"),
    ("2024-11-01,09:31:15,10.5,10.8,10.2,10.5,1", "timestamp 2024-11-01T09:31:15-04:00 is not on a whole minute"),
    ("2024-11-01,09:30,10.5,10.8,10.2,10.5,1", "duplicate timestamp 2024-11-01T09:30:00-04:00 "
                                               "(an earlier line has the same time)"),
]


@pytest.mark.parametrize(("row", "message"), BAD_ROWS, ids=[m.split(" ")[0] + str(i) for i, (_, m)
                                                             in enumerate(BAD_ROWS)])
def test_each_bad_row_has_its_exact_message(row: str, message: str) -> None:
    text = "Date,Time,Open,High,Low,Close,Volume\n2024-11-01,09:30,10,10.5,9.5,10.2,1000\n" + row + "\n"
    parsed = parse_csv(text, ET)
    assert parsed.errors == [f"line 3: {message}"]
    assert parsed.error_count == 1 and len(parsed.rows) == 1


def test_timestamp_layout_bad_rows() -> None:
    text = ("timestamp,open,high,low,close,volume,trade_count,vwap\n"
            "yesterday,1,1,1,1,1,,\n"
            "2024-11-01T09:30:00Z,1,1,1,1,1,1.5,\n"
            "2024-11-01T09:31:00Z,1,1,1,1,1,,x\n")
    assert parse_csv(text, ET).errors == [
        "line 2: timestamp 'yesterday' is not an ISO 8601 date-time",
        "line 3: trade_count '1.5' is not a whole number",
        "line 4: vwap 'x' is not a number",
    ]


def test_default_skips_bad_rows_and_strict_imports_nothing(tmp_path: Path, tm: TimeManager,
                                                           store: BarStore) -> None:
    lines = ["Date,Time,Open,High,Low,Close,Volume"]
    lines += [f"2024-11-01,10:{m:02d},10,10.5,9.5,10.2,1000" for m in range(30)]
    lines += [f"2024-11-01,11:{m:02d},10.5,10.2,10.0,10.5,100" for m in range(25)]  # 25 bad rows
    path = write(tmp_path, "\n".join(lines) + "\n")
    with pytest.raises(DataError) as caught:
        import_file(store, tm, path, "AAPL", strict=True)
    message = str(caught.value).splitlines()
    assert message[0] == "bars.csv: 25 bad row(s) of 55, nothing imported (--strict)"
    assert message[1] == "line 32: high 10.2 is below close 10.5"
    assert len(message) == 22 and message[-1] == "… and 5 more bad row(s)"
    assert store.count("AAPL", "1m") == 0
    summary = import_file(store, tm, path, "AAPL")
    assert (summary.imported, summary.skipped, len(summary.errors)) == (30, 25, 20)
    assert store.count("AAPL", "1m") == 30


def test_import_twice_changes_nothing(tmp_path: Path, tm: TimeManager, store: BarStore) -> None:
    path = write(tmp_path, "Date,Time,Open,High,Low,Close,Volume\n"
                 + "".join(f"2024-11-01,09:{m:02d},10,10.5,9.5,10.2,{m}\n" for m in range(30, 60)))
    assert import_file(store, tm, path, "AAPL").new == 30
    before = store.read("AAPL", "1m", 0, 2**40)
    again = import_file(store, tm, path, "AAPL")
    assert (again.imported, again.new) == (30, 0)
    assert store.read("AAPL", "1m", 0, 2**40) == before


def test_a_failure_midway_leaves_no_new_rows(tmp_path: Path, tm: TimeManager, store: BarStore,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    store.upsert("AAPL", "1m", [(OPEN_1101 - 86_400, 1.0, 1.0, 1.0, 1.0, 1.0, None, None)])
    path = write(tmp_path, "Date,Time,Open,High,Low,Close,Volume\n"
                 + "".join(f"2024-11-01,{10 + m // 60}:{m % 60:02d},10,10.5,9.5,10.2,1\n" for m in range(300)))
    monkeypatch.setattr(bar_store_module, "BATCH_SIZE", 50)
    monkeypatch.setattr("mismartera.data.csv_import.BATCH_SIZE", 50)
    monkeypatch.setattr("mismartera.data.csv_parse.CHUNK_ROWS", 70)
    calls: list[int] = []
    full = OSError(errno.ENOSPC, "No space left on device")

    def failing(original, fail_at):
        def write(*args, **kwargs):
            rows = args[1] if len(args) == 2 else args[3]
            calls.append(len(rows))
            if len(calls) == fail_at:
                raise full
            return original(*args, **kwargs)
        return write

    # SQLite stages rows in a temp table; other databases write (upsert here: the series has a bar) in
    # one transaction. Either way the failure leaves the stored bars as they were.
    sqlite = store.db.dialect == "sqlite"
    target, name = (csv_import, "stage_rows") if sqlite else (BarStore, "upsert")
    original_of = {name: getattr(target, name)}
    monkeypatch.setattr(target, name, failing(getattr(target, name), 4))
    with pytest.raises(DataError, match=f"disk full while importing {path}"):
        import_file(store, tm, path, "AAPL")
    assert calls == [50, 20, 50, 20]
    assert store.count("AAPL", "1m") == 1
    monkeypatch.setattr(target, name, original_of[name])
    store.delete("AAPL")
    calls.clear()
    target, name = (csv_import, "stage_rows") if sqlite else (BarStore, "insert")
    monkeypatch.setattr(target, name, failing(getattr(target, name), 3))
    with pytest.raises(DataError, match="disk full"):
        import_file(store, tm, path, "AAPL")
    assert store.count("AAPL", "1m") == 0


def test_extended_hours_are_kept_and_counted(tmp_path: Path, tm: TimeManager, store: BarStore) -> None:
    path = write(tmp_path, "Date,Time,Open,High,Low,Close,Volume\n"
                           "2024-11-01,08:00,1,1,1,1,1\n2024-11-01,09:30,1,1,1,1,1\n"
                           "2024-11-01,15:59,1,1,1,1,1\n2024-11-01,16:00,1,1,1,1,1\n"
                           "2024-11-02,10:00,1,1,1,1,1\n")
    summary = import_file(store, tm, path, "AAPL")
    assert (summary.imported, summary.extended_hours) == (5, 3)


def test_file_level_problems(tmp_path: Path, tm: TimeManager, store: BarStore) -> None:
    with pytest.raises(NotFound, match="no such file"):
        import_file(store, tm, tmp_path / "missing.csv", "AAPL")
    with pytest.raises(DataError, match="the file has no rows"):
        import_file(store, tm, write(tmp_path, "\n\n"), "AAPL")
    with pytest.raises(DataError, match=r"line 1: unknown column 'adj_close' \(expected Date,Time"):
        import_file(store, tm, write(tmp_path, "Date,Time,Open,High,Low,Close,Adj Close,Volume\n"), "AAPL")
    with pytest.raises(DataError, match=r"line 1: missing column\(s\) volume"):
        import_file(store, tm, write(tmp_path, "timestamp,open,high,low,close\n"), "AAPL")
    with pytest.raises(DataError, match="no bars in the file"):
        import_file(store, tm, write(tmp_path, "timestamp,open,high,low,close,volume\n"), "AAPL")
    (tmp_path / "bin.csv").write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(DataError, match="is not a UTF-8 text file"):
        import_file(store, tm, tmp_path / "bin.csv", "AAPL")


def test_export_delete_import_round_trip_is_exact(tmp_path: Path, tm: TimeManager, store: BarStore) -> None:
    seed_demo(store, tm, ["NVDA"], date(2024, 11, 1), 3, 9)
    store.upsert("NVDA", "1m", [(OPEN_1101 + 60, 1.0 / 3.0, 0.5, 0.1 + 0.2, 0.4, 1234.5678, None, 0.1 + 0.2)])
    before = store.read("NVDA", "1m", 0, 2**40)
    path = tmp_path / "out.csv"
    assert export_csv(store, "NVDA", "1m", 0, 2**40, path) == len(before)
    assert path.read_text().startswith("timestamp,open,high,low,close,volume,trade_count,vwap\n"
                                       "2024-11-01T09:30:00-04:00,")
    assert store.delete("NVDA") == len(before)
    summary = import_file(store, tm, path, "NVDA")
    assert summary.skipped == 0
    assert store.read("NVDA", "1m", 0, 2**40) == before
    with pytest.raises(NotFound, match="no ZZZ 1m bars"):
        export_csv(store, "ZZZ", "1m", 0, 2**40, tmp_path / "none.csv")
    assert not (tmp_path / "none.csv").exists()


def test_unusual_symbol_names_are_bound_not_written_into_sql(store: BarStore) -> None:
    row = (OPEN_1101, 1.0, 2.0, 0.5, 1.5, 10.0, 3, 1.2)
    for name in ("O'NEIL", "BRK.B", "%s?"):
        store.insert(name, "1m", [row])
        store.upsert(name, "1m", [row, (OPEN_1101 + 60, *row[1:])])
        assert store.read(name, "1m", 0, 2**40) == [row, (OPEN_1101 + 60, *row[1:])]
    assert set(store.symbols()) == {"O'NEIL", "BRK.B", "%s?"}


def test_bars_beyond_the_calendar_import_without_an_extended_hours_figure(tmp_path: Path, tm: TimeManager,
                                                                           store: BarStore) -> None:
    path = write(tmp_path, "Date,Time,Open,High,Low,Close,Volume\n1995-03-01,10:00,1,1,1,1,1\n")
    summary = import_file(store, tm, path, "OLD")
    assert (summary.imported, summary.extended_hours) == (1, None)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(
    st.integers(min_value=0, max_value=10**7), st.floats(min_value=1e-4, max_value=1e6), st.floats(0, 1),
    st.floats(0, 1), st.floats(0, 1), st.floats(min_value=0, max_value=1e12),
    st.one_of(st.none(), st.integers(0, 10**9)), st.one_of(st.none(), st.floats(min_value=0, max_value=1e6))),
    min_size=1, max_size=40, unique_by=lambda t: t[0]))
def test_export_text_parses_back_to_the_same_rows(raw: list[tuple]) -> None:
    rows = []
    for minute, low, a, b, c, volume, trades, vwap in raw:
        high = low * (1 + a)
        o, close = low + (high - low) * b, low + (high - low) * c
        rows.append((OPEN_1101 + 60 * minute, o, high, low, close, volume, trades, vwap))
    rows.sort()
    parsed = parse_csv("".join(csv_lines(rows)), ET)
    assert parsed.error_count == 0, parsed.errors
    assert parsed.rows == rows
