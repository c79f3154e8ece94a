"""pytest fixtures over the fakes, stopped after each test.

    pytest_plugins = ["fake_alpaca.fixtures"]   # at the top of a test module

    def test_something(fake_alpaca, run_cli):
        fake_alpaca.add_bars("AAPL", rows)
        run_cli(..., env=fake_alpaca.env())

    def test_live(live_fakes, tmp_path):         # REST (data + a paper account) and both websockets
        manager = SystemManager(AppContext(load_settings(live_fakes.env(tmp_path))))
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fake_alpaca.brokerage import FakeBrokerage
from fake_alpaca.live import LiveFakes
from fake_alpaca.server import API_KEY, SECRET_KEY, FakeAlpaca
from fake_alpaca.stream_server import FakeDataStream, FakeTradingStream
from fake_alpaca.trading_routes import attach


@pytest.fixture
def fake_alpaca() -> Iterator[FakeAlpaca]:
    with FakeAlpaca() as server:
        yield server


@pytest.fixture
def live_fakes() -> Iterator[LiveFakes]:
    keys = {(API_KEY, SECRET_KEY)}
    with FakeAlpaca() as rest, FakeDataStream(keys) as data_ws, FakeTradingStream(keys) as trade_ws:
        brokerage = attach(rest, FakeBrokerage(cash=50_000.0, stream=trade_ws))
        yield LiveFakes(rest, brokerage, data_ws, trade_ws)
