"""Backtest throughput of the full engine: prints bars/s end to end (target >= 460,000), load and run
time, peak RSS (target <= 150 MB) and the final equity.

    python benchmarks/backtest_throughput.py [--symbols 10] [--days 250] [--streams 1m]

It seeds demo 1-minute bars (10 symbols x 250 trading days = 975,000 bars) into a fresh SQLite file,
then runs SMA(10/30) crossover through `SystemManager` at speed 0 — prefetch, upkeep, coordinator,
simulated broker, recorder — exactly as `system start --wait` does. "End to end" is from `start`
to the stored report. Seeding runs in a child process, so neither its time nor its memory is
counted in the figures.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date

from mismartera.commands.context import AppContext
from mismartera.config.session import parse_session_config
from mismartera.config.settings import load_settings
from mismartera.data.demo import seed_demo

START = date(2023, 1, 3)


def seed(home: str, symbols: list[str], days: int) -> None:
    ctx = AppContext(load_settings({"MISMARTERA_HOME": home}))
    summary = seed_demo(ctx.bars, ctx.time, symbols, START, days, seed=1)
    ctx.close()
    print(json.dumps({"first": summary.first_day.isoformat(), "last": summary.last_day.isoformat(),
                      "days": summary.days}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=10)
    parser.add_argument("--days", type=int, default=250)
    parser.add_argument("--streams", default="1m", help="comma-separated streams, e.g. 1m,5m,15m")
    parser.add_argument("--seed-into", help=argparse.SUPPRESS)  # the child process that seeds
    args = parser.parse_args(argv)
    symbols = [f"S{n:02d}" for n in range(args.symbols)]
    if args.seed_into:
        seed(args.seed_into, symbols, args.days)
        return 0
    with tempfile.TemporaryDirectory(prefix="mm-bench-") as home:
        began = time.perf_counter()
        child = subprocess.run([sys.executable, __file__, "--symbols", str(args.symbols), "--days", str(args.days),
                                "--seed-into", home], capture_output=True, text=True, check=True)
        seeded = json.loads(child.stdout)
        seed_seconds = time.perf_counter() - began
        ctx = AppContext(load_settings({"MISMARTERA_HOME": home}))
        config = parse_session_config({
            "session_name": "throughput",
            "backtest_config": {"start_date": seeded["first"], "end_date": seeded["last"],
                                "speed_multiplier": 0, "prefetch_days": 2},
            "session_data_config": {"symbols": symbols, "streams": args.streams.split(",")},
            "strategies": [{"name": "sma_crossover", "params": {"fast": 10, "slow": 30, "quantity": 10}}],
            "trading_config": {"initial_cash": 1_000_000, "commission_per_share": 0.005, "commission_min": 1.0},
        })
        began = time.perf_counter()
        ctx.system.start(config)
        started = time.perf_counter()
        status = ctx.system.wait()
        ended = time.perf_counter()
        run = ctx.system.history().run(status.run_id)
        coordinator = ctx.system.coordinator
        ctx.close()
    total = ended - began
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if sys.platform == "darwin":
        peak_mb /= 1024
    bars = status.bars_done
    print(f"bars:               {bars:,} ({args.symbols} symbols x {seeded['days']} days, streams {args.streams})")
    print(f"seed (not counted): {seed_seconds:.2f} s")
    print(f"start (load):       {started - began:.3f} s (calendar, strategies, runs row, threads)")
    print(f"replay:             {coordinator.run_seconds:.2f} s ({bars / coordinator.run_seconds:,.0f} bars/s)")
    print(f"end to end:         {total:.2f} s  ->  {bars / total:,.0f} bars/s (target >= 460,000)")
    print(f"peak RSS:           {peak_mb:.0f} MB (target <= 150)")
    print(f"final equity:       {run.summary['final_equity']:,.2f} ({run.summary['trades']} round trips)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
