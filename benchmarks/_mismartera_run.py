"""One mismartera run of the reference strategy, in a process of its own (started by compare.py).

It runs the full engine exactly as `system start --wait` does — SystemManager, prefetch, upkeep and
coordinator threads, SessionData, indicators, the built-in `sma_crossover`, SimulatedBroker, orders
and fills recorded in the database — at speed 0, then reads the stored report back. It prints one
JSON line: the bars replayed, the end-to-end seconds (from `start`, whose first job is reading the
database, until the final report, account and fills are read back), the replay-only seconds, the
peak RSS of this process, the final equity and the fills.

    python benchmarks/_mismartera_run.py HOME FIRST_DAY LAST_DAY SYMBOL,SYMBOL,...
"""

from __future__ import annotations

import json
import sys
import time

from _peak_memory import peak_rss_mb
from sqlalchemy import func, select

from mismartera.commands.context import AppContext
from mismartera.config.session import parse_session_config
from mismartera.config.settings import load_settings
from mismartera.data import schema

FAST, SLOW, QUANTITY, CASH = 10, 30, 100, 100_000


def session_config(first: str, last: str, symbols: list[str]) -> dict:
    """The reference run as a session config: SMA(10/30) crossover, 100 shares, no costs."""
    return {
        "session_name": "compare",
        "backtest_config": {"start_date": first, "end_date": last, "speed_multiplier": 0},
        "session_data_config": {"symbols": symbols, "streams": ["1m"]},
        "strategies": [{"name": "sma_crossover", "params": {"fast": FAST, "slow": SLOW, "quantity": QUANTITY}}],
        "trading_config": {"initial_cash": CASH, "commission_per_share": 0, "commission_min": 0,
                           "slippage_bps": 0, "allow_short": False},
    }


def stored_counts(ctx: AppContext, run_id: int) -> tuple[int, int]:
    """(fills, rejected orders) the run stored, counted in SQL: reading tens of thousands of rows back
    as objects would add their memory to this process's peak, which is the engine's figure."""
    with ctx.db.connect() as conn:
        fills = conn.execute(select(func.count()).select_from(schema.fills).where(schema.fills.c.run_id == run_id))
        rejected = conn.execute(select(func.count()).select_from(schema.orders).where(
            schema.orders.c.run_id == run_id, schema.orders.c.status == "rejected"))
        return fills.scalar_one(), rejected.scalar_one()


def main(argv: list[str]) -> int:
    home, first, last, names = argv
    symbols = names.split(",")
    config = parse_session_config(session_config(first, last, symbols))
    ctx = AppContext(load_settings({"MISMARTERA_HOME": home}))
    try:
        began = time.perf_counter()
        ctx.system.start(config)
        status = ctx.system.wait()
        info, _days = ctx.system.report(status.run_id)
        _, account = ctx.system.account(status.run_id)
        ended = time.perf_counter()
        replay = ctx.system.coordinator.run_seconds
        fills, rejected = stored_counts(ctx, status.run_id)
    finally:
        ctx.close()
    print(json.dumps({
        "bars": status.bars_done,
        "seconds": ended - began,
        "run_seconds": replay,
        "rss_mb": peak_rss_mb(),
        "equity": account.equity,
        "report_equity": info.summary.get("final_equity") if info.summary else None,
        "fills": fills,
        "rejected": rejected,
        "state": status.state.value,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
