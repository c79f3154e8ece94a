"""mismartera against backtrader on the same bars and the same strategy: the reference run, in one command.

    python benchmarks/compare.py [--days 250] [--symbols 10] [--seed 1] [--repeat N] [--memory-check [DAYS]]
                                 [--sparse] [--no-peer] [--api [poll]] [--dashboard] [--json]

1. Seeded 1-minute bars for SYMBOLS x DAYS NYSE trading days from 2021-01-04 (390 a day, 210 on
   early closes, whole-cent prices, volumes far above 100 shares) are written once to a fresh SQLite
   database through `BarStore.upsert` and to one CSV per symbol for the peer, and the columnar bar
   cache is built from the database (`data cache rebuild`), as a trader's data would be: not timed,
   each reported. `--sparse` leaves 5% of each symbol's minutes out, at random (the same in both).
2. mismartera runs SMA(10)/SMA(30) crossover, 100 shares, long-only, cash 100,000, no costs, market
   orders filled at the next bar's open, through the full engine at speed 0 (`system start` path).
3. backtrader runs the same strategy on the same bars (`runonce`, next-open fills).
4. Both rows are printed with the ratios, end to end and run only (backtrader's run-only time is
   after cerebro has parsed its CSV files, which is its load time); the exit status is 1, with the
   reason on stderr, when the final equities differ by more than one cent or the fills differ in number.
   `--no-peer` runs mismartera alone (the scale run: `--symbols 100 --no-peer`).

Each engine runs in a process of its own, so each peak RSS is that engine's alone. `--repeat N` runs
each engine N times, alternating, every mismartera run on a fresh copy of the database, and reports
the median run of each (by end-to-end bars/s) with every run's figure beside it. `--memory-check`
adds a mismartera run over a longer window (1000 days unless given) and fails unless its peak RSS
is within 10% of the reference run's: only the current and prefetched days are held in memory.
`--api` adds, in each round, a mismartera run that serves the control API while it replays (with
`--api poll`, its status asked for once a second), on its own fresh copy of the database, and
reports its median end-to-end time and CPU time against the plain runs' (target: within 3%).
`--dashboard` adds, in each round, a mismartera run with the web dashboard open on its control API in
headless Chromium for the whole run (tests/dashboard_browser.py), on its own fresh copy of the
database, and reports its median end-to-end time against the plain runs' (target: within 3%), the
page's first paint, and the machine's load average at the start of each run (it is shared).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _seeded_bars as seeded

from mismartera.commands.context import AppContext
from mismartera.config.settings import load_settings

HERE = Path(__file__).resolve().parent
EQUITY_TOLERANCE = 0.01   # one cent
MEMORY_TOLERANCE = 0.10   # the long run's peak RSS may exceed the reference run's by this fraction
API_TOLERANCE = 0.03      # serving the control API may slow the end-to-end run by this fraction
CHILD_TIMEOUT = 3600.0


class BenchmarkFailed(Exception):
    """A child failed or the engines disagree; the message says which and how."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=250, help="trading days in the window (default 250)")
    parser.add_argument("--symbols", type=int, default=10, help="symbols, each its own series (default 10)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated bars (default 1)")
    parser.add_argument("--memory-check", nargs="?", type=int, const=1000, default=None, metavar="DAYS",
                        help="also run mismartera over DAYS (default 1000) and compare its peak RSS")
    parser.add_argument("--repeat", type=int, default=1, metavar="N",
                        help="run each engine N times and report the median run (default 1)")
    parser.add_argument("--sparse", action="store_true", help="leave 5%% of each symbol's minutes out, at random")
    parser.add_argument("--no-peer", action="store_true", help="run mismartera only (no backtrader)")
    parser.add_argument("--api", nargs="?", const="serve", choices=("serve", "poll"), default=None,
                        help="also run mismartera serving the control API, alternating, and compare the times "
                             "(--api poll: its status asked for once a second)")
    parser.add_argument("--dashboard", action="store_true",
                        help="also run mismartera with the web dashboard open in headless Chromium, alternating")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = parser.parse_args(argv)
    if not 1 <= args.days <= 2000:
        parser.error(f"--days {args.days} is out of range (expected 1 to 2000)")
    if not 1 <= args.repeat <= 20:
        parser.error(f"--repeat {args.repeat} is out of range (expected 1 to 20)")
    if not 1 <= args.symbols <= 100:
        parser.error(f"--symbols {args.symbols} is out of range (expected 1 to 100)")
    if args.memory_check is not None and not args.days < args.memory_check <= 2000:
        parser.error(f"--memory-check {args.memory_check} must be above --days {args.days} and at most 2000")
    if not args.no_peer and importlib.util.find_spec("backtrader") is None:
        parser.error("backtrader is not installed (pip install -e '.[bench]')")
    return args


