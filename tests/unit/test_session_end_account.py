"""Issue 12, point 1: whenever a session ends — stop, timeout, failure, end of the window — the stored
account is the account at that moment (cash, positions at their last price, equity, a partial-day
equity point)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from mismartera.commands.context import AppContext
from mismartera.config.session import parse_session_config
from mismartera.config.settings import load_settings
from mismartera.data.demo import seed_demo
from mismartera.errors import MismarteraError, StateError, WaitTimeout
from mismartera.system.runs import RunHistory
from mismartera.system.state import SystemState

SYMBOLS = ["AAPL", "MSFT"]
START = date(2024, 11, 4)

BUY_THEN_RAISE = '''
from mismartera.strategies import Strategy

class BuyThenRaise(Strategy):
    defaults = {"fail_at": 120}

    def on_start(self, ctx):
        self.seen = 0

    def on_bar(self, ctx, bar):
        self.seen += 1
        if self.seen == 10:
            ctx.buy(bar.symbol, 30)
        if self.seen == self.params["fail_at"]:
            raise RuntimeError("boom")
'''


@pytest.fixture
def app(tmp_path: Path) -> Iterator[AppContext]:
    ctx = AppContext(load_settings({"MISMARTERA_HOME": str(tmp_path / "home")}))
    seed_demo(ctx.bars, ctx.time, SYMBOLS, START, 2, seed=3)
    yield ctx
    if ctx.has_system() and ctx.system.state is not SystemState.STOPPED:
        try:
            ctx.system.stop(5)
        except StateError:
            pass
    ctx.close()


def config(strategies: list[dict[str, Any]], speed: float = 0) -> Any:
    return parse_session_config({
        "session_name": "ends",
        "backtest_config": {"start_date": START.isoformat(), "end_date": "2024-11-05", "speed_multiplier": speed},
        "session_data_config": {"symbols": SYMBOLS, "streams": ["1m"]},
        "strategies": strategies,
        "trading_config": {"initial_cash": 100_000},
    })


def test_gh12_failure_mid_day_stores_the_account_as_it_stood(app: AppContext, tmp_path: Path) -> None:
    path = tmp_path / "buy_then_raise.py"
    path.write_text(BUY_THEN_RAISE)
    system = app.system
    system.start(config([{"path": str(path), "symbols": ["AAPL"], "on_error": "stop"}]))
    with pytest.raises(MismarteraError, match="boom"):
        system.wait(timeout=30)
    live = system.status().account
    assert live is not None and live.positions and live.equity != pytest.approx(live.cash)
    history = RunHistory(app.db)
    run = history.run()
    assert run.state == "failed"
    stored = history.account(run.id)
    assert round(stored.cash, 2) == round(live.cash, 2)
    assert round(stored.equity, 2) == round(live.equity, 2)
    assert [(p.symbol, p.quantity, round(p.last_price, 2)) for p in stored.positions] == [
        (p.symbol, p.quantity, round(p.last_price, 2)) for p in live.positions]
    assert [(d.day, round(d.equity, 2)) for d in history.daily(run.id)] == [(START, round(live.equity, 2))]
    system.stop(5)


def test_gh12_timeout_stops_and_keeps_the_partial_day(app: AppContext, tmp_path: Path) -> None:
    path = tmp_path / "buy_then_raise.py"
    path.write_text(BUY_THEN_RAISE)
    system = app.system
    with pytest.raises(WaitTimeout):
        system.run(config([{"path": str(path), "symbols": ["AAPL"], "params": {"fail_at": 10**9}}], speed=2400),
                   timeout=1.5)
    live = system.status().account
    history = RunHistory(app.db)
    run = history.run()
    assert run.state == "stopped" and run.summary is not None
    assert run.summary["partial_day"] == START.isoformat()
    assert round(run.summary["final_equity"], 2) == round(live.equity, 2)
    stored = history.account(run.id)
    assert (round(stored.cash, 2), round(stored.equity, 2)) == (round(live.cash, 2), round(live.equity, 2))
    assert [p.quantity for p in stored.positions] == [30]


def test_gh12_a_whole_window_has_no_partial_day(app: AppContext) -> None:
    system = app.system
    system.run(config([{"name": "sma_crossover", "params": {"fast": 5, "slow": 20, "quantity": 10}}]))
    run = RunHistory(app.db).run()
    assert run.state == "finished" and run.summary["partial_day"] is None and run.summary["days"] == 2
