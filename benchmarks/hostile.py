"""The slow hostile cases of issue 15, run by hand; prints a table: case, result, seconds, rows lost.

    python benchmarks/hostile.py [--rows 2000000] [--postgres URL] [--only NAME ...]

Cases (each in fresh temporary homes, through the real `python -m mismartera`):

- two-imports        two imports of ROWS rows each into one SQLite database at once: both complete
- import-beside-run  a ROWS-row import while a backtest runs on the same SQLite database: both complete
- import-memory      peak RSS of importing a ~100 MB CSV (must stay <= 200 MB), and its rows/s
- kill-9-import      an import killed mid-file leaves nothing; the re-import stores every row
- disk-full          an import into a 5 MB tmpfs home: one line, non-zero exit, earlier bars intact
                     (needs root and a kernel that lets it mount tmpfs; skipped with the reason otherwise)
- frozen-postgres    with every server process stopped (SIGSTOP): a running session fails within 30 s,
                     `db info` answers within 10 s, SIGTERM ends `system start --wait` within 15 s
                     (needs --postgres or MISMARTERA_TEST_DATABASE_URL, a superuser URL on this machine)

"rows lost" counts rows the file held that the database does not (0 is the only good answer).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEADER = "Date,Time,Open,High,Low,Close,Volume\n"


@dataclass
class Outcome:
    case: str
    result: str
    seconds: float
    lost: int | str = 0


def write_csv(path: Path, rows: int, first: date = date(2001, 1, 2)) -> int:
    """`rows` one-minute bars, 390 a weekday from `first`, in the Date,Time layout."""
    minutes = [f"{9 + (30 + m) // 60:02d}:{(30 + m) % 60:02d}" for m in range(390)]
    written = 0
    day = first
    with path.open("w", encoding="utf-8") as handle:
        handle.write(HEADER)
        while written < rows:
            if day.weekday() < 5:
                stamp = day.isoformat()
                count = min(390, rows - written)
                handle.write("".join(f"{stamp},{minutes[m]},100.5,101.25,99.75,100.125,{1000 + m}\n"
                                     for m in range(count)))
                written += count
            day += timedelta(days=1)
    return written


def cli(home: Path, *args: str, env: dict[str, str] | None = None, **popen: object) -> subprocess.Popen:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("MISMARTERA_", "ALPACA_"))}
    full.update({"MISMARTERA_HOME": str(home), "PYTHONPATH": str(ROOT), "NO_COLOR": "1", "COLUMNS": "120"})
    full.update(env or {})
    return subprocess.Popen([sys.executable, "-m", "mismartera", *args], cwd=ROOT, env=full, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **popen)  # type: ignore[call-overload]


def run(home: Path, *args: str, timeout: float = 600, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    proc = cli(home, *args, env=env)
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def stored(home: Path, symbol: str) -> int:
    with contextlib.closing(sqlite3.connect(home / "data" / "mismartera.db")) as conn:
        return conn.execute("SELECT count(*) FROM bars WHERE symbol = ?", (symbol,)).fetchone()[0]


def session_config(folder: Path, start: date, end: date, name: str = "hostile", speed: float = 0) -> Path:
    path = folder / f"{name}.json"
    path.write_text(json.dumps({
        "session_name": name, "mode": "backtest",
        "backtest_config": {"start_date": start.isoformat(), "end_date": end.isoformat(), "speed_multiplier": speed,
                            "prefetch_days": 1},
        "session_data_config": {"symbols": ["AAPL"], "streams": ["1m"]},
        "strategies": [{"name": "sma_crossover", "params": {"fast": 5, "slow": 20, "quantity": 10}}],
    }))
    return path


def first_line(err: str) -> str:
    """The error line of a command's stderr (progress lines skipped), cut for the table."""
    lines = [line for line in err.strip().splitlines() if line.startswith(("Error", "warning", "line "))]
    return (lines or err.strip().splitlines() or [""])[0][:150]


