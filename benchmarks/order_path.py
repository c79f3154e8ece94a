"""The cost of one strategy order in a backtest: placed through `EngineContext`, filled by `SimulatedBroker`.

    python benchmarks/order_path.py [--orders 40000] [--symbols 10] [--repeat 5] [--json]

Replays the reference run's order flow without bars, indicators or a database: each step reveals
one bar of one symbol (`process_bar`, which fills the order placed on its previous bar), then the
"strategy" looks at its open orders for the symbol and places a 100-share market buy when flat or
sells the position when long, as `sma_crossover` does (with cash enough that every order fills).
The coordinator's bookkeeping of fills (`held`), its once-a-minute clock and its broker's history
bound are copied here; every 1,000 orders the changes are drained as the recorder would. Prints
microseconds per order: each part's best of `--repeat` runs (wall clock, so a busy machine shows
in them) and the best CPU time of a whole run (process time: steadier when others share the CPU;
it includes this script's own loop).
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from datetime import UTC, datetime
from typing import Any

from mismartera.config.session import TradingConfig
from mismartera.execution.simulated import SimulatedBroker
from mismartera.system.recorder import KEEP_IN_MEMORY
from mismartera.system.strategy_host import EngineContext
from mismartera.timekeeping.clock import SimulatedClock

START = int(datetime(2021, 1, 4, 14, 30, tzinfo=UTC).timestamp())
PARTS = ("fill", "open_orders", "order", "drain")


def run(orders: int, symbols: int) -> dict[str, float]:
    """One run of `orders` orders; returns seconds spent in each part and the final equity."""
    clock = SimulatedClock(datetime.fromtimestamp(START, UTC))
    broker = SimulatedBroker(TradingConfig(initial_cash=1_000_000.0), clock, history=KEEP_IN_MEMORY)
    held: dict[str, float] = {}
    ctx = EngineContext("bench", [], None, broker, clock, held)  # type: ignore[arg-type]
    names = [f"S{n:02d}" for n in range(symbols)]
    spent = dict.fromkeys(PARTS, 0.0)
    clock_ns = time.perf_counter
    placed = 0
    filled = 0
    step = 0
    cpu = time.process_time()
    while placed < orders:
        symbol = names[step % symbols]
        ts = START + 60 * (step // symbols)
        price = 100.0 + (step % 7) * 0.25
        if step % symbols == 0:   # the coordinator moves the clock once a minute
            clock.set(datetime.fromtimestamp(ts + 60, UTC))

        t0 = clock_ns()
        fills = broker.process_bar(symbol, ts, price, price + 0.1, price - 0.1, price)
        filled += len(fills)
        for fill in fills:   # what the coordinator's _apply_fills does
            signed = fill.quantity if str(fill.side) == "buy" else -fill.quantity
            quantity = held.get(fill.symbol, 0.0) + signed
            if abs(quantity) < 1e-9:
                held.pop(fill.symbol, None)
            else:
                held[fill.symbol] = quantity
        t1 = clock_ns()
        busy = ctx.open_orders(symbol)
        t2 = clock_ns()
        if not busy:
            position = ctx.position(symbol)
            if position == 0:
                ctx.buy(symbol, 100.0)
            else:
                ctx.sell(symbol, position)
            placed += 1
        t3 = clock_ns()
        if placed % 1000 == 0 and not busy:
            broker.drain_changes()
        t4 = clock_ns()
        spent["fill"] += t1 - t0
        spent["open_orders"] += t2 - t1
        spent["order"] += t3 - t2
        spent["drain"] += t4 - t3
        step += 1
    broker.drain_changes()
    spent["cpu"] = time.process_time() - cpu
    spent["equity"] = broker.equity
    spent["fills"] = float(filled)
    return spent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=40_000)
    parser.add_argument("--symbols", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    best: dict[str, Any] = {}
    for _ in range(args.repeat):
        gc.collect()
        spent = run(args.orders, args.symbols)
        spent["total"] = sum(spent[part] for part in PARTS)
        for part, value in spent.items():
            best[part] = min(best.get(part, value), value)
    per_order = {part: best[part] / args.orders * 1e6 for part in (*PARTS, "total", "cpu")}
    if args.json:
        print(json.dumps({"orders": args.orders, "us_per_order": per_order, "equity": best["equity"],
                          "fills": int(best["fills"])}))
        return 0
    print(f"{args.orders:,} market orders over {args.symbols} symbols, best of {args.repeat} "
          f"(final equity {best['equity']:,.2f}, {int(best['fills']):,} fills)")
    for part in (*PARTS, "total"):
        print(f"  {part:<12} {per_order[part]:7.2f} us/order")
    print(f"  {'cpu, all in':<12} {per_order['cpu']:7.2f} us/order (process time of a whole run)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
