"""Start-up speed of the shell: `mismartera --version` and time-to-prompt, against the targets
(<= 150 ms and <= 400 ms on this machine), plus the heavy modules loaded before the prompt.

    python benchmarks/startup.py [--runs 7]

`--version` is timed as a subprocess to exit. Time-to-prompt runs the real program in a pseudo-
terminal (as a person would) and stops the clock when `system@mismartera>` is on the screen; the
program runs under `-X importtime` with its stderr sent to a file, which tells what was imported
before that moment (pandas, exchange_calendars and alpaca must not be: they load in the background
after the prompt; FastAPI and uvicorn load only when a session's control API starts). Medians are
printed, with the worst run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pexpect

TARGET_VERSION_MS = 150.0
TARGET_PROMPT_MS = 400.0
HEAVY = ("pandas", "exchange_calendars", "alpaca", "fastapi", "uvicorn")
PROMPT = "system@mismartera>"


def environment(home: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALPACA_", "MISMARTERA_"))}
    env.update({"MISMARTERA_HOME": home, "PROMPT_TOOLKIT_NO_CPR": "1", "TERM": "xterm", "LINES": "30",
                "COLUMNS": "120"})
    return env


def time_version(env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "mismartera", "--version"], env=env, check=True, capture_output=True)
    return (time.perf_counter() - started) * 1000


def time_prompt(env: dict[str, str], imports_log: Path | None = None) -> tuple[float, list[str]]:
    """Milliseconds until the prompt is drawn; with `imports_log`, the run is made under
    `-X importtime` (slower, not for timing) to list the heavy modules imported by then."""
    trace = f"-X importtime -m mismartera 2>{imports_log}" if imports_log else "-m mismartera"
    started = time.perf_counter()
    child = pexpect.spawn("/bin/sh", ["-c", f"exec {sys.executable} {trace}"], env=env, dimensions=(30, 120),
                          encoding="utf-8", codec_errors="replace", timeout=30)
    try:
        child.expect_exact(PROMPT)
        elapsed = (time.perf_counter() - started) * 1000
        imported = imports_log.read_text(errors="replace") if imports_log else ""
        child.sendcontrol("d")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    names = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in imported.splitlines() if "|" in line}
    return elapsed, sorted(names & set(HEAVY))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as home:
        env = environment(home)
        time_version(env)  # warm the file cache and byte-code once
        versions = [time_version(env) for _ in range(args.runs)]
        _, heavy_seen = time_prompt(env, Path(home) / "imports.txt")  # also creates the state folder
        prompts = [time_prompt(env)[0] for _ in range(args.runs)]
    version_ms, prompt_ms = statistics.median(versions), statistics.median(prompts)
    print(f"mismartera --version : median {version_ms:6.1f} ms, worst {max(versions):6.1f} ms "
          f"(target <= {TARGET_VERSION_MS:.0f} ms) {'ok' if version_ms <= TARGET_VERSION_MS else 'SLOW'}")
    print(f"time to prompt       : median {prompt_ms:6.1f} ms, worst {max(prompts):6.1f} ms "
          f"(target <= {TARGET_PROMPT_MS:.0f} ms) {'ok' if prompt_ms <= TARGET_PROMPT_MS else 'SLOW'}")
    print(f"heavy modules before the prompt: {', '.join(heavy_seen) or 'none'} "
          f"(checked: {', '.join(HEAVY)})")
    ok = version_ms <= TARGET_VERSION_MS and prompt_ms <= TARGET_PROMPT_MS and not heavy_seen
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
