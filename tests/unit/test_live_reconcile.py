"""Issue 14, point 4: a live session on the same (fake) Alpaca paper account after an interrupted live
run reconciles first: the interrupted run's open orders (by their client order id prefix) and the
account's positions are loaded into the new session, nothing is sent twice, the start says what was
reconciled, and the adopted orders' later fills are booked by the new session."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
from fake_alpaca.live import LiveFakes
from fake_alpaca.waiting import wait_until
from sqlalchemy import select, update

from mismartera.commands.context import AppContext
from mismartera.config.session import parse_session_config
from mismartera.config.settings import load_settings
from mismartera.data.schema import orders, runs
from mismartera.errors import WaitTimeout
from mismartera.system.manager import SystemManager
from mismartera.system.state import SystemState
from mismartera.timekeeping.calendar import TimeManager

pytest_plugins = ["fake_alpaca.fixtures"]

SAMPLE = Path(__file__).resolve().parents[2] / "config" / "live_paper.json"
SESSION = TimeManager().session(date(2024, 11, 29))
assert SESSION is not None
NIGHT_BEFORE = SESSION.open - timedelta(hours=10)


def config(trade_api: str = "alpaca_paper"):
    data = json.loads(SAMPLE.read_text())
    data["session_data_config"]["historical"]["trailing_days"] = 0
    data["strategies"] = []
    data["trading_config"] = {"initial_cash": 100_000}
    data["api_config"]["trade_api"] = trade_api
    return parse_session_config(data, "live.json")


def manager_for(env: dict[str, str]) -> SystemManager:
    return SystemManager(AppContext(load_settings(env)), live_now=lambda: NIGHT_BEFORE)


def crash(manager: SystemManager, run_id: int) -> None:
    """What kill -9 leaves behind: the run still says running, its owner process is gone."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with manager.app.db.begin() as conn:
        conn.execute(update(runs).where(runs.c.id == run_id).values(state="running", ended_at=None, summary=None,
                                                                    owner_pid=dead.pid))


def test_a_live_session_after_a_crash_takes_over_open_orders_and_positions(live_fakes: LiveFakes,
                                                                            tmp_path: Path) -> None:
    brokerage = live_fakes.brokerage
    brokerage.prices.update({"SPY": 100.0, "AAPL": 200.0})
    env = live_fakes.env(tmp_path)
    first = manager_for(env)
    status = first.start(config())
    first_run = status.run_id
    assert first.start_note == ""
    coordinator = first.coordinator
    coordinator.call(lambda: coordinator.broker.mark("SPY", 100.0))
    coordinator.call(lambda: coordinator.broker.mark("AAPL", 200.0))
    first.submit_order("SPY", "buy", 3)                    # fills at once: a position
    first.submit_order("SPY", "buy", 1, limit=90.0)        # open
    first.submit_order("AAPL", "buy", 2, limit=150.0)      # open
    assert wait_until(lambda: sorted(o.status for o in first.orders()[1]) == ["filled", "new", "new"])
    prefix = coordinator.broker.order_prefix
    first.stop()
    crash(first, first_run)
    first.app.close()
    sent = brokerage.posts()
    open_at_alpaca = sorted(o["client_order_id"] for o in brokerage.orders.values() if o["status"] == "new")
    assert len(open_at_alpaca) == 2 and all(cid.startswith(prefix + "-") for cid in open_at_alpaca)

    second = manager_for(env)
    try:
        status = second.start(config())
        assert second.start_note == f"reconciled 2 open orders and 1 position from run {first_run}"
        assert second.history().run(first_run).state == "interrupted"
        broker = second.coordinator.broker
        assert sorted(o.client_order_id for o in broker.open_orders()) == open_at_alpaca
        assert [(p.symbol, p.quantity) for p in broker.positions()] == [("SPY", 3.0)]
        assert brokerage.posts() == sent                   # nothing was sent again
        # an adopted order fills after the restart: the new session books it, once
        aapl = next(o for o in brokerage.orders.values() if o["symbol"] == "AAPL")
        brokerage.fill(aapl["id"], 150.0)
        def held() -> list[tuple[str, float]]:
            account = second.status().account   # None until the coordinator's first snapshot
            return sorted((p.symbol, p.quantity) for p in account.positions) if account is not None else []

        assert wait_until(lambda: held() == [("AAPL", 2.0), ("SPY", 3.0)])
        assert wait_until(lambda: [f.symbol for f in second.fills()[1]] == ["AAPL"])
        second.stop()
        with second.app.db.connect() as conn:
            stored = conn.execute(select(orders.c.client_order_id, orders.c.status)
                                  .where(orders.c.run_id == status.run_id)).all()
        spy = next(cid for cid in open_at_alpaca if cid != aapl["client_order_id"])
        assert sorted(stored) == sorted([(f"run{status.run_id}-{aapl['client_order_id']}", "filled"),
                                         (f"run{status.run_id}-{spy}", "new")])
        # the next start finds the last live run stopped normally: nothing to reconcile
        assert second.start(config()).state is SystemState.RUNNING
        assert second.start_note == ""
    finally:
        if second.state.active:
            second.stop()
        second.app.close()


def test_a_simulated_live_session_reconciles_nothing(live_fakes: LiveFakes, tmp_path: Path) -> None:
    manager = manager_for(live_fakes.env(tmp_path))
    try:
        status = manager.start(config("simulated"))
        manager.stop()
        crash(manager, status.run_id)
        manager.start(config("simulated"))
        assert manager.start_note == ""
    finally:
        if manager.state.active:
            manager.stop()
        manager.app.close()


def test_start_wait_shows_what_was_reconciled_before_it_waits(live_fakes: LiveFakes, tmp_path: Path,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    """`system start --wait` (SystemManager.run) prints the report only at the end: what the start
    reconciled is said at once, as a warning line (the console shows warnings)."""
    live_fakes.brokerage.prices.update({"SPY": 100.0})
    env = live_fakes.env(tmp_path)
    first = manager_for(env)
    first_run = first.start(config()).run_id
    coordinator = first.coordinator
    coordinator.call(lambda: coordinator.broker.mark("SPY", 100.0))
    first.submit_order("SPY", "buy", 3)                    # fills at once: a position
    assert wait_until(lambda: [o.status for o in first.orders()[1]] == ["filled"])
    first.stop()
    crash(first, first_run)
    first.app.close()
    second = manager_for(env)
    try:
        with caplog.at_level(logging.WARNING, logger="mismartera"), pytest.raises(WaitTimeout):
            second.run(config(), timeout=1.0)
        said = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert f"reconciled 0 open orders and 1 position from run {first_run}" in said, said
    finally:
        if second.state.active:
            second.stop()
        second.app.close()
