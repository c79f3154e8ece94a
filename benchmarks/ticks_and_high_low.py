"""The two figures of issue 18, each printed with a reference measured in the same run.

1. Importing 1,000,000 trade rows from CSV (`data import-file … --type trades`, the library call
   underneath) into a fresh SQLite database: rows/s (target >= 250,000). Reference: the bare
   `sqlite3` executemany of the same rows into the same table (what the database alone costs).
2. `mismartera data high-low SYMBOL 252` one-shot over a year of 1-minute bars: wall seconds of the
   whole process (target <= 0.3 s), the query alone in-process, and as reference the wall time of
   `mismartera --version`-like start-up (`python -m mismartera help`, which loads the same commands).

    PYTHONPATH=. python benchmarks/ticks_and_high_low.py [--rows 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np

from mismartera.data import analytics
from mismartera.data.bar_store import BarStore
from mismartera.data.database import Database
from mismartera.data.demo import seed_demo
from mismartera.data.tick_csv import import_ticks
from mismartera.data.tick_store import TickStore
from mismartera.timekeeping.calendar import TimeManager

ROOT = Path(__file__).resolve().parent.parent


def write_trades(path: Path, rows: int) -> None:
    """`rows` trades of one symbol over a few days, microsecond stamps, in time order."""
    rng = np.random.default_rng(1)
    start = np.datetime64("2024-11-01T13:30:00", "us").astype("int64")
    stamps = start + np.cumsum(rng.integers(0, 60_000, rows))
    prices = np.round(100 + np.cumsum(rng.choice([-0.01, 0, 0.01], rows)), 2)
    sizes = rng.integers(1, 500, rows)
    text = np.datetime_as_string(stamps.astype("datetime64[us]"), unit="us", timezone="UTC")
    with path.open("w", encoding="utf-8") as handle:
        handle.write("timestamp,price,size,exchange,conditions\n")
        handle.writelines(f"{t},{p},{s},V,@\n" for t, p, s in zip(text.tolist(), prices.tolist(), sizes.tolist(),
                                                                 strict=True))


def bare_insert(db_path: Path, rows: list[tuple]) -> float:
    connection = sqlite3.connect(db_path)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute("CREATE TABLE trades (symbol VARCHAR(16), ts BIGINT, seq INTEGER, price FLOAT, size FLOAT, "
                       "exchange VARCHAR(8), conditions VARCHAR(64), trade_id BIGINT, PRIMARY KEY (symbol, ts, seq)) "
                       "WITHOUT ROWID")
    started = time.perf_counter()
    connection.executemany("INSERT INTO trades VALUES ('BENCH', ?, ?, ?, ?, ?, ?, ?)", rows)
    connection.commit()
    seconds = time.perf_counter() - started
    connection.close()
    return seconds


def import_figure(folder: Path, rows: int, repeat: int) -> None:
    csv_path = folder / "trades.csv"
    write_trades(csv_path, rows)
    best_import = best_bare = float("inf")
    for run in range(repeat):
        db = Database(f"sqlite:///{folder / f'import{run}.db'}")
        db.ensure_schema()
        store = TickStore(db, "trades")
        summary = import_ticks(store, csv_path, "BENCH")
        assert summary.imported == rows, summary
        best_import = min(best_import, summary.seconds)
        stored = store.read("BENCH", 0, 2**62)
        db.dispose()
        best_bare = min(best_bare, bare_insert(folder / f"bare{run}.db", stored))
    rate = rows / best_import
    print(f"trades CSV import: {rows:,} rows in {best_import:.2f} s = {rate:,.0f} rows/s "
          f"(target 250,000: {'met' if rate >= 250_000 else 'NOT met'}); bare sqlite3 executemany of the same rows "
          f"{best_bare:.2f} s = {rows / best_bare:,.0f} rows/s; import / bare insert time = "
          f"{best_import / best_bare:.2f}x")


def high_low_figure(folder: Path, repeat: int) -> None:
    home = folder / "home"
    (home / "data").mkdir(parents=True)
    db = Database(f"sqlite:///{home / 'data' / 'mismartera.db'}")
    tm = TimeManager()
    seed_demo(BarStore(db), tm, ["BENCH"], date(2023, 11, 1), 260, 5)
    started = time.perf_counter()
    result = analytics.high_low(db, tm, "BENCH", 252)
    query = time.perf_counter() - started
    db.dispose()
    # The program as installed: its byte-code cached (under the temporary folder, whatever
    # PYTHONDONTWRITEBYTECODE says here).
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ALPACA_", "MISMARTERA_")) and k != "PYTHONDONTWRITEBYTECODE"}
    env.update({"MISMARTERA_HOME": str(home), "PYTHONPYCACHEPREFIX": str(folder / "pycache")})

    def wall(*args: str) -> float:
        best = float("inf")
        for _ in range(repeat):
            started = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "mismartera", *args], env=env, cwd=ROOT,
                                  capture_output=True, text=True)
            best = min(best, time.perf_counter() - started)
            assert done.returncode == 0, done.stderr
        return best

    wall("data", "high-low", "BENCH", "252")  # the session table cache and the OS file cache, warmed once
    one_shot = wall("data", "high-low", "BENCH", "252", "--json")
    startup = wall("help")
    print(f"data high-low BENCH 252 ({result.start} to {result.end}, {252 * 390:,} minutes): one-shot wall "
          f"{one_shot * 1000:.0f} ms (target 300: {'met' if one_shot <= 0.3 else 'NOT met'}); the query alone "
          f"{query * 1000:.1f} ms; reference 'mismartera help' wall {startup * 1000:.0f} ms; one-shot / start-up = "
          f"{one_shot / startup:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs; the best is reported (the machine is shared)")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as folder:
        import_figure(Path(folder), args.rows, args.repeat)
        high_low_figure(Path(folder), args.repeat)


if __name__ == "__main__":
    main()
