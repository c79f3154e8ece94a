"""A session's memory does not grow with its orders (issue 7): the broker and the recorder keep the
latest KEEP_IN_MEMORY final orders and fills, the database keeps them all, and the report built
fill by fill equals the one rebuilt from the stored fills."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from synthetic_bars import synthetic_bars

from mismartera.commands.context import AppContext
from mismartera.config.session import parse_session_config
from mismartera.config.settings import load_settings
from mismartera.execution.orders import Fill, Side
from mismartera.report import compute_report
from mismartera.system import manager, recorder

SYMBOLS = ["AAA", "BBB"]
START, END = date(2024, 3, 4), date(2024, 3, 6)
KEEP = 5


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(recorder, "KEEP_IN_MEMORY", KEEP)
    monkeypatch.setattr(manager, "KEEP_IN_MEMORY", KEEP)
    ctx = AppContext(load_settings({"MISMARTERA_HOME": str(tmp_path / "home")}))
    yield ctx
    if ctx.has_system() and ctx.system.state.active:
        ctx.system.stop(5)
    ctx.close()


def test_only_the_latest_orders_and_fills_stay_in_memory_and_the_report_matches_the_database(app) -> None:
    for symbol, rows in synthetic_bars(app.time, SYMBOLS, START, END).items():
        app.bars.upsert(symbol, "1m", rows)
    config = parse_session_config({
        "session_name": "memory",
        "backtest_config": {"start_date": START.isoformat(), "end_date": END.isoformat(), "speed_multiplier": 0},
        "session_data_config": {"symbols": SYMBOLS},
        "strategies": [{"name": "sma_crossover", "params": {"fast": 10, "slow": 30, "quantity": 100}}],
        "trading_config": {"initial_cash": 1_000_000, "commission_per_share": 0.005, "commission_min": 1.0},
    })
    status = app.system.run(config)
    _, stored = app.system.fills(status.run_id)
    _, orders = app.system.orders(run_id=status.run_id)
    assert len(stored) > 10 * KEEP and len(orders) >= len(stored)   # far more than is kept in memory
    broker = app.system.coordinator.broker
    assert len(broker.fills()) == KEEP
    assert len([o for o in broker.orders() if not o.status.open]) == KEEP
    assert len(app.system.recorder.all_fills) == KEEP

    info, days = app.system.report(status.run_id)
    fills = [Fill(f.order_id, f.symbol, Side(f.side), f.quantity, f.price, f.commission, f.filled_at)
             for f in stored]
    rebuilt = compute_report(1_000_000, [(d.day, d.equity) for d in days], fills,
                             info.summary["bars_in_market"], info.summary["bars_total"]).to_json()
    for key in ("final_equity", "trades", "win_rate_pct", "total_commission", "max_drawdown_pct", "sharpe"):
        assert info.summary[key] == pytest.approx(rebuilt[key], rel=1e-12, abs=1e-9), key
