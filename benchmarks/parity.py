"""Backtest/live parity on a larger run: the same config over the same stored bars, as a backtest and
as a live session on the replay source (simulated broker), must agree on every order, fill, daily
equity and the final equity, to the cent.

    python benchmarks/parity.py [--days 20] [--symbols 10] [--seed 1] [--first 2021-11-01] [--json]

Seeded 1-minute bars (`_seeded_bars.py`) for SYMBOLS x DAYS trading days from FIRST (the default
window holds the early close of 2021-11-26) go to two fresh databases: one complete, one with 5% of
the second symbol's minutes removed at random. On each, `sma_crossover`, `rsi_reversion` and
`tests/strategies/limit_stop.py` (limit and stop orders only) run both ways. Each row prints the
fills, the final equity, both wall times and their ratio (replay / backtest: the cost of the live
path's stream, feed and clock); the exit status is 1, with every difference on stderr, when any
pair disagrees.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import _seeded_bars as seeded

from mismartera.commands.context import AppContext
from mismartera.config.session import parse_session_config
from mismartera.config.settings import load_settings
from mismartera.system.parity import RunRecord, differences, replay_twin

ROOT = Path(__file__).resolve().parents[1]
STRATEGIES = {
    "sma_crossover": {"name": "sma_crossover", "params": {"fast": 10, "slow": 30, "quantity": 100}},
    "rsi_reversion": {"name": "rsi_reversion", "params": {"period": 14, "oversold": 30, "overbought": 70,
                                                          "quantity": 100}},
    "limit_stop": {"path": str(ROOT / "tests" / "strategies" / "limit_stop.py"),
                   "params": {"quantity": 50, "offset": 0.02, "patience": 10}},
}
DROP = 0.05


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=20, help="trading days in the window (default 20)")
    parser.add_argument("--symbols", type=int, default=10, help="symbols (default 10)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated bars (default 1)")
    parser.add_argument("--first", type=date.fromisoformat, default=date(2021, 11, 1),
                        help="first day of the window (default 2021-11-01)")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = parser.parse_args(argv)
    if not 1 <= args.days <= 500:
        parser.error(f"--days {args.days} is out of range (expected 1 to 500)")
    if not 2 <= args.symbols <= 100:
        parser.error(f"--symbols {args.symbols} is out of range (expected 2 to 100)")
    return args


def write_bars(ctx: AppContext, names: list[str], window: seeded.Window, seed: int, drop: str | None) -> int:
    """Every symbol's bars into the store, `DROP` of `drop`'s minutes left out; the number left out."""
    removed = 0
    rng = random.Random(seed)
    for index, symbol in enumerate(names):
        rows = list(seeded.generate(symbol, index, window.sessions, seed))
        if symbol == drop:
            kept = [row for row in rows if rng.random() >= DROP]
            removed = len(rows) - len(kept)
            rows = kept
        ctx.bars.upsert(symbol, "1m", rows)
    return removed


def run_pair(ctx: AppContext, names: list[str], window: seeded.Window, strategy: str) -> dict:
    config = parse_session_config({
        "session_name": f"parity-{strategy}",
        "backtest_config": {"start_date": window.first.isoformat(), "end_date": window.last.isoformat()},
        "session_data_config": {"symbols": names, "streams": ["1m", "5m"]},
        "strategies": [STRATEGIES[strategy]],
        "trading_config": {"initial_cash": 1_000_000, "commission_per_share": 0.005, "commission_min": 1.0,
                           "slippage_bps": 1.0},
    })
    began = time.perf_counter()
    backtest = ctx.system.run(config)
    backtest_seconds = time.perf_counter() - began
    began = time.perf_counter()
    live = ctx.system.run(replay_twin(config))
    live_seconds = time.perf_counter() - began
    history = ctx.system.history()
    ours, theirs = RunRecord.of(history, backtest.run_id), RunRecord.of(history, live.run_id)
    return {"strategy": strategy, "orders": len(ours.orders), "fills": len(ours.fills),
            "equity": ours.final_equity / 100, "backtest_seconds": round(backtest_seconds, 2),
            "replay_seconds": round(live_seconds, 2), "missing": ctx.system.coordinator.missing,
            "differences": differences(ours, theirs)}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.getLogger("mismartera").addHandler(logging.NullHandler())   # the live session's gap warnings
    names = seeded.symbols(args.symbols)
    rows = []
    with tempfile.TemporaryDirectory(prefix="mismartera-parity-") as tmp:
        for label, drop in (("complete", None), (f"{DROP:.0%} of {names[1]} missing", names[1])):
            ctx = AppContext(load_settings({"MISMARTERA_HOME": str(Path(tmp) / label.split()[0])}))
            try:
                window = seeded.window(ctx.time, args.days, args.first)
                removed = write_bars(ctx, names, window, args.seed, drop)
                for strategy in STRATEGIES:
                    row = run_pair(ctx, names, window, strategy)
                    row.update(data=label, removed=removed)
                    rows.append(row)
            finally:
                ctx.close()
    early = [s.day.isoformat() for s in window.sessions if s.early_close]
    failed = [row for row in rows if row["differences"] or row["missing"] != row["removed"]]
    if args.json:
        print(json.dumps({"days": args.days, "symbols": args.symbols, "first": window.first.isoformat(),
                          "last": window.last.isoformat(), "early_closes": early, "runs": rows}))
    else:
        print(f"parity: {args.symbols} symbols x {args.days} trading days ({window.first} .. {window.last}), "
              f"early close(s): {', '.join(early) or 'none'}, seed {args.seed}")
        print(f"{'data':<22} {'strategy':<14} {'orders':>7} {'fills':>6} {'final equity':>14} "
              f"{'backtest s':>10} {'replay s':>9} {'ratio':>6}  parity")
        for row in rows:
            ratio = row["replay_seconds"] / row["backtest_seconds"] if row["backtest_seconds"] else 0.0
            verdict = "identical" if not row["differences"] else f"{len(row['differences'])} difference(s)"
            print(f"{row['data']:<22} {row['strategy']:<14} {row['orders']:>7} {row['fills']:>6} "
                  f"{row['equity']:>14,.2f} {row['backtest_seconds']:>10.2f} {row['replay_seconds']:>9.2f} "
                  f"{ratio:>5.1f}x  {verdict}")
        print(f"bars missing from the store and reported missing by the live session: "
              f"{', '.join(str(row['missing']) for row in rows)}")
    for row in failed:
        for line in row["differences"] or [f"{row['missing']} bars reported missing, {row['removed']} removed"]:
            print(f"{row['data']}, {row['strategy']}: {line}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