# ---------------------------------------------------------------------------------------------- the cases
def two_imports(work: Path, big: Path, rows: int) -> Outcome:
    home = work / "two"
    started = time.perf_counter()
    procs = [cli(home, "data", "import-file", str(big), symbol) for symbol in ("BIGA", "BIGB")]
    results = [p.communicate(timeout=1200) for p in procs]
    seconds = time.perf_counter() - started
    codes = [p.returncode for p in procs]
    lost = sum(rows - stored(home, s) for s in ("BIGA", "BIGB"))
    ok = codes == [0, 0] and lost == 0
    detail = "both completed" if ok else f"exit {codes}: " + "; ".join(first_line(e) for _, e in results)
    return Outcome(f"two {rows:,}-row imports at once", detail, seconds, lost)


def import_beside_run(work: Path, big: Path, rows: int) -> Outcome:
    home = work / "beside"
    code, _, err = run(home, "data", "demo", "--symbols", "AAPL", "--start", "2024-06-03", "--days", "80")
    if code:
        return Outcome("import beside a backtest", f"demo failed: {first_line(err)}", 0.0, "-")
    config = session_config(work, date(2024, 6, 3), date(2024, 9, 20))
    started = time.perf_counter()
    importing = cli(home, "data", "import-file", str(big), "BIG")
    time.sleep(1.0)
    backtest = cli(home, "system", "start", str(config), "--wait", "--json")
    _, import_err = importing.communicate(timeout=1200)
    _, run_err = backtest.communicate(timeout=1200)
    seconds = time.perf_counter() - started
    lost = rows - stored(home, "BIG")
    ok = importing.returncode == 0 and backtest.returncode == 0 and lost == 0
    detail = ("both completed" if ok else
              f"import exit {importing.returncode} ({first_line(import_err)}), backtest exit "
              f"{backtest.returncode} ({first_line(run_err)})")
    return Outcome("import beside a backtest (SQLite)", detail, seconds, lost)


MEMORY_CHILD = """
import sys, time
from pathlib import Path
sys.path.insert(0, {root!r}); sys.path.insert(0, {bench!r})
from _peak_memory import peak_rss_mb
from mismartera.data.bar_store import BarStore
from mismartera.data.csv_import import import_file
from mismartera.data.database import Database
from mismartera.timekeeping.calendar import TimeManager
db = Database("sqlite:///" + {db!r})
db.ensure_schema()
tm = TimeManager(cache_path=Path({cache!r}))   # as the CLI does: the session table from its cache file
tm.preload()
base = peak_rss_mb()
summary = import_file(BarStore(db), tm, Path({csv!r}), "MEM")
print(summary.imported, round(summary.rate), round(base), round(peak_rss_mb()))
"""


def import_memory(work: Path, big: Path, rows: int) -> Outcome:
    size_mb = big.stat().st_size / 1e6
    cache = work / "sessions.json"
    warm = MEMORY_CHILD.split("base = ")[0].format(root=str(ROOT), bench=str(ROOT / "benchmarks"),
                                                   db=str(work / "warm.db"), csv=str(big), cache=str(cache))
    subprocess.run([sys.executable, "-c", warm], check=True, timeout=300)   # writes the session cache
    child = MEMORY_CHILD.format(root=str(ROOT), bench=str(ROOT / "benchmarks"), db=str(work / "memory.db"),
                                csv=str(big), cache=str(cache))
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=1200)
    seconds = time.perf_counter() - started
    if done.returncode:
        return Outcome(f"import a {size_mb:.0f} MB CSV", f"failed: {first_line(done.stderr)}", seconds, "-")
    imported, rate, base, peak = (int(x) for x in done.stdout.split())
    verdict = "ok" if peak <= 200 else "OVER 200 MB"
    return Outcome(f"import a {size_mb:.0f} MB CSV: peak RSS",
                   f"{peak} MB peak ({base} MB before the file), {rate:,} rows/s: {verdict}", seconds,
                   rows - imported)