def child(script: str, *args: str) -> dict:
    """Run a benchmark child and return the JSON line it printed; BenchmarkFailed with its stderr if it failed."""
    done = subprocess.run([sys.executable, str(HERE / script), *args], capture_output=True, text=True,
                          timeout=CHILD_TIMEOUT, check=False)
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-15:])
        raise BenchmarkFailed(f"{script} exited with {done.returncode}:\n{tail}")
    return json.loads(done.stdout.strip().splitlines()[-1])


SPARSE_MISSING = 0.05


def prepare(home: Path, names: list[str], days: int, csv_days: int, seed: int, missing: float = 0.0) -> dict:
    """Write `days` of bars to the database, the first `csv_days` of them to CSV, and build the bar
    cache; the window(s), the bars in the reference window and the timings."""
    ctx = AppContext(load_settings({"MISMARTERA_HOME": str(home)}))
    try:
        long_window = seeded.window(ctx.time, days)
        window = seeded.Window(long_window.sessions[:csv_days])
        began = time.perf_counter()
        rows = seeded.write(ctx.bars, home / "csv", names, long_window.sessions, seed,
                            csv_until=window.sessions[-1].close, missing=missing)
        seconds = time.perf_counter() - began
        start, end = int(window.sessions[0].open.timestamp()), int(window.sessions[-1].close.timestamp())
        expected = sum(ctx.bars.count(name, "1m", start, end) for name in names)
        began = time.perf_counter()
        cache = ctx.open_bar_cache(force=True)
        assert cache is not None
        cache_files = cache.rebuild(names)
        cache_seconds = time.perf_counter() - began
    finally:
        ctx.close()
    return {"window": window, "long_window": long_window, "rows": rows, "seconds": seconds, "expected": expected,
            "cache_files": cache_files, "cache_seconds": cache_seconds}


def mismartera_run(home: Path, window: seeded.Window, names: list[str], *, api: bool = False,
                   poll: bool = False, dashboard: bool = False) -> dict:
    flags = (["--api"] if api else []) + (["--poll"] if poll else []) + (["--dashboard"] if dashboard else [])
    return child("_mismartera_run.py", str(home), window.first.isoformat(), window.last.isoformat(), ",".join(names),
                 *flags)


def fresh_copy(pristine: Path, home: Path) -> None:
    shutil.rmtree(home / "data")
    shutil.copytree(pristine, home / "data")


def check(mm: dict, bt: dict | None, expected_bars: int) -> list[str]:
    """What is wrong with the two runs side by side (empty when they agree)."""
    problems = []
    for label, run in (("mismartera", mm), ("backtrader", bt)):
        if run is None:
            continue
        if run["bars"] != expected_bars:
            problems.append(f"{label} replayed {run['bars']:,} bars, expected {expected_bars:,}")
    if mm.get("state") != "stopped":
        problems.append(f"mismartera ended {mm.get('state')}, expected stopped")
    if bt is not None and abs(mm["equity"] - bt["equity"]) > EQUITY_TOLERANCE:
        problems.append(f"final equity differs: mismartera {mm['equity']:,.4f} vs backtrader {bt['equity']:,.4f} "
                        f"(difference {mm['equity'] - bt['equity']:+,.4f}, allowed ±{EQUITY_TOLERANCE})")
    if mm["report_equity"] is not None and abs(mm["report_equity"] - mm["equity"]) > EQUITY_TOLERANCE:
        problems.append(f"mismartera's report says final equity {mm['report_equity']:,.2f} but its account "
                        f"says {mm['equity']:,.2f}")
    if bt is not None and mm["fills"] != bt["fills"]:
        problems.append(f"fills differ: mismartera {mm['fills']} vs backtrader {bt['fills']}")
    return problems


