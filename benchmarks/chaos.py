"""Chaos suite (issue 14): `kill -9` a backtest at random moments and check that nothing committed is lost.

    python benchmarks/chaos.py                   # 20 kills of a backtest + 5 of a CSV import, SQLite
    python benchmarks/chaos.py --kills 3 --imports 2 --days 10
    python benchmarks/chaos.py --db-url postgresql+psycopg://postgres@127.0.0.1:5432/chaos

Each kill: start `mismartera system start CFG --wait` in a fresh process, wait until its run row
exists, `kill -9` it at a random moment of its replay, then check
  - the database: SQLite `PRAGMA integrity_check` and `foreign_key_check` (PostgreSQL: the run's rows
    are consistent: one daily row per completed day, every fill's order in the same run);
  - `system runs` shows the run `interrupted` (a kill after the run ended counts as `finished`);
  - `system start --resume RUN --wait` ends at the uninterrupted run's final equity to the cent, with
    its daily equity, orders and fills equal to the uninterrupted run's (a differing day is a row lost).
Each import kill: `kill -9` during `data import-file`; afterwards all of the file's rows or none are
stored, and importing again stores exactly the file's rows.
The table at the end says how many were recovered; the exit code is 1 if any was not.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:   # run as a file from anywhere: the checkout's package first
    sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, func, select, text  # noqa: E402

from mismartera.data.schema import daily_equity, fills, orders, runs  # noqa: E402

SYMBOLS = ["AAPL", "MSFT", "NVDA"]
FIRST_DAY = date(2024, 1, 2)
IMPORT_SYMBOL = "CHAOS"


@dataclass
class Outcome:
    what: str             # "backtest" or "import"
    killed_at: float      # seconds after start
    state: str            # the run's state after the kill (or "all"/"none" rows for an import)
    integrity_ok: bool
    recovered: bool       # resumed to the reference equity / re-import stored exactly the file
    rows_lost: int
    note: str = ""


class Home:
    """A private MISMARTERA_HOME (and database) the program runs in."""

    def __init__(self, path: Path, db_url: str | None) -> None:
        self.path = path
        self.db_url = db_url or f"sqlite:///{path / 'data' / 'mismartera.db'}"

    @property
    def sqlite_file(self) -> Path | None:
        return Path(self.db_url.removeprefix("sqlite:///")) if self.db_url.startswith("sqlite:///") else None

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ALPACA_", "MISMARTERA_"))}
        env.update({"MISMARTERA_HOME": str(self.path), "MISMARTERA_DB_URL": self.db_url, "NO_COLOR": "1",
                    "TERM": "dumb", "COLUMNS": "160", "PYTHONPATH": str(ROOT)})
        return env

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "mismartera", *args]

    def run(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        return subprocess.run(self.command(*args), capture_output=True, text=True, env=self.env(), cwd=ROOT,
                              timeout=timeout)

    def popen(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(self.command(*args), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env=self.env(), cwd=ROOT)

    def engine(self):
        return create_engine(self.db_url)


def seed(home: Home, days: int) -> Path:
    """Demo bars for SYMBOLS over `days` trading days, and a session config replaying them."""
    from mismartera.data.bar_store import BarStore
    from mismartera.data.database import Database
    from mismartera.data.demo import seed_demo
    from mismartera.timekeeping.calendar import TimeManager

    (home.path / "data").mkdir(parents=True, exist_ok=True)
    tm = TimeManager()
    db = Database(home.db_url)
    try:
        seed_demo(BarStore(db), tm, SYMBOLS, FIRST_DAY, days, 5)
    finally:
        db.dispose()
    last = tm.sessions(FIRST_DAY, FIRST_DAY + timedelta(days=days * 2))[days - 1].day
    config = {
        "session_name": "chaos",
        "backtest_config": {"start_date": FIRST_DAY.isoformat(), "end_date": last.isoformat(),
                            "speed_multiplier": 0},
        "session_data_config": {"symbols": SYMBOLS, "streams": ["1m", "5m", "15m"]},
        "strategies": [{"name": "sma_crossover", "params": {"fast": 5, "slow": 20, "quantity": 20}}],
        "trading_config": {"initial_cash": 100000, "commission_per_share": 0.005, "commission_min": 1.0,
                           "slippage_bps": 1},
    }
    path = home.path / "chaos.json"
    path.write_text(json.dumps(config))
    return path


def final_equity(result: subprocess.CompletedProcess) -> float:
    if result.returncode != 0:
        raise RuntimeError(f"mismartera exited {result.returncode}: {result.stderr.strip()[-500:]}")
    return float(json.loads(result.stdout)["summary"]["final_equity"])


def latest_run(home: Home) -> int:
    engine = home.engine()
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(func.coalesce(func.max(runs.c.id), 0))).scalar_one())
    except Exception:   # the schema is not there yet
        return 0
    finally:
        engine.dispose()


def run_rows(home: Home, run_id: int) -> tuple[list[tuple[date, float]], int, int]:
    """The run's daily equity (day, equity to the cent), its order count and fill count."""
    engine = home.engine()
    try:
        with engine.connect() as conn:
            days = [(row.day, round(row.equity, 2)) for row in conn.execute(
                select(daily_equity.c.day, daily_equity.c.equity).where(daily_equity.c.run_id == run_id)
                .order_by(daily_equity.c.day))]
            n_orders = conn.execute(select(func.count()).select_from(orders).where(orders.c.run_id == run_id)).scalar()
            n_fills = conn.execute(select(func.count()).select_from(fills).where(fills.c.run_id == run_id)).scalar()
    finally:
        engine.dispose()
    return days, int(n_orders), int(n_fills)


