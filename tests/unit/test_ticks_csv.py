"""Trades and quotes: storage keys, CSV import (line-numbered errors, --strict, one transaction,
idempotence), export that reads back exactly."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from mismartera.data.database import Database
from mismartera.data.tick_csv import export_ticks, import_ticks
from mismartera.data.tick_csv_parse import parse_ticks
from mismartera.data.tick_store import TickStore, number_within_microsecond
from mismartera.errors import DataError

ET = ZoneInfo("America/New_York")
T0 = int(datetime(2024, 11, 1, 13, 30, tzinfo=UTC).timestamp()) * 1_000_000  # 09:30 EDT

TRADES = """timestamp,price,size,exchange,conditions,id
2024-11-01T09:30:00.000001-04:00,225.5,100,V,@ T,11
2024-11-01T09:30:00.000001-04:00,225.51,5,,,
2024-11-01T13:30:02.5Z,225.6,7,Q,@,12
2024-11-01T09:30:01,225.55,1,P,,
"""


def write(tmp_path: Path, text: str, name: str = "t.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_seq_numbers_rows_sharing_a_microsecond() -> None:
    assert number_within_microsecond([1, 1, 2, 3, 3, 3]) == [0, 1, 0, 0, 1, 2]


def test_trades_parse_sorted_with_seq_offsets_and_local_times() -> None:
    parsed = parse_ticks(TRADES, "trades", ET)
    assert parsed.error_count == 0 and parsed.lines == 4
    assert parsed.rows == [
        (T0 + 1, 0, 225.5, 100.0, "V", "@ T", 11),
        (T0 + 1, 1, 225.51, 5.0, None, None, None),
        (T0 + 1_000_000, 0, 225.55, 1.0, "P", None, None),  # a local time, read in the exchange zone
        (T0 + 2_500_000, 0, 225.6, 7.0, "Q", "@", 12),
    ]


def test_bad_rows_are_named_by_line() -> None:
    text = ("timestamp,price,size\n2024-11-01T09:30:00,abc,1\n\n2024-11-01T09:31:00,10,-1\n"
            "2024-03-10T02:30:00,1,1\n2024-11-01T09:32:00,0,1\nnot a time,1,1\n2024-11-01T09:33:00,10,1\n")
    parsed = parse_ticks(text, "trades", ET)
    assert parsed.errors == [
        "line 2: price 'abc' is not a number",
        "line 3: blank line",
        "line 4: size -1 must be zero or more",
        "line 5: timestamp is not an ISO 8601 time (e.g. 2024-11-01T09:30:00.123456-04:00), "
        "or does not exist in that zone",
        "line 6: price 0 must be positive",
        "line 7: timestamp is not an ISO 8601 time (e.g. 2024-11-01T09:30:00.123456-04:00), "
        "or does not exist in that zone",
    ]
    assert len(parsed.rows) == 1 and parsed.error_count == 6


def test_quotes_without_header_and_bad_header() -> None:
    parsed = parse_ticks("2024-11-01T09:30:00Z,10,1,10.5,2,Q,V,R\n", "quotes", ET)
    assert parsed.rows == [(T0 - 4 * 3600 * 1_000_000, 0, 10.0, 1.0, 10.5, 2.0, "Q", "V", "R")]
    with pytest.raises(DataError, match=r"header has unknown column\(s\) bid_px"):
        parse_ticks("timestamp,bid_px,bid_size,ask_price,ask_size\n", "quotes", ET)
    with pytest.raises(DataError, match="line 1 has 2 field"):
        parse_ticks("2024-11-01T09:30:00Z,10\n", "quotes", ET)


def test_import_strict_idempotent_and_export_round_trip(database: Database, tmp_path: Path) -> None:
    store = TickStore(database, "trades")
    path = write(tmp_path, TRADES)
    first = import_ticks(store, path, "AAPL")
    assert (first.imported, first.new, first.skipped) == (4, 4, 0)
    again = import_ticks(store, path, "AAPL")
    assert (again.imported, again.new) == (4, 0)
    stored = store.read("AAPL", 0, 2**62)
    assert stored == parse_ticks(TRADES, "trades", ET).rows
    # a bad row under --strict: nothing written (one transaction), the line named
    bad = write(tmp_path, TRADES + "2024-11-01T09:40:00,x,1\n", "bad.csv")
    with pytest.raises(DataError, match=r"1 bad row\(s\) of 5, nothing imported \(--strict\)\nline 6: price 'x'"):
        import_ticks(store, bad, "MSFT", strict=True)
    assert store.count("MSFT") == 0
    lenient = import_ticks(store, bad, "MSFT")
    assert (lenient.imported, lenient.skipped) == (4, 1)
    # export → delete → import gives the same rows
    out = tmp_path / "out.csv"
    assert export_ticks(store, "AAPL", 0, 2**62, out) == 4
    store.delete("AAPL")
    import_ticks(store, out, "AAPL")
    assert store.read("AAPL", 0, 2**62) == stored
    assert store.latest("AAPL") == stored[-1]
    assert store.latest("AAPL", before_ts=T0 + 2) == stored[1]


def test_quotes_round_trip(database: Database, tmp_path: Path) -> None:
    store = TickStore(database, "quotes")
    text = ("timestamp,bid_price,bid_size,ask_price,ask_size,bid_exchange,ask_exchange,conditions\n"
            "2024-11-01T09:30:00.25-04:00,225.1,3,225.2,4,V,Q,R\n2024-11-01T09:30:00.25-04:00,225.11,1,225.2,4,,,\n")
    import_ticks(store, write(tmp_path, text), "AAPL")
    rows = store.read("AAPL", 0, 2**62)
    assert rows == [(T0 + 250_000, 0, 225.1, 3.0, 225.2, 4.0, "V", "Q", "R"),
                    (T0 + 250_000, 1, 225.11, 1.0, 225.2, 4.0, None, None, None)]
    out = tmp_path / "q.csv"
    export_ticks(store, "AAPL", 0, 2**62, out)
    assert import_ticks(store, out, "AAPL").new == 0
    assert store.read("AAPL", 0, 2**62) == rows
