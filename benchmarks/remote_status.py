"""Cross-process `mismartera system status`: a one-shot command in a new process asking the session
of a `mismartera serve` host through its control API, against the target (<= 300 ms wall, start-up
included) and two references measured alongside, in turn:

- `mismartera --version` (the interpreter and the package, no CLI);
- `mismartera config show` (the floor of any one-shot command: the interpreter, rich, the registry);
- `mismartera system status` in a data home with no session owner (what a second terminal did
  before the control API: read its own, stopped, manager).

    PYTHONPATH=. python benchmarks/remote_status.py [--runs 20]

The host replays config/example_session.json at 60x real time on seeded demo bars, so the status
is of a session that is running. Medians are printed, with the worst run and the ratios.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from mismartera.data.bar_store import BarStore
from mismartera.data.database import Database
from mismartera.data.demo import seed_demo
from mismartera.timekeeping.calendar import TimeManager

ROOT = Path(__file__).resolve().parents[1]
TARGET_MS = 300.0


def environment(home: Path) -> dict[str, str]:
    """The program as installed: byte-code cached (under the temporary folder, whatever
    PYTHONDONTWRITEBYTECODE says here), a private data home."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ALPACA_", "MISMARTERA_")) and k != "PYTHONDONTWRITEBYTECODE"}
    env.update({"MISMARTERA_HOME": str(home), "COLUMNS": "120", "NO_COLOR": "1", "TERM": "dumb",
                "PYTHONPATH": str(ROOT), "PYTHONPYCACHEPREFIX": str(home.parent / "pycache")})
    return env


def seed(home: Path) -> None:
    (home / "data").mkdir(parents=True, exist_ok=True)
    db = Database(f"sqlite:///{home / 'data' / 'mismartera.db'}")
    try:
        seed_demo(BarStore(db), TimeManager(), ["AAPL", "MSFT"], date(2024, 11, 25), 4, 7)
    finally:
        db.dispose()


def timed(env: dict[str, str], *args: str, expect: str = "") -> float:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "mismartera", *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, check=False)
    elapsed = (time.perf_counter() - started) * 1000
    if done.returncode != 0 or expect not in done.stdout:
        raise SystemExit(f"mismartera {' '.join(args)} failed (exit {done.returncode}):\n{done.stdout}{done.stderr}")
    return elapsed


def summary(label: str, values: list[float]) -> str:
    return f"{label:<40}: median {statistics.median(values):6.1f} ms, worst {max(values):6.1f} ms"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="mm-remote-") as tmp:
        owned, alone = Path(tmp) / "owned", Path(tmp) / "alone"
        seed(owned)
        alone.mkdir()
        host = subprocess.Popen([sys.executable, "-m", "mismartera", "serve", "config/example_session.json",
                                 "--speed", "60"], env=environment(owned), cwd=ROOT, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True)
        try:
            assert host.stdout is not None
            first = host.stdout.readline()
            if "control API at" not in first:
                raise SystemExit(f"the serve host did not start: {first!r}")
            running = f"in pid {host.pid} (serve)"
            owned_env, alone_env = environment(owned), environment(alone)
            deadline = time.monotonic() + 120
            while "running" not in subprocess.run([sys.executable, "-m", "mismartera", "system", "status"],
                                                  env=owned_env, cwd=ROOT, capture_output=True, text=True).stdout:
                if time.monotonic() > deadline:
                    raise SystemExit("the serve host's session did not reach running within 120 s")
                time.sleep(0.5)
            for _ in range(2):   # warm the byte-code, the file cache and the host's first request
                timed(owned_env, "system", "status", expect=running)
                timed(alone_env, "system", "status", expect="stopped")
                timed(alone_env, "--version")
            remote, local, version, floor = [], [], [], []
            for _ in range(args.runs):
                remote.append(timed(owned_env, "system", "status", expect=running))
                local.append(timed(alone_env, "system", "status", expect="stopped"))
                version.append(timed(alone_env, "--version"))
                floor.append(timed(alone_env, "config", "show", expect="state_dir"))
        finally:
            host.terminate()
            host.wait(30)
    median = statistics.median(remote)
    print(f"{args.runs} runs each, in turn")
    print(summary("system status, through a serve host's API", remote)
          + f" (target <= {TARGET_MS:.0f} ms) {'ok' if median <= TARGET_MS else 'SLOW'}")
    print(summary("system status, no owner (local, stopped)", local))
    print(summary("config show (any one-shot command)", floor))
    print(summary("--version (start-up alone)", version))
    print(f"ratios: through the API / no owner {median / statistics.median(local):.2f}x, "
          f"through the API / config show {median / statistics.median(floor):.2f}x, "
          f"through the API / --version {median / statistics.median(version):.2f}x")
    return 0 if median <= TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
