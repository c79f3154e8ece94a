"""Keystroke echo latency at the `system@mismartera>` prompt, idle and while a speed-0 backtest runs
in the same process — the shell must stay usable while the engine works flat out.

    python benchmarks/responsiveness.py [--symbols 20] [--days 250] [--keys 100]

The real program runs in a pseudo-terminal. One key is sent at a time and the clock stops when the
terminal receives its echo; then a backspace clears it. After the keys under load, `system status`
must still say `running` (else the figures would mix in idle time and the run fails); p50, p99 and
the worst are printed in ms.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import pexpect

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# Never part of the toolbar or the prompt, so an echo is unambiguous. Two keys taken in turn: under
# load a backspace and the next key can land in one redraw, and the same key again would then leave
# the screen unchanged, with nothing echoed.
KEYS = ("~", "^")
PROMPT = "system@mismartera>"
START = date(2024, 1, 2)


def seed(home: str, symbols: list[str], days: int) -> tuple[str, str]:
    from mismartera.commands.context import AppContext
    from mismartera.config.settings import load_settings
    from mismartera.data.demo import seed_demo

    ctx = AppContext(load_settings({"MISMARTERA_HOME": home}))
    try:
        summary = seed_demo(ctx.bars, ctx.time, symbols, START, days, seed=3)
    finally:
        ctx.close()
    return summary.first_day.isoformat(), summary.last_day.isoformat()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


class Shell:
    def __init__(self, home: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ALPACA_", "MISMARTERA_"))}
        env.update({"MISMARTERA_HOME": home, "PROMPT_TOOLKIT_NO_CPR": "1", "TERM": "xterm", "LINES": "30",
                    "COLUMNS": "120"})
        self.child = pexpect.spawn(sys.executable, ["-m", "mismartera"], env=env, dimensions=(30, 120),
                                   encoding="utf-8", codec_errors="replace", timeout=60)
        self.child.delaybeforesend = None  # pexpect waits 50 ms before each send by default
        self.child.expect_exact(PROMPT)
        self.seen = ""
        self.sent = 0

    def drain(self, wait: float = 0.05) -> str:
        chunks = []
        while True:
            try:
                chunks.append(self.child.read_nonblocking(65536, timeout=wait))
            except pexpect.TIMEOUT:
                break
            wait = 0.0
        text = "".join(chunks)
        self.seen = (self.seen + text)[-4000:]
        return text

    def echo_latency(self) -> float:
        """Seconds from sending one key to receiving its echo."""
        self.drain(0.0)
        self.sent += 1
        key = KEYS[self.sent % len(KEYS)]
        started = time.perf_counter()
        self.child.send(key)
        received, deadline = "", started + 10
        while key not in received:
            if time.perf_counter() > deadline:
                raise RuntimeError(f"no echo of {key!r} within 10 s; the terminal got: {received[-300:]!r}")
            received += self.child.read_nonblocking(65536, timeout=5)
        elapsed = time.perf_counter() - started
        self.seen = (self.seen + received)[-4000:]
        self.child.send("\x7f")
        return elapsed

    def state(self) -> str:
        """The session's state, asked at the prompt."""
        self.drain()
        self.child.sendline("system status --json")
        received, deadline = "", time.monotonic() + 30
        while time.monotonic() < deadline:
            received += self.drain(0.2)
            found = re.search(r'"state":\s*"(\w+)"', ANSI.sub("", received))
            if found:
                return found.group(1)
        return "unknown"

    def close(self) -> None:
        self.child.sendcontrol("c")
        self.child.sendline("system stop")
        time.sleep(0.5)
        self.child.close(force=True)


def measure(shell: Shell, keys: int) -> list[float]:
    samples: list[float] = []
    for _ in range(keys):
        samples.append(shell.echo_latency() * 1000)
        time.sleep(0.02)  # a fast typist: ~50 keys/s at most
    return samples


def report(name: str, samples: list[float]) -> None:
    if not samples:
        print(f"{name}: no samples")
        return
    print(f"{name}: {len(samples):4d} keys  p50 {statistics.median(samples):6.1f} ms  "
          f"p99 {percentile(samples, 0.99):6.1f} ms  worst {max(samples):6.1f} ms")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=20)
    parser.add_argument("--days", type=int, default=250)
    parser.add_argument("--keys", type=int, default=100)
    args = parser.parse_args(argv)
    symbols = [f"S{n:02d}" for n in range(args.symbols)]
    with tempfile.TemporaryDirectory(prefix="mm-resp-") as home:
        first, last = seed(home, symbols, args.days)
        config = Path(home) / "load.json"
        config.write_text(json.dumps({
            "session_name": "load", "mode": "backtest",
            "backtest_config": {"start_date": first, "end_date": last, "speed_multiplier": 0, "prefetch_days": 2},
            "session_data_config": {"symbols": symbols, "streams": ["1m", "5m"]},
            "strategies": [{"name": "sma_crossover", "params": {"fast": 10, "slow": 30, "quantity": 10}}],
            "trading_config": {"initial_cash": 1_000_000, "commission_per_share": 0.005, "commission_min": 1.0},
        }))
        shell = Shell(home)
        try:
            time.sleep(1.5)  # let the background warm-up (calendar, completion cache) finish
            idle = measure(shell, max(20, args.keys // 4))
            shell.child.sendline(f"system start {config}")
            shell.child.expect_exact("started", timeout=120)
            shell.child.expect_exact(PROMPT)
            began = time.perf_counter()
            loaded = measure(shell, args.keys)
            during = time.perf_counter() - began
            state = shell.state()
        finally:
            shell.close()
    print(f"backtest: {args.symbols} symbols x {args.days} days at speed 0; keys measured over {during:.1f} s; "
          f"session {state} at the end of the measurement")
    report("idle        ", idle)
    report("under load  ", loaded)
    if state != "running":
        print("the backtest ended before the last key: raise --days or --symbols, or lower --keys")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