def integrity_ok(home: Home, run_id: int | None = None) -> bool:
    """SQLite: integrity and foreign keys; any database: the run's rows consistent with each other."""
    file = home.sqlite_file
    if file is not None:
        with sqlite3.connect(file) as conn:
            if conn.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                return False
            if conn.execute("PRAGMA foreign_key_check").fetchall():
                return False
    if run_id is None:
        return True
    engine = home.engine()
    try:
        with engine.connect() as conn:
            foreign = conn.execute(text(
                "SELECT count(*) FROM fills f JOIN orders o ON o.id = f.order_id WHERE f.run_id = :r "
                "AND o.run_id <> :r"), {"r": run_id}).scalar()
            orphans = conn.execute(text(
                "SELECT count(*) FROM fills f LEFT JOIN orders o ON o.id = f.order_id WHERE f.run_id = :r "
                "AND o.id IS NULL"), {"r": run_id}).scalar()
            row = conn.execute(select(runs.c.state, runs.c.days_done).where(runs.c.id == run_id)).one()
            stored = conn.execute(select(func.count()).select_from(daily_equity)
                                  .where(daily_equity.c.run_id == run_id)).scalar()
    finally:
        engine.dispose()
    return foreign == 0 and orphans == 0 and (row.state != "interrupted" or row.days_done == stored)


def kill_backtest(home: Home, config: Path, reference: int, duration: float, rng: random.Random,
                  attempts: int = 3) -> Outcome:
    """One kill -9 of a backtest, then its checks and its resume. A kill that came after the run had
    already finished tests nothing: it is tried again at an earlier moment (up to `attempts` times)."""
    for _ in range(attempts - 1):
        outcome = _kill_backtest(home, config, reference, duration, rng)
        if outcome.state != "finished":
            return outcome
        duration *= 0.7
    return _kill_backtest(home, config, reference, duration, rng)


