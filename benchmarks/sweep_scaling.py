"""Sweep scaling: one 24-point grid of `sma_crossover`, on 1 worker, on all cores, on a local Ray instance,
and with backtrader's `optstrategy` (maxcpus = all cores) as the peer, in one command.

    python benchmarks/sweep_scaling.py [--days 60] [--symbols 5] [--seed 1] [--skip-ray] [--json]

1. Seeded 1-minute bars for SYMBOLS x DAYS trading days (the generator of compare.py) are written
   once to a fresh SQLite database and to one CSV per symbol for the peer (not timed).
2. The grid: fast in 5, 10, 15, 20 x slow in 30, 40, 50, 60, 75, 90 (24 points), 100 shares,
   long-only, cash 100,000, no costs, next-open market fills: compare.py's reference rules.
3. mismartera runs it through `SweepRunner` (each point a full backtest through SystemManager, every
   run written to the database by the parent): the local engine with 1 worker, the local engine with
   every core, and Ray on a local instance started and shut down inside the timing.
4. backtrader runs the same grid with `optstrategy`, the CSVs read (with pandas, into `PandasData`
   feeds: optstrategy pickles its cerebro for each worker, and the CSV feed's epoch parser cannot be
   pickled) inside the timing, as mismartera reads its database inside its own.

Wall times are end to end (from the call to the last result in hand; Ray's includes starting it,
also shown apart). Speed-up and efficiency are against the 1-worker run; the peer ratio is
backtrader's wall time over each run's. CPU seconds (this process and its finished children) show
the work done whatever else the machine is running; Ray's workers are not our children.
Every point's final equity must agree between the mismartera runs exactly, and with backtrader to a
cent (the exit status is 1 otherwise).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _seeded_bars as seeded
import backtrader as bt
import pandas as pd
from _backtrader_run import SmaCrossover

from mismartera.commands.context import AppContext
from mismartera.config.session import parse_session_config
from mismartera.config.settings import load_settings
from mismartera.sweep.ray_engine import RayEngine
from mismartera.sweep.runner import SweepRunner
from mismartera.sweep.store import SweepStore

FASTS = (5, 10, 15, 20)
SLOWS = (30, 40, 50, 60, 75, 90)
QUANTITY, CASH = 100, 100_000
EQUITY_TOLERANCE = 0.01


def session_config(first: str, last: str, symbols: list[str]) -> dict:
    return {
        "session_name": "sweep-scaling",
        "backtest_config": {"start_date": first, "end_date": last, "speed_multiplier": 0},
        "session_data_config": {"symbols": symbols, "streams": ["1m"]},
        "strategies": [{"name": "sma_crossover", "params": {"fast": 10, "slow": 30, "quantity": QUANTITY}}],
        "trading_config": {"initial_cash": CASH, "commission_per_share": 0, "commission_min": 0,
                           "slippage_bps": 0, "allow_short": False},
    }


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (the local pool's workers, backtrader's)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def mismartera_sweep(ctx: AppContext, config: Any, engine: str, workers: int | None) -> tuple[float, dict, dict]:
    """Wall seconds of one sweep, each point's final equity by (fast, slow), and extra figures: the
    CPU seconds (local engine), or Ray's start-up seconds (timed apart, inside the wall time)."""
    params = [f"fast={','.join(map(str, FASTS))}", f"slow={','.join(map(str, SLOWS))}"]
    extra: dict = {}
    began, cpu = time.perf_counter(), cpu_seconds()
    ray_engine = None
    if engine == "ray":
        ray_engine = RayEngine(workers)
        ray_engine.open()   # the sweep below finds Ray started and uses it
        extra["startup"] = time.perf_counter() - began
    try:
        outcome = SweepRunner(ctx).run(config, params, engine=engine, workers=workers)
    finally:
        if ray_engine is not None:
            ray_engine.close()
    seconds = time.perf_counter() - began
    if engine == "local":
        extra["cpu"] = cpu_seconds() - cpu
    if outcome.failed:
        raise SystemExit(f"{engine}: {outcome.failed} point(s) failed: {outcome.failures[0].error}")
    equities = {(p.params["fast"], p.params["slow"]): p.summary["final_equity"]
                for p in SweepStore(ctx.db).points(outcome.sweep_id)}
    return seconds, equities, extra


class FinalValue(bt.Analyzer):
    """The broker's value at the end of a run (optstrategy hands back analyzers, not strategies)."""

    def stop(self) -> None:
        self.value = self.strategy.broker.getvalue()

    def get_analysis(self) -> dict:
        return {"value": self.value}


