"""The columnar replay cache never answers differently from the database (issue 16)."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from synthetic_bars import synthetic_bars

from mismartera.data.bar_cache import BarCache
from mismartera.data.bar_store import BarStore
from mismartera.data.bar_versions import month_of, month_range, months_between
from mismartera.data.database import Database
from mismartera.system.prefetch import session_range
from mismartera.timekeeping.calendar import TimeManager

ROOT = Path(__file__).resolve().parents[2]
SYMBOLS = ["AAA", "BBB"]
START, END = date(2024, 1, 29), date(2024, 2, 2)   # across a month end


@pytest.fixture(scope="module")
def tm() -> TimeManager:
    return TimeManager()


@pytest.fixture
def store(database: Database, tm: TimeManager) -> BarStore:
    store = BarStore(database)
    rows = synthetic_bars(tm, SYMBOLS, START, END)
    rows["AAA"] = [(*row[:6], 17, row[1] + 0.01) if i % 3 else row for i, row in enumerate(rows["AAA"])]
    for symbol, series in rows.items():
        store.upsert(symbol, "1m", series)
    return store


def every_day(tm: TimeManager, source, symbols=SYMBOLS) -> list:
    return [source(symbols, *session_range(s)) for s in tm.sessions(START, END)]


def from_db(store: BarStore):
    return lambda symbols, start, end: store.read_many(symbols, "1m", start, end)


def test_months() -> None:
    assert month_of(int(month_range(202412)[0])) == 202412
    assert month_range(202412)[1] == month_range(202501)[0]
    assert months_between(month_range(202411)[0], month_range(202502)[0]) == [202411, 202412, 202501, 202502]


def test_cache_reads_exactly_what_the_database_holds(store: BarStore, tm: TimeManager, tmp_path: Path) -> None:
    cache = BarCache(store, tmp_path)
    expected = every_day(tm, from_db(store))
    assert every_day(tm, cache.read_many) == expected
    assert cache.rebuilt == 4          # two symbols, two months
    again = BarCache(store, tmp_path)  # a new process: from the files
    assert every_day(tm, again.read_many) == expected
    assert again.rebuilt == 0
    assert any(row[6] is None for row in expected[0]["AAA"]) and any(row[6] == 17 for row in expected[0]["AAA"])


def test_an_import_changing_one_bar_is_seen(store: BarStore, tm: TimeManager, tmp_path: Path) -> None:
    every_day(tm, BarCache(store, tmp_path).read_many)
    row = store.read("BBB", "1m", 0, 2**40, limit=5)[4]
    store.upsert("BBB", "1m", [(row[0], row[1], row[2] + 1.0, row[3], row[4], row[5], None, None)])
    cache = BarCache(store, tmp_path)
    assert every_day(tm, cache.read_many) == every_day(tm, from_db(store))
    assert cache.rebuilt == 1


def test_a_delete_is_seen(store: BarStore, tm: TimeManager, tmp_path: Path) -> None:
    BarCache(store, tmp_path).rebuild()
    first = tm.sessions(START, END)[0]
    store.delete("AAA", "1m", *session_range(first))
    store.delete("BBB")
    cache = BarCache(store, tmp_path)
    days = every_day(tm, cache.read_many)
    assert days == every_day(tm, from_db(store))
    assert days[0] == {"AAA": [], "BBB": []} and days[1]["AAA"]


def test_a_corrupt_or_truncated_file_is_rebuilt(store: BarStore, tm: TimeManager, tmp_path: Path) -> None:
    cache = BarCache(store, tmp_path)
    assert cache.rebuild() == 4
    files = sorted(cache.folder.glob("*/*.bars"))
    data = bytearray(files[0].read_bytes())
    data[100] ^= 0x40
    files[0].write_bytes(bytes(data))
    files[1].write_bytes(files[1].read_bytes()[:-9])
    files[2].write_bytes(b"")
    fresh = BarCache(store, tmp_path)
    assert every_day(tm, fresh.read_many) == every_day(tm, from_db(store))
    assert fresh.rebuilt == 3
    assert fresh.info().stale == 0 and fresh.info().files == 4


def test_a_cache_written_by_another_process(store: BarStore, tm: TimeManager, tmp_path: Path) -> None:
    script = (
        "import sys; from pathlib import Path\n"
        "from mismartera.data.bar_cache import BarCache\n"
        "from mismartera.data.bar_store import BarStore\n"
        "from mismartera.data.database import Database\n"
        "store = BarStore(Database(sys.argv[1]))\n"
        "print(BarCache(store, Path(sys.argv[2])).rebuild())\n"
        "row = store.read('AAA', '1m', 0, 2**40, limit=1)[0]\n"
        "store.upsert('AAA', '1m', [(row[0], 1.0, 2.0, 0.5, 1.5, 9.0, 1, 1.25)])\n"
    )
    mine = BarCache(store, tmp_path)
    mine.rebuild()
    done = subprocess.run([sys.executable, "-c", script, store.db.url, str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "4"
    mine.forget()   # what a new replay does: the versions are checked again
    days = every_day(tm, mine.read_many)
    assert days == every_day(tm, from_db(store))
    assert days[0]["AAA"][0][1:] == (1.0, 2.0, 0.5, 1.5, 9.0, 1, 1.25)


def test_info_and_clear(store: BarStore, tmp_path: Path) -> None:
    cache = BarCache(store, tmp_path)
    assert cache.info().files == 0
    cache.rebuild(["AAA"])
    info = cache.info()
    assert (info.files, info.symbols, info.stale) == (2, 1, 0)
    row = store.read("AAA", "1m", 0, 2**40, limit=1)[0]
    store.upsert("AAA", "1m", [(row[0], *row[1:5], row[5] + 1, None, None)])
    assert cache.info().stale == 1
    assert cache.clear() == 2
    assert cache.info().files == 0


def test_each_write_path_bumps_the_months_it_touches(store: BarStore) -> None:
    from sqlalchemy import select

    from mismartera.data.schema import bar_versions

    def table() -> dict:
        with store.db.connect() as conn:
            return {(s, i, m): v for s, i, m, v in conn.execute(select(bar_versions))}

    before = table()
    assert {key[2] for key in before} == {202401, 202402}
    row = store.read("AAA", "1m", *month_range(202402), limit=1)[0]
    store.upsert("AAA", "1m", [row])       # an identical row: still marked (cheap, and always safe)
    after = table()
    assert after[("AAA", "1m", 202402)] == before[("AAA", "1m", 202402)] + 1
    assert after[("AAA", "1m", 202401)] == before[("AAA", "1m", 202401)]
    store.upsert("AAA", "5m", [row])
    assert ("AAA", "5m", 202402) in table()


def test_a_csv_import_changing_one_bar_is_seen(store: BarStore, tm: TimeManager, tmp_path: Path) -> None:
    """The CSV import publishes its own way (SQLite: from a staged temp table); it marks the months too."""
    from datetime import UTC, datetime

    from mismartera.data.csv_import import import_file

    every_day(tm, BarCache(store, tmp_path / "cache").read_many)
    row = store.read("BBB", "1m", *month_range(202402), limit=3)[2]
    when = datetime.fromtimestamp(row[0], UTC).isoformat()
    csv = tmp_path / "bbb.csv"
    csv.write_text(f"timestamp,open,high,low,close,volume\n{when},{row[1]},{row[2] + 1.0},{row[3]},{row[4]},{row[5]}\n")
    summary = import_file(store, tm, csv, "BBB")
    assert summary.imported == 1 and summary.new == 0
    cache = BarCache(store, tmp_path / "cache")
    assert every_day(tm, cache.read_many) == every_day(tm, from_db(store))
    assert cache.rebuilt == 1
