"""CSV import speed into a fresh SQLite database: prints rows/s (target >= 300,000 rows/s).

    python benchmarks/import_speed.py [--days 250] [--layout date,time|timestamp]

The file holds demo 1-minute bars (390 a regular day) for one symbol; the time covers reading,
checking every row, and the one-transaction upsert.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from mismartera.data.bar_store import BarStore
from mismartera.data.csv_import import import_file
from mismartera.data.database import Database
from mismartera.data.demo import demo_days, generate_day
from mismartera.timekeeping.calendar import TimeManager

ET = ZoneInfo("America/New_York")


def write_file(path: Path, tm: TimeManager, days: int, layout: str) -> int:
    price = 100.0
    count = 0
    with path.open("w", encoding="utf-8") as handle:
        handle.write("Date,Time,Open,High,Low,Close,Volume\n" if layout == "date,time"
                     else "timestamp,open,high,low,close,volume,trade_count,vwap\n")
        for day in demo_days(tm, date(2023, 1, 3), days):
            rows, price = generate_day("BENCH", tm.session(day), 1, price)
            for ts, o, h, low, c, v, n, w in rows:
                local = datetime.fromtimestamp(ts, ET)
                if layout == "date,time":
                    handle.write(f"{local:%Y-%m-%d},{local:%H:%M},{o},{h},{low},{c},{int(v)}\n")
                else:
                    handle.write(f"{local.isoformat()},{o},{h},{low},{c},{int(v)},{n},{w}\n")
            count += len(rows)
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=250)
    parser.add_argument("--layout", choices=("date,time", "timestamp"), default="date,time")
    parser.add_argument("--repeat", type=int, default=3, help="runs; the best is reported (the machine is shared)")
    args = parser.parse_args()
    tm = TimeManager()
    tm.sessions(date(2023, 1, 3), date(2023, 1, 4))
    first_times, again_times = [], []
    with tempfile.TemporaryDirectory() as folder:
        csv_path = Path(folder) / "bench.csv"
        rows = write_file(csv_path, tm, args.days, args.layout)
        for run in range(args.repeat):
            db = Database(f"sqlite:///{Path(folder) / f'bench{run}.db'}")
            store = BarStore(db)
            db.ensure_schema()
            started = time.perf_counter()
            summary = import_file(store, tm, csv_path, "BENCH")
            first_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            import_file(store, tm, csv_path, "BENCH")
            again_times.append(time.perf_counter() - started)
            db.dispose()
            assert summary.new == rows
    best, best_again = min(first_times), min(again_times)
    print(f"layout {args.layout}: {rows:,} rows; best of {args.repeat}: first import {best:.3f} s = "
          f"{rows / best:,.0f} rows/s; re-import (unchanged) {best_again:.3f} s = {rows / best_again:,.0f} rows/s")


if __name__ == "__main__":
    main()