def kill_9_import(work: Path, big: Path, rows: int) -> Outcome:
    home = work / "kill"
    started = time.perf_counter()
    proc = cli(home, "data", "import-file", str(big), "KILL")
    note = home / "data" / "mismartera.db.writers" / str(proc.pid)
    deadline = time.monotonic() + 120
    while not note.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)  # well into the file (a 2M-row import takes several seconds)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    after_kill = stored(home, "KILL") if (home / "data" / "mismartera.db").exists() else 0
    code, _, err = run(home, "data", "import-file", str(big), "KILL")
    seconds = time.perf_counter() - started
    lost = rows - stored(home, "KILL")
    ok = after_kill == 0 and code == 0 and lost == 0
    return Outcome("kill -9 mid-import, then re-import",
                   f"{after_kill} rows after the kill, re-import exit {code}" + ("" if ok else f": {first_line(err)}"),
                   seconds, lost)


@contextlib.contextmanager
def tmpfs(folder: Path, size: str) -> Iterator[str | None]:
    """A tmpfs of `size` at `folder`; yields None when mounted, else why not."""
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or not shutil.which("mount"):
        yield "needs root and mount"
        return
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                          capture_output=True, text=True)
    if done.returncode:
        yield f"cannot mount tmpfs here ({first_line(done.stderr)})"
        return
    try:
        yield None
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def disk_full(work: Path, big: Path, rows: int) -> Outcome:
    home = work / "full"
    with tmpfs(home, "5m") as problem:
        if problem:
            return Outcome("disk full (5 MB tmpfs home)", f"skipped: {problem}", 0.0, "-")
        code, _, err = run(home, "data", "demo", "--symbols", "AAPL", "--start", "2024-11-01", "--days", "5")
        before = stored(home, "AAPL") if code == 0 else -1
        small = work / "medium.csv"
        expected = write_csv(small, 200_000)   # ~9 MB of bars: more than the tmpfs holds
        started = time.perf_counter()
        code, _, err = run(home, "data", "import-file", str(small), "FULL",
                             env={"MISMARTERA_LOG_LEVEL": "DEBUG"})
        seconds = time.perf_counter() - started
        intact = stored(home, "AAPL") == before and stored(home, "FULL") in (0, expected)
        lines = [line for line in err.splitlines() if line.strip()]
        noisy = "Traceback" in err or "Logging error" in err or "[SQL:" in err
        good = code != 0 and intact and not noisy and len(lines) <= 2
        detail = (f"exit {code}, {len(lines)} stderr line(s): {first_line(err)}" if good else
                  f"exit {code}, intact {intact}, noisy {noisy}, {len(lines)} stderr lines: {first_line(err)}")
        lost = 0 if intact else "bars changed"
        return Outcome("disk full (5 MB tmpfs home)", detail, seconds, lost)