def _kill_backtest(home: Home, config: Path, reference: int, duration: float, rng: random.Random) -> Outcome:
    before = latest_run(home)
    began = time.monotonic()
    proc = home.popen("system", "start", "--config", str(config), "--wait")
    while latest_run(home) <= before:   # the run row exists from here on
        if proc.poll() is not None:
            raise RuntimeError(f"the backtest ended (exit {proc.returncode}) before its run started")
        time.sleep(0.02)
    time.sleep(rng.uniform(0.0, duration))
    killed_at = time.monotonic() - began
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    run_id = latest_run(home)

    listed = home.run("system", "runs", "--json")
    state = next((r["state"] for r in json.loads(listed.stdout) if r["id"] == run_id), "?")
    ok = integrity_ok(home, run_id)
    note = ""
    if state == "interrupted":
        resumed = home.run("system", "start", "--resume", str(run_id), "--wait", "--json")
        try:
            final_equity(resumed)
        except RuntimeError as exc:
            note = str(exc)
    elif state != "finished":
        note = f"state {state} after kill -9 (expected interrupted)"
    want_days, want_orders, want_fills = run_rows(home, reference)
    days, n_orders, n_fills = run_rows(home, run_id)
    lost = len(set(want_days) - set(days)) + abs(want_orders - n_orders) + abs(want_fills - n_fills)
    recovered = not note and days == want_days and n_orders == want_orders and n_fills == want_fills
    if not recovered and not note:
        note = (f"days {len(days)}/{len(want_days)}, orders {n_orders}/{want_orders}, fills {n_fills}/{want_fills}, "
                f"final {days[-1][1] if days else None} vs {want_days[-1][1]}")
    return Outcome("backtest", killed_at, state, ok and integrity_ok(home, run_id), recovered, lost, note)


def reference_run(home: Home, config: Path) -> tuple[float, float]:
    """The uninterrupted run: its final equity, and the seconds from its run row's creation to its end."""
    before = latest_run(home)
    proc = subprocess.Popen(home.command("system", "start", "--config", str(config), "--wait", "--json"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=home.env(), cwd=ROOT)
    while latest_run(home) <= before and proc.poll() is None:
        time.sleep(0.02)
    began = time.monotonic()
    out, err = proc.communicate(timeout=600)
    duration = time.monotonic() - began
    return final_equity(subprocess.CompletedProcess(proc.args, proc.returncode, out, err)), duration


def write_csv(path: Path, rows: int) -> None:
    """`rows` 1-minute bars of IMPORT_SYMBOL on consecutive weekday sessions (UTC timestamps)."""
    lines = ["timestamp,open,high,low,close,volume"]
    day = date(2023, 1, 3)
    minute = 0
    price = 100.0
    for n in range(rows):
        if minute == 390:
            day += timedelta(days=3 if day.weekday() == 4 else 1)
            minute = 0
        hour, mins = divmod(14 * 60 + 30 + minute, 60)
        price = round(price + ((n * 7919) % 11 - 5) * 0.01, 2)
        lines.append(f"{day.isoformat()}T{hour:02d}:{mins:02d}:00Z,{price},{price + 0.05:.2f},{price - 0.05:.2f},"
                     f"{price},{1000 + n % 97}")
        minute += 1
    path.write_text("\n".join(lines) + "\n")


def stored_bars(home: Home) -> int:
    engine = home.engine()
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM bars WHERE symbol = :s"),
                                    {"s": IMPORT_SYMBOL}).scalar())
    finally:
        engine.dispose()


def delete_import(home: Home) -> None:
    engine = home.engine()
    try:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM bars WHERE symbol = :s"), {"s": IMPORT_SYMBOL})
    finally:
        engine.dispose()


def kill_import(home: Home, csv: Path, rows: int, duration: float, rng: random.Random) -> Outcome:
    """One kill -9 during `data import-file`: all or none of its rows, and a re-import stores them all."""
    delete_import(home)
    began = time.monotonic()
    proc = home.popen("data", "import-file", str(csv), IMPORT_SYMBOL, "--tz", "UTC")
    time.sleep(rng.uniform(0.2, duration))
    killed_at = time.monotonic() - began
    finished = proc.poll() is not None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    after = stored_bars(home)
    ok = integrity_ok(home)
    state = "all rows" if after == rows else "no rows" if after == 0 else f"{after} of {rows} rows"
    again = home.run("data", "import-file", str(csv), IMPORT_SYMBOL, "--tz", "UTC")
    final = stored_bars(home)
    note = "" if again.returncode == 0 else f"re-import exited {again.returncode}: {again.stderr.strip()[-300:]}"
    if finished:
        note = (note + "; " if note else "") + "the import had ended before the kill"
    return Outcome("import", killed_at, state, ok and after in (0, rows), final == rows and not again.returncode,
                   abs(rows - final), note)


