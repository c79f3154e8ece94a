"""`system start` of a live config through `SystemManager`, against the fakes (the shared fake
Alpaca server for REST data and trading, the fake websockets): the session runs and waits for the
open, stop is quick and leaves no thread, a rejected stream key fails the session with the message.
The wall clock is scripted (the night before 2024-11-29's session), so these pass on any day."""

from __future__ import annotations

import json
import threading
import time
from datetime import date, timedelta
from pathlib import Path

import pytest
from fake_alpaca.live import LiveFakes
from fake_alpaca.server import FakeAlpaca
from fake_alpaca.waiting import wait_until

from mismartera.commands.context import AppContext
from mismartera.config.session import parse_session_config
from mismartera.config.settings import load_settings
from mismartera.errors import ConfigError, ExternalServiceError
from mismartera.system.manager import SystemManager
from mismartera.system.state import SystemState
from mismartera.timekeeping.calendar import TimeManager

pytest_plugins = ["fake_alpaca.fixtures"]

SAMPLE = Path(__file__).resolve().parents[2] / "config" / "live_paper.json"
THREADS = {"mismartera-coordinator", "mismartera-prefetch", "mismartera-upkeep", "alpaca-bar-stream",
           "alpaca-trade-updates", "alpaca-broker-poll"}


def config(**changes: object) -> object:
    data = json.loads(SAMPLE.read_text())
    data["session_data_config"]["historical"]["trailing_days"] = 1
    for key, value in changes.items():
        if "__" in key:
            section, name = key.split("__")
            data[section][name] = value
        else:
            data[key] = value
    return parse_session_config(data, "live.json")


SESSION = TimeManager().session(date(2024, 11, 29))
assert SESSION is not None
NIGHT_BEFORE = SESSION.open - timedelta(hours=10)


def manager_for(env: dict[str, str]) -> SystemManager:
    return SystemManager(AppContext(load_settings(env)), live_now=lambda: NIGHT_BEFORE)


def seed_history(rest: FakeAlpaca) -> None:
    """40 bars of the trailing day, 2024-11-27 (the 28th is Thanksgiving)."""
    previous = TimeManager().session(date(2024, 11, 27))
    assert previous is not None
    start = int(previous.open.timestamp())
    for symbol in ("SPY", "AAPL"):
        rest.add_bars(symbol, [(start + 60 * m, 100.0, 101.0, 99.0, 100.5, 1000.0, 5, 100.2) for m in range(40)])


def test_live_session_starts_waits_and_stops_quickly(live_fakes: LiveFakes, tmp_path: Path) -> None:
    seed_history(live_fakes.rest)
    manager = manager_for(live_fakes.env(tmp_path))
    status = manager.start(config())
    try:
        assert status.state is SystemState.RUNNING and status.mode == "live"
        coordinator = manager.coordinator
        assert coordinator is not None
        assert live_fakes.data_ws.wait_listening(1, 5) and live_fakes.trade_ws.wait_listening(1, 5)
        session = coordinator.sessions[0]
        assert session.day == date(2024, 11, 29) and coordinator.waiting == "waiting for open 09:30 ET"
        assert manager.status().message == "waiting for open 09:30 ET"
        assert manager.status().clock == NIGHT_BEFORE
        assert manager.app.bars.count("SPY", "1m") == 40          # the trailing day came from REST
        assert live_fakes.data_ws.subscriptions[0]["bars"] == ["AAPL", "SPY"]
        assert manager.status().account is not None and manager.status().account.cash == 50_000.0
        # a manual order goes to the paper account and its fill comes back over trade updates
        brokerage = live_fakes.brokerage
        brokerage.prices["SPY"] = 100.0
        coordinator.call(lambda: coordinator.broker.mark("SPY", 100.0))
        placed = manager.submit_order("SPY", "buy", 3)
        assert placed.status in ("new", "filled")
        assert wait_until(lambda: [o.status for o in manager.orders()[1]] == ["filled"])
        assert wait_until(lambda: manager.status().account.cash == 49_700.0)
        assert [(p.symbol, p.quantity) for p in manager.status().account.positions] == [("SPY", 3.0)]
        assert manager.pause().state is SystemState.PAUSED
        resumed = manager.resume()
        assert (resumed.state, resumed.message) == (SystemState.RUNNING, "live")
    finally:
        started = time.monotonic()
        stopped = manager.stop()
        took = time.monotonic() - started
    assert stopped.state is SystemState.STOPPED
    assert took < 2.0, took
    assert wait_until(lambda: not {t.name for t in threading.enumerate()} & THREADS, 1)


def test_rejected_stream_key_fails_the_session(live_fakes: LiveFakes, tmp_path: Path) -> None:
    live_fakes.data_ws.valid_keys = {("someone", "else")}
    manager = manager_for(live_fakes.env(tmp_path))
    manager.start(config(session_data_config__historical={"trailing_days": 0}))
    try:
        assert wait_until(lambda: manager.state is SystemState.FAILED, 5), manager.status()
        assert manager.error == "Alpaca rejected the API key on the data stream"
        assert manager.error_worker == "coordinator"
    finally:
        manager.stop()
    assert wait_until(lambda: not {t.name for t in threading.enumerate()} & THREADS, 2)


def test_rejected_trading_key_refuses_to_start(live_fakes: LiveFakes, tmp_path: Path) -> None:
    env = {**live_fakes.env(tmp_path), "ALPACA_SECRET_KEY": "wrong"}
    manager = manager_for(env)
    with pytest.raises(ExternalServiceError, match=r"^Alpaca rejected the API key"):
        manager.start(config(session_data_config__historical={"trailing_days": 0}))
    assert manager.state is SystemState.STOPPED


def test_live_needs_a_live_data_source(tmp_path: Path) -> None:
    manager = manager_for({"MISMARTERA_HOME": str(tmp_path)})
    with pytest.raises(ConfigError, match=r"mode live needs api_config\.data_api one of alpaca.*found 'database'"):
        manager.start(config(api_config={"data_api": "database", "trade_api": "alpaca_paper"}))
    with pytest.raises(ConfigError, match="set ALPACA_API_KEY and ALPACA_SECRET_KEY"):
        manager.start(config(session_data_config__historical={"trailing_days": 0}))