def frozen_postgres(work: Path, big: Path, rows: int, url: str | None) -> list[Outcome]:
    if not url:
        return [Outcome("frozen PostgreSQL", "skipped: no --postgres URL (or MISMARTERA_TEST_DATABASE_URL)", 0, "-")]
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        data_dir = conn.execute(text("SHOW data_directory")).scalar_one()
    engine.dispose()
    postmaster = int((Path(data_dir) / "postmaster.pid").read_text().split()[0])
    home = work / "pg"
    env = {"MISMARTERA_DB_URL": url}
    code, _, err = run(home, "data", "demo", "--symbols", "AAPL", "--start", "2024-06-03", "--days", "60", env=env)
    if code:
        return [Outcome("frozen PostgreSQL", f"demo failed: {first_line(err)}", 0, "-")]
    # paced (a 390-minute day in about 5 s), so the session is mid-run when the server freezes and
    # touches the database again at the next day's end
    config = session_config(work, date(2024, 6, 3), date(2024, 8, 27), "frozen", speed=5000)

    def freeze(sig: int) -> None:
        children = subprocess.run(["pgrep", "-P", str(postmaster)], capture_output=True, text=True).stdout.split()
        for pid in [postmaster, *map(int, children)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    outcomes = []
    session = cli(home, "system", "start", str(config), "--wait", env={**env, "MISMARTERA_LOG_LEVEL": "INFO"})
    time.sleep(3.0)
    freeze(signal.SIGSTOP)
    try:
        started = time.perf_counter()
        try:
            _, session_err = session.communicate(timeout=60)
            seconds = time.perf_counter() - started
            verdict = "ok" if seconds <= 30 and session.returncode else "TOO SLOW"
            outcomes.append(Outcome("frozen PostgreSQL: running session fails",
                                    f"exit {session.returncode} {verdict}: {first_line(session_err)}", seconds, "-"))
        except subprocess.TimeoutExpired:
            session.kill()
            session.communicate()
            outcomes.append(Outcome("frozen PostgreSQL: running session fails", "HUNG past 60 s", 60.0, "-"))
        started = time.perf_counter()
        code, _, err = run(home, "db", "info", env=env, timeout=60)
        seconds = time.perf_counter() - started
        verdict = "ok" if seconds <= 10 else "TOO SLOW"
        outcomes.append(Outcome("frozen PostgreSQL: db info answers", f"exit {code} {verdict}: {first_line(err)}",
                                seconds, "-"))
        freeze(signal.SIGCONT)
        # A session blocked on the frozen server (its day ended: it is writing and reading), then SIGTERM.
        waiting = cli(home, "system", "start", str(config), "--wait", env=env)
        time.sleep(3.0)
        freeze(signal.SIGSTOP)
        time.sleep(8.0)
        started = time.perf_counter()
        waiting.send_signal(signal.SIGTERM)
        try:
            _, err = waiting.communicate(timeout=60)
            seconds = time.perf_counter() - started
            outcomes.append(Outcome("frozen PostgreSQL: SIGTERM ends system start --wait",
                                    f"exit {waiting.returncode} {'ok' if seconds <= 15 else 'TOO SLOW'}: "
                                    f"{first_line(err)}", seconds, "-"))
        except subprocess.TimeoutExpired:
            waiting.kill()
            waiting.communicate()
            outcomes.append(Outcome("frozen PostgreSQL: SIGTERM ends system start --wait", "HUNG past 60 s", 60, "-"))
    finally:
        freeze(signal.SIGCONT)
    return outcomes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--postgres", default=os.environ.get("MISMARTERA_TEST_DATABASE_URL"))
    parser.add_argument("--only", nargs="*", default=None)
    args = parser.parse_args()
    cases: dict[str, Callable[[Path, Path, int], Outcome | list[Outcome]]] = {
        "two-imports": two_imports, "import-beside-run": import_beside_run, "import-memory": import_memory,
        "kill-9-import": kill_9_import, "disk-full": disk_full,
        "frozen-postgres": lambda w, b, r: frozen_postgres(w, b, r, args.postgres),
    }
    chosen = args.only or list(cases)
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="mismartera-hostile-") as folder:
        work = Path(folder)
        big = work / "big.csv"
        rows = write_csv(big, args.rows)
        print(f"{big.stat().st_size / 1e6:.0f} MB CSV of {rows:,} rows written", file=sys.stderr)
        for name in chosen:
            print(f"running {name} …", file=sys.stderr)
            found = cases[name](work, big, rows)
            outcomes.extend(found if isinstance(found, list) else [found])
    width = max(len(o.case) for o in outcomes)
    print(f"{'case':<{width}}  {'seconds':>8}  {'rows lost':>9}  result")
    for o in outcomes:
        print(f"{o.case:<{width}}  {o.seconds:>8.1f}  {o.lost!s:>9}  {o.result}")


if __name__ == "__main__":
    main()
