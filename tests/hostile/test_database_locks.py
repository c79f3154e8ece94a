"""Issue 15, point 1: writers wait for SQLite's write lock, then fail with one line naming the other
writer; an import holds the lock only for its short publish, and readers never see half a file."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from mismartera.config.settings import DatabaseSettings
from mismartera.data import csv_import
from mismartera.data.bar_store import BarStore
from mismartera.data.csv_import import import_file
from mismartera.data.database import Database, DatabaseLocked
from mismartera.timekeeping.calendar import TimeManager

ROW = (1730467800, 1.0, 1.0, 1.0, 1.0, 1.0, None, None)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    path = tmp_path / "bars.db"
    Database(f"sqlite:///{path}").ensure_schema()
    return path


def hold_lock(path: Path) -> sqlite3.Connection:
    """Another writer: a raw connection holding the write lock until it is closed."""
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO bars VALUES ('HOLD', '1m', 1, 1, 1, 1, 1, 1, NULL, NULL)")
    return other


def test_a_writer_past_busy_timeout_fails_with_one_line_naming_the_other_writer(db_path: Path) -> None:
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    notes = db_path.with_name("bars.db.writers")
    notes.mkdir()
    (notes / str(sleeper.pid)).write_text("data import-file big.csv BIG")
    other = hold_lock(db_path)
    db = Database(f"sqlite:///{db_path}", DatabaseSettings(busy_timeout_seconds=1))
    try:
        started = time.monotonic()
        with pytest.raises(DatabaseLocked) as caught, db.begin() as conn:
            conn.execute(text("DELETE FROM bars"))
        assert 1.0 <= time.monotonic() - started < 5
        assert str(caught.value) == (f"the database stayed locked for 1 s by another writer "
                                     f"(pid {sleeper.pid}: data import-file big.csv BIG)")
    finally:
        other.close()
        sleeper.kill()
        sleeper.wait()
        db.dispose()


def test_a_writer_waits_for_a_short_lock_and_goes_on(db_path: Path) -> None:
    other = hold_lock(db_path)
    threading.Timer(0.7, lambda: (other.execute("COMMIT"), other.close())).start()
    db = Database(f"sqlite:///{db_path}", DatabaseSettings(busy_timeout_seconds=20))
    store = BarStore(db)
    store.upsert("AAPL", "1m", [ROW])   # waits for the other writer, then writes
    assert store.count("AAPL", "1m") == 1 and store.count("HOLD", "1m") == 1
    db.dispose()


def test_an_import_holds_no_lock_while_it_reads_and_readers_see_all_or_nothing(
        db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    csv_path = tmp_path / "bars.csv"
    csv_path.write_text("Date,Time,Open,High,Low,Close,Volume\n"
                        + "".join(f"2024-11-01,{10 + m // 60}:{m % 60:02d},10,10.5,9.5,10.2,1\n" for m in range(300)))
    monkeypatch.setattr("mismartera.data.csv_import.BATCH_SIZE", 50)
    monkeypatch.setattr("mismartera.data.csv_parse.CHUNK_ROWS", 50)
    url = f"sqlite:///{db_path}"
    seen: list[tuple[int, int]] = []
    original = csv_import.stage_rows
    # Another process's view: a writer with a very short patience, and a reader.
    other = Database(url, DatabaseSettings(busy_timeout_seconds=0.2))

    def staged_while_others_work(conn, rows):
        original(conn, rows)
        BarStore(other).upsert("OTHER", "1m", [(ROW[0] + 60 * len(seen), *ROW[1:])])  # no wait for a lock
        seen.append((BarStore(other).count("AAPL", "1m"), BarStore(other).count("OTHER", "1m")))

    monkeypatch.setattr(csv_import, "stage_rows", staged_while_others_work)
    db = Database(url)
    summary = import_file(BarStore(db), TimeManager(), csv_path, "AAPL")
    assert summary.new == 300
    assert seen == [(0, n) for n in range(1, 7)]   # six batches staged; the reader saw none of them
    assert BarStore(other).count("AAPL", "1m") == 300
    db.dispose()
    other.dispose()


def test_two_imports_of_one_new_series_at_once_both_complete(db_path: Path, tmp_path: Path) -> None:
    csv_path = tmp_path / "bars.csv"
    csv_path.write_text("Date,Time,Open,High,Low,Close,Volume\n"
                        + "".join(f"2024-11-{1 + d:02d},{10 + m // 60}:{m % 60:02d},10,10.5,9.5,10.2,1\n"
                                  for d in range(4) for m in range(300)))
    url = f"sqlite:///{db_path}"
    results: list[object] = []

    def run() -> None:
        db = Database(url)
        try:
            results.append(import_file(BarStore(db), TimeManager(), csv_path, "AAPL"))
        except Exception as exc:
            results.append(exc)
        finally:
            db.dispose()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(getattr(r, "new", r) for r in results) == [0, 1200]
    assert BarStore(Database(url)).count("AAPL", "1m") == 1200


@pytest.mark.e2e
def test_a_session_kept_out_by_another_writer_fails_with_one_line(run_cli, example_bars: Path) -> None:
    (example_bars / "config").mkdir(exist_ok=True)
    (example_bars / "config" / "settings.toml").write_text("[database]\nbusy_timeout_seconds = 1\n")
    db_path = example_bars / "data" / "mismartera.db"
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    notes = db_path.with_name("mismartera.db.writers")
    notes.mkdir(exist_ok=True)
    (notes / str(sleeper.pid)).write_text("data import-file big.csv BIG")
    other = hold_lock(db_path)
    try:
        result = run_cli("system", "start", "config/example_session.json", "--wait")
    finally:
        other.close()
        sleeper.kill()
        sleeper.wait()
    assert result.code == 1, result
    errors = [line for line in result.err.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and "[SQL" not in result.err and "Traceback" not in result.err, result
    assert errors[0].endswith(f"the database stayed locked for 1 s by another writer "
                              f"(pid {sleeper.pid}: data import-file big.csv BIG)"), result
