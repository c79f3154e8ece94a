"""`alpaca status` against the fake trading API: in-process through the registry, and once through
the real `mismartera` program."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest
from fake_alpaca.brokerage import FakeBrokerage, FakeTradingApi

from mismartera.commands import load_all
from mismartera.commands.context import AppContext
from mismartera.config.settings import load_settings
from mismartera.errors import ConfigError, ExternalServiceError

KEYS = {"ALPACA_API_KEY": "test-key", "ALPACA_SECRET_KEY": "test-secret"}


@pytest.fixture
def api() -> Iterator[FakeTradingApi]:
    brokerage = FakeBrokerage(cash=25_000.0)
    with FakeTradingApi(brokerage) as server:
        yield server


def run_status(env: dict[str, str], tmp_path) -> object:
    handler = load_all().get("alpaca", "status").handler
    settings = load_settings({"MISMARTERA_HOME": str(tmp_path), **env})
    return handler(AppContext(settings))


def test_status_reports_keys_account_and_clock(api: FakeTradingApi, tmp_path) -> None:
    record = run_status({**KEYS, "ALPACA_BASE_URL": api.url}, tmp_path)
    data = record.to_json()
    assert data["account_status"] == "ACTIVE" and data["cash"] == 25_000.0 and data["paper"] is True
    assert data["market_open"] is True and data["endpoint"] == api.url
    assert data["api_key"] == "****" and "test-secret" not in json.dumps(data, default=str)


def test_missing_keys_say_which_variables_to_set(tmp_path) -> None:
    with pytest.raises(ConfigError, match="set ALPACA_API_KEY and ALPACA_SECRET_KEY"):
        run_status({}, tmp_path)


def test_server_down_is_one_line(tmp_path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ExternalServiceError, match=r"^cannot reach Alpaca at http://127\.0\.0\.1:\d+ "):
        run_status({**KEYS, "ALPACA_BASE_URL": f"http://127.0.0.1:{port}"}, tmp_path)


@pytest.mark.e2e
def test_status_through_the_program(api: FakeTradingApi, run_cli) -> None:
    ok = run_cli("alpaca", "status", "--json", env={**KEYS, "ALPACA_BASE_URL": api.url})
    assert ok.code == 0, ok
    assert json.loads(ok.out)["account_number"] == "PA0000FAKE"
    rejected = run_cli("alpaca", "status", env={**KEYS, "ALPACA_SECRET_KEY": "wrong", "ALPACA_BASE_URL": api.url})
    assert rejected.code == 1, rejected
    assert "Alpaca rejected the API key (HTTP 401 on GET /v2/account)" in rejected.err
    assert "Traceback" not in rejected.err