def backtrader_sweep(csv_dir: Path, names: list[str], cpus: int) -> tuple[float, dict, dict]:
    began, cpu = time.perf_counter(), cpu_seconds()
    cerebro = bt.Cerebro(runonce=True, preload=True, stdstats=False, maxcpus=cpus, optreturn=True)
    for symbol in names:
        # A pandas feed: optstrategy pickles the cerebro for each worker, and GenericCSVData's
        # epoch-seconds parser is a lambda that cannot be pickled.
        frame = pd.read_csv(csv_dir / f"{symbol}.csv")
        frame.index = pd.to_datetime(frame.pop("timestamp"), unit="s")
        cerebro.adddata(bt.feeds.PandasData(dataname=frame, name=symbol, timeframe=bt.TimeFrame.Minutes,
                                            compression=1, openinterest=None))
    cerebro.broker.setcash(CASH)
    cerebro.broker.setcommission(commission=0.0)
    cerebro.addanalyzer(FinalValue, _name="final")
    cerebro.optstrategy(SmaCrossover, fast=list(FASTS), slow=list(SLOWS), quantity=[QUANTITY])
    results = cerebro.run()
    seconds = time.perf_counter() - began
    equities = {(run[0].params.fast, run[0].params.slow): run[0].analyzers.final.get_analysis()["value"]
                for run in results}
    return seconds, equities, {"cpu": cpu_seconds() - cpu}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--symbols", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--skip-ray", action="store_true", help="leave out the Ray run")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    cores = os.cpu_count() or 1
    names = seeded.symbols(args.symbols)
    with tempfile.TemporaryDirectory(prefix="mismartera-sweep-bench-") as tmp:
        home = Path(tmp)
        ctx = AppContext(load_settings({"MISMARTERA_HOME": str(home)}))
        try:
            window = seeded.window(ctx.time, args.days)
            seeded.write(ctx.bars, home / "csv", names, window.sessions, args.seed)
            config = parse_session_config(session_config(window.first.isoformat(), window.last.isoformat(), names))
            runs: dict[str, tuple[int, float, dict, dict]] = {}
            runs["local, 1 worker"] = (1, *mismartera_sweep(ctx, config, "local", 1))
            runs[f"local, {cores} workers"] = (cores, *mismartera_sweep(ctx, config, "local", cores))
            if not args.skip_ray and importlib.util.find_spec("ray") is not None:
                runs[f"ray (local), {cores} CPUs"] = (cores, *mismartera_sweep(ctx, config, "ray", cores))
            peer_seconds, peer, peer_extra = backtrader_sweep(home / "csv", names, cores)
        finally:
            ctx.close()
    reference = runs["local, 1 worker"]
    problems = []
    for label, (_, _, equities, _) in runs.items():
        if equities != reference[2]:
            problems.append(f"{label}: final equities differ from the 1-worker run")
    mismatched = [key for key, value in reference[2].items()
                  if key not in peer or abs(value - peer[key]) > EQUITY_TOLERANCE]
    if mismatched:
        first = mismatched[0]
        problems.append(f"backtrader disagrees on {len(mismatched)} of {len(reference[2])} points, e.g. "
                        f"fast={first[0]} slow={first[1]}: mismartera {reference[2][first]:,.2f} vs backtrader "
                        f"{peer.get(first, float('nan')):,.2f}")
    all_cores = runs[f"local, {cores} workers"][1]
    rows = []
    for label, (workers, seconds, _, extra) in runs.items():
        speedup = reference[1] / seconds
        rows.append({"engine": label, "workers": workers, "seconds": seconds, "points_per_second": 24 / seconds,
                     "speedup": speedup, "efficiency": speedup / workers, "vs_backtrader": peer_seconds / seconds,
                     "cpu_seconds": extra.get("cpu"), "startup_seconds": extra.get("startup")})
    rows.append({"engine": f"backtrader optstrategy, maxcpus={cores}", "workers": cores, "seconds": peer_seconds,
                 "points_per_second": 24 / peer_seconds, "speedup": reference[1] / peer_seconds,
                 "efficiency": None, "vs_backtrader": 1.0, "cpu_seconds": peer_extra["cpu"],
                 "startup_seconds": None})
    figures = {"symbols": args.symbols, "days": args.days, "points": 24, "cores": cores,
               "bars_per_point": window.bars_per_symbol * args.symbols, "rows": rows,
               "local_speedup": reference[1] / all_cores, "vs_backtrader": peer_seconds / all_cores,
               "problems": problems}
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(f"24-point grid of sma_crossover (fast {FASTS} x slow {SLOWS}), {args.symbols} symbols x {args.days} "
              f"days, {figures['bars_per_point']:,} 1m bars per point, {cores} cores")
        print(f"{'engine':<34} {'wall s':>7} {'points/s':>9} {'speed-up':>9} {'efficiency':>10} {'vs bt':>7} "
              f"{'CPU s':>7} {'start-up s':>10}")
        for row in rows:
            efficiency = f"{row['efficiency'] * 100:.0f}%" if row["efficiency"] is not None else "-"
            cpu = f"{row['cpu_seconds']:.1f}" if row["cpu_seconds"] is not None else "-"
            startup = f"{row['startup_seconds']:.1f}" if row["startup_seconds"] is not None else "-"
            print(f"{row['engine']:<34} {row['seconds']:>7.1f} {row['points_per_second']:>9.2f} "
                  f"{row['speedup']:>8.2f}x {efficiency:>10} {row['vs_backtrader']:>6.2f}x {cpu:>7} {startup:>10}")
        for problem in problems:
            print(f"MISMATCH: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