def table(figures: dict) -> str:
    mm, bt = figures["mismartera"], figures["backtrader"]
    w = figures["window"]
    lines = [
        f"reference run: {figures['symbols']} symbols x {w['days']} trading days ({w['first']} .. {w['last']}), "
        f"{figures['bars']:,} 1m bars{' (sparse: 5% of minutes missing)' if figures['sparse'] else ''}, "
        f"seed {figures['seed']}",
        f"bars written once (SQLite via BarStore.upsert + CSV, not timed): {figures['rows_written']:,} rows "
        f"in {figures['write_seconds']:.1f} s; bar cache built once (not timed): {figures['cache_files']} "
        f"file(s) in {figures['cache_seconds']:.1f} s",
        "SMA(10)/SMA(30) crossover, 100 shares, long-only, cash 100,000, no costs, next-open market fills",
        "",
        f"{'engine':<11} {'end-to-end bars/s':>18} {'run-only bars/s':>16} {'load s':>7} {'peak RSS':>9} "
        f"{'final equity':>13} {'fills':>6}",
        f"{'mismartera':<11} {mm['bars_per_second']:>18,.0f} {mm['run_bars_per_second']:>16,.0f} "
        f"{mm['seconds'] - mm['run_seconds']:>7.2f} {mm['rss_mb']:>6.0f} MB {mm['equity']:>13,.2f} {mm['fills']:>6}",
    ]
    if bt is not None:
        lines += [
            f"{'backtrader':<11} {bt['bars_per_second']:>18,.0f} {bt['run_bars_per_second']:>16,.0f} "
            f"{bt['load_seconds']:>7.2f} {bt['rss_mb']:>6.0f} MB {bt['equity']:>13,.2f} {bt['fills']:>6}",
            "",
            f"mismartera / backtrader: end to end {figures['ratio']:.2f}x (target >= 15x, aiming for 20x), "
            f"run only {figures['run_ratio']:.2f}x (target >= 10x); "
            f"equities differ by {abs(mm['equity'] - bt['equity']):.2f}",
        ]
    runs = figures["runs"]
    if len(runs["mismartera"]) > 1:
        lines.append(f"median of {len(runs['mismartera'])} runs each; end-to-end bars/s of every run: mismartera "
                     f"{', '.join(f'{x:,.0f}' for x in runs['mismartera'])}"
                     + (f"; backtrader {', '.join(f'{x:,.0f}' for x in runs['backtrader'])}" if bt else ""))
    api = figures.get("api")
    if api:
        asked = f"status asked {api['status_polls']}x, once a second" if api["status_polls"] else "no client"
        lines.append(f"control API served ({asked}): {api['bars_per_second']:,.0f} bars/s end to end vs "
                     f"{mm['bars_per_second']:,.0f} without, {api['change']:+.1%} time, {api['cpu_change']:+.1%} "
                     f"CPU time (target <= +{API_TOLERANCE:.0%}); every run with the API: "
                     f"{', '.join(f'{x:,.0f}' for x in api['runs'])}")
    board = figures.get("dashboard")
    if board:
        lines.append(f"web dashboard open in headless Chromium: {board['bars_per_second']:,.0f} bars/s end to end vs "
                     f"{mm['bars_per_second']:,.0f} without, {board['change']:+.1%} time (target <= "
                     f"+{API_TOLERANCE:.0%}); every run with it: {', '.join(f'{x:,.0f}' for x in board['runs'])}; "
                     f"first paint {board['first_paint_ms']:.0f} ms (median; all: "
                     f"{', '.join(f'{x:.0f}' for x in board['first_paints_ms'])} ms); load average at each start: "
                     f"plain {', '.join(f'{x:.1f}' for x in board['loads']['plain'])}, with the dashboard "
                     f"{', '.join(f'{x:.1f}' for x in board['loads']['dashboard'])}")
        plain, shown = board["cpu_seconds"]["plain"], board["cpu_seconds"]["dashboard"]
        plain_cpu, board_cpu = plain[(len(plain) - 1) // 2], shown[(len(shown) - 1) // 2]
        lines.append(f"CPU of the session's process (median): {board_cpu:.2f} s with the dashboard vs "
                     f"{plain_cpu:.2f} s without ({board_cpu / plain_cpu - 1:+.1%}); all: "
                     f"{', '.join(f'{x:.2f}' for x in shown)} vs {', '.join(f'{x:.2f}' for x in plain)} s")
    memory = figures.get("memory_check")
    if memory:
        lines.append(f"memory: peak RSS {memory['reference_rss_mb']:.0f} MB over {w['days']} days vs "
                     f"{memory['long_rss_mb']:.0f} MB over {memory['days']} days ({memory['change']:+.1%}, "
                     f"allowed +{MEMORY_TOLERANCE:.0%}); {memory['bars_per_second']:,.0f} bars/s end to end")
    return "\n".join(lines)


def median_run(runs: list[dict]) -> dict:
    """The run in the middle by end-to-end bars/s (the lower middle of an even count)."""
    return sorted(runs, key=lambda run: run["bars_per_second"])[(len(runs) - 1) // 2]


def run(args: argparse.Namespace) -> tuple[dict, list[str]]:
    names = seeded.symbols(args.symbols)
    with tempfile.TemporaryDirectory(prefix="mm-compare-") as tmp:
        home = Path(tmp)
        data = prepare(home, names, args.memory_check or args.days, args.days, args.seed,
                       SPARSE_MISSING if args.sparse else 0.0)
        window: seeded.Window = data["window"]
        expected = data["expected"]
        pristine = Path(tmp) / "pristine-data"
        # Each mismartera run stores its orders: later runs start from the same data.
        if args.repeat > 1 or args.api or args.dashboard:
            shutil.copytree(home / "data", pristine)
        mm_runs: list[dict] = []
        bt_runs: list[dict] = []
        api_runs: list[dict] = []
        board_runs: list[dict] = []
        for index in range(args.repeat):
            if index:
                fresh_copy(pristine, home)
            mm_runs.append(mismartera_run(home, window, names))
            if not args.no_peer:
                bt_runs.append(child("_backtrader_run.py", str(home / "csv"), ",".join(names)))
            if args.api:
                fresh_copy(pristine, home)
                api_runs.append(mismartera_run(home, window, names, api=True, poll=args.api == "poll"))
            if args.dashboard:
                fresh_copy(pristine, home)
                board_runs.append(mismartera_run(home, window, names, dashboard=True))
        long_run = None
        if args.memory_check:
            long_run = mismartera_run(home, data["long_window"], names)
    for one in mm_runs + bt_runs + api_runs + board_runs:
        one["bars_per_second"] = one["bars"] / one["seconds"]
        one["run_bars_per_second"] = one["bars"] / one["run_seconds"]
    mm = median_run(mm_runs)
    bt = median_run(bt_runs) if bt_runs else None
    figures = {
        "symbols": len(names), "seed": args.seed, "bars": expected, "sparse": args.sparse,
        "window": {"days": len(window.sessions), "first": window.first.isoformat(), "last": window.last.isoformat(),
                   "early_closes": sum(s.early_close for s in window.sessions)},
        "rows_written": data["rows"], "write_seconds": data["seconds"],
        "cache_files": data["cache_files"], "cache_seconds": data["cache_seconds"],
        "mismartera": mm, "backtrader": bt,
        "ratio": mm["bars_per_second"] / bt["bars_per_second"] if bt else None,
        "run_ratio": mm["run_bars_per_second"] / bt["run_bars_per_second"] if bt else None,
        "runs": {"mismartera": [one["bars_per_second"] for one in mm_runs],
                 "backtrader": [one["bars_per_second"] for one in bt_runs]},
    }
    if api_runs:
        served = median_run(api_runs)
        change = mm["bars_per_second"] / served["bars_per_second"] - 1.0   # > 0: slower with the API
        cpu = (statistics.median(one["cpu_seconds"] for one in api_runs)
               / statistics.median(one["cpu_seconds"] for one in mm_runs) - 1.0)
        figures["api"] = {"seconds": served["seconds"], "plain_seconds": mm["seconds"], "cpu_change": cpu,
                          "bars_per_second": served["bars_per_second"], "change": change,
                          "status_polls": served["status_polls"],
                          "runs": [one["bars_per_second"] for one in api_runs]}
    if board_runs:
        shown = median_run(board_runs)
        paints = sorted(one["first_paint_ms"] for one in board_runs if one.get("first_paint_ms") is not None)
        figures["dashboard"] = {
            "seconds": shown["seconds"], "plain_seconds": mm["seconds"], "bars_per_second": shown["bars_per_second"],
            "change": mm["bars_per_second"] / shown["bars_per_second"] - 1.0,
            "runs": [one["bars_per_second"] for one in board_runs],
            "first_paint_ms": paints[(len(paints) - 1) // 2] if paints else None, "first_paints_ms": paints,
            "loads": {"plain": [one["load"] for one in mm_runs], "dashboard": [one["load"] for one in board_runs]},
            "cpu_seconds": {"plain": sorted(one["cpu_seconds"] for one in mm_runs),
                            "dashboard": sorted(one["cpu_seconds"] for one in board_runs)}}
    problems = [problem for one in mm_runs + api_runs + board_runs for problem in check(one, bt, expected)]
    problems += [f"the dashboard did not show the finished run {one['bars']:,} bars" for one in board_runs
                 if not one["dashboard_saw_run"]]
    problems = list(dict.fromkeys(problems))   # the same disagreement once, however many runs show it
    if long_run is not None:
        change = long_run["rss_mb"] / mm["rss_mb"] - 1.0
        figures["memory_check"] = {"days": len(data["long_window"].sessions), "reference_rss_mb": mm["rss_mb"],
                                   "long_rss_mb": long_run["rss_mb"], "change": change,
                                   "bars_per_second": long_run["bars"] / long_run["seconds"]}
        if change > MEMORY_TOLERANCE:
            problems.append(f"memory is not flat: peak RSS {long_run['rss_mb']:.0f} MB over "
                            f"{figures['memory_check']['days']} days vs {mm['rss_mb']:.0f} MB over "
                            f"{len(window.sessions)} days ({change:+.1%}, allowed +{MEMORY_TOLERANCE:.0%})")
    return figures, problems


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        figures, problems = run(args)
    except BenchmarkFailed as exc:
        print(f"compare: FAILED: {exc}", file=sys.stderr)
        return 1
    figures["problems"] = problems
    print(json.dumps(figures, indent=2) if args.json else table(figures))
    for problem in problems:
        print(f"compare: FAILED: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