def table(outcomes: list[Outcome]) -> str:
    lines = [f"{'#':>3}  {'what':8}  {'killed at':>9}  {'state after kill':18}  {'integrity':9}  {'recovered':9}  "
             f"{'rows lost':>9}  note"]
    for n, o in enumerate(outcomes, 1):
        lines.append(f"{n:>3}  {o.what:8}  {o.killed_at:8.2f}s  {o.state:18}  {'ok' if o.integrity_ok else 'FAIL':9}  "
                     f"{'equal' if o.recovered else 'NO':9}  {o.rows_lost:>9}  {o.note}")
    for what in ("backtest", "import"):
        some = [o for o in outcomes if o.what == what]
        if some:
            landed = (f", interrupted {sum(o.state == 'interrupted' for o in some)}" if what == "backtest" else
                      f", all rows {sum(o.state == 'all rows' for o in some)}, no rows "
                      f"{sum(o.state == 'no rows' for o in some)}")
            lines.append(f"{what}: kills {len(some)}{landed}, integrity ok {sum(o.integrity_ok for o in some)}, "
                         f"{'resumed equal' if what == 'backtest' else 're-import exact'} "
                         f"{sum(o.recovered for o in some)}, rows lost {sum(o.rows_lost for o in some)}")
    return "\n".join(lines)


def run_chaos(home: Home, kills: int, imports: int, days: int, seed_value: int,
              import_rows: int = 200_000, log=print) -> list[Outcome]:
    rng = random.Random(seed_value)
    config = seed(home, days)
    want, duration = reference_run(home, config)
    reference = latest_run(home)
    log(f"reference: run {reference}, {days} days, final equity {want:,.2f}, replayed in {duration:.1f}s")
    outcomes = []
    for n in range(kills):
        # Kills land within the replay's first 90%: a kill after the run ended would test nothing.
        outcome = kill_backtest(home, config, reference, max(0.1, duration * 0.9), rng)
        log(f"kill {n + 1}/{kills}: at {outcome.killed_at:.2f}s, {outcome.state}, "
            f"{'recovered' if outcome.recovered else 'NOT recovered'} {outcome.note}")
        outcomes.append(outcome)
    if imports:
        csv = home.path / "chaos.csv"
        write_csv(csv, import_rows)
        began = time.monotonic()
        home.run("data", "import-file", str(csv), IMPORT_SYMBOL, "--tz", "UTC")
        import_seconds = time.monotonic() - began
        log(f"import reference: {import_rows} rows in {import_seconds:.1f}s")
        for n in range(imports):
            outcome = kill_import(home, csv, import_rows, max(0.3, import_seconds * 0.9), rng)
            log(f"import kill {n + 1}/{imports}: at {outcome.killed_at:.2f}s, {outcome.state}, "
                f"{'exact' if outcome.recovered else 'NOT exact'} {outcome.note}")
            outcomes.append(outcome)
    return outcomes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20, help="kill -9 of a backtest, this many times")
    parser.add_argument("--imports", type=int, default=5, help="kill -9 of a CSV import, this many times")
    parser.add_argument("--days", type=int, default=60, help="trading days the backtest replays")
    parser.add_argument("--seed", type=int, default=14, help="the random kill moments' seed")
    parser.add_argument("--db-url", help="a database URL (an empty PostgreSQL database); default: a SQLite file")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="mismartera-chaos-") as tmp:
        outcomes = run_chaos(Home(Path(tmp), args.db_url), args.kills, args.imports, args.days, args.seed)
    print(table(outcomes))
    return 0 if all(o.integrity_ok and o.recovered and not o.rows_lost for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
