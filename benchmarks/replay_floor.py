"""How close the engine runs to the floor of any per-bar Python replay, on the reference run's bars.

    python benchmarks/replay_floor.py [--days 250] [--symbols 10] [--seed 1]

The bars are compare.py's (seeded, written once to a fresh SQLite database, not timed). Then, in
this process and one after another on one thread:

1. read: every day's bars of every symbol through `BarStore.read_many`, the replay's own read;
2. bare loop: the same days replayed with nothing but what no per-bar Python engine can skip:
   each row made a `Bar`, two `SMA.update`s, and the built-in `sma_crossover`'s `on_bar` with a
   context that fills its orders on the spot (no broker, no clock, no database, no threads);

and, in a child process as compare.py runs it, the full engine (`system start` path). It prints
each as bars/s, the floor of read + bare loop together (what a replay would reach if it did
nothing else at all), and the engine's share of that floor.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import _seeded_bars as seeded
from compare import child, prepare

from mismartera.bars import Bar
from mismartera.commands.context import AppContext
from mismartera.config.settings import load_settings
from mismartera.indicators.averages import SMA
from mismartera.strategies.sma_crossover import SmaCrossover
from mismartera.system.prefetch import session_range


class InstantContext:
    """What `sma_crossover` asks of its context, and nothing more: positions in a dict, orders filled at once."""

    def __init__(self, symbols: list[str]) -> None:
        self.symbols = symbols
        self.held: dict[str, float] = {}
        self.orders = 0
        self.smas: dict[tuple[str, int], SMA] = {}

    def indicator(self, symbol: str, kind: str, interval: str = "1m", **params: int) -> SMA:
        return self.smas.setdefault((symbol, params["period"]), SMA(params["period"]))

    def position(self, symbol: str) -> float:
        return self.held.get(symbol, 0.0)

    def open_orders(self, symbol: str | None = None) -> list:
        return []

    def buy(self, symbol: str, quantity: float) -> None:
        self.held[symbol] = self.held.get(symbol, 0.0) + quantity
        self.orders += 1

    def sell(self, symbol: str, quantity: float) -> None:
        self.held[symbol] = self.held.get(symbol, 0.0) - quantity
        self.orders += 1


def read_all(ctx: AppContext, window: seeded.Window, names: list[str]) -> tuple[list[dict], float]:
    began = time.perf_counter()
    days = [ctx.bars.read_many(names, "1m", *session_range(session)) for session in window.sessions]
    return days, time.perf_counter() - began


def bare_loop(days: list[dict], names: list[str]) -> tuple[int, int, float]:
    ctx = InstantContext(names)
    strategy = SmaCrossover(params={"fast": 10, "slow": 30, "quantity": 100}, symbols=names)
    strategy.on_start(ctx)   # type: ignore[arg-type]  # duck-typed: the strategy only calls what InstantContext has
    updates = {symbol: (ctx.smas[(symbol, 10)].update, ctx.smas[(symbol, 30)].update) for symbol in names}
    on_bar = strategy.on_bar
    bars = 0
    began = time.perf_counter()
    for day in days:
        for symbol, rows in day.items():   # symbol after symbol: the per-bar work is the same either way
            fast, slow = updates[symbol]
            for row in rows:
                bar = Bar(symbol, *row)
                fast(bar.open, bar.high, bar.low, bar.close, bar.volume)
                slow(bar.open, bar.high, bar.low, bar.close, bar.volume)
                on_bar(ctx, bar)  # type: ignore[arg-type]
                bars += 1
    return bars, ctx.orders, time.perf_counter() - began


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=250)
    parser.add_argument("--symbols", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    names = seeded.symbols(args.symbols)
    with tempfile.TemporaryDirectory(prefix="mm-floor-") as tmp:
        home = Path(tmp)
        window: seeded.Window = prepare(home, names, args.days, args.days, args.seed)["window"]
        ctx = AppContext(load_settings({"MISMARTERA_HOME": str(home)}))
        try:
            days, read_seconds = read_all(ctx, window, names)
        finally:
            ctx.close()
        bars, orders, loop_seconds = bare_loop(days, names)
        del days
        engine = child("_mismartera_run.py", str(home), window.first.isoformat(), window.last.isoformat(),
                       ",".join(names))
    floor = bars / (read_seconds + loop_seconds)
    end_to_end = engine["bars"] / engine["seconds"]
    run_only = engine["bars"] / engine["run_seconds"]
    print(f"{bars:,} bars: {len(names)} symbols x {len(window.sessions)} trading days, seed {args.seed}")
    print(f"{'read (BarStore.read_many)':<34} {bars / read_seconds:>12,.0f} bars/s")
    print(f"{'bare loop (Bar, 2 SMA, on_bar)':<34} {bars / loop_seconds:>12,.0f} bars/s  ({orders:,} orders)")
    print(f"{'floor: read + bare loop':<34} {floor:>12,.0f} bars/s")
    print(f"{'engine, run only':<34} {run_only:>12,.0f} bars/s  ({run_only / floor:.0%} of the floor)")
    print(f"{'engine, end to end':<34} {end_to_end:>12,.0f} bars/s  ({end_to_end / floor:.0%} of the floor)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
