"""Alpaca historical bars through alpaca-py against the fake server: pages, retries, timeouts, errors."""

from __future__ import annotations

import socket
import time
from datetime import UTC, date, datetime

import pytest
from fake_alpaca.server import API_KEY, SECRET_KEY, FakeAlpaca

from mismartera.config.settings import AlpacaSettings
from mismartera.data.bar_store import BarStore
from mismartera.data.database import Database
from mismartera.data.demo import generate_day
from mismartera.errors import ConfigError, ExternalServiceError, NotFound
from mismartera.integrations.alpaca.historical import HttpPolicy, fetch_bars, import_bars
from mismartera.timekeeping.calendar import TimeManager

FAST = HttpPolicy(timeout=2.0, attempts=3, backoff=0.01, max_wait=2.0)
START = datetime(2024, 11, 1, tzinfo=UTC)
END = datetime(2024, 11, 6, tzinfo=UTC)


@pytest.fixture(scope="module")
def demo_rows() -> dict[str, list[tuple]]:
    tm = TimeManager()
    out = {}
    for symbol, price in (("AAPL", 225.0), ("MSFT", 410.0)):
        rows = []
        for day in (date(2024, 11, 1), date(2024, 11, 4), date(2024, 11, 5)):
            day_rows, price = generate_day(symbol, tm.session(day), 7, price)
            rows.extend(day_rows)
        out[symbol] = rows
    return out


@pytest.fixture
def fake_alpaca(demo_rows: dict[str, list[tuple]]):
    with FakeAlpaca(page_size=500) as server:
        for symbol, rows in demo_rows.items():
            server.add_bars(symbol, rows)
        yield server


def keys(server: FakeAlpaca, **overrides: str | None) -> AlpacaSettings:
    values = {"api_key": API_KEY, "secret_key": SECRET_KEY, "data_url": server.url} | overrides
    return AlpacaSettings(**values)


def test_all_pages_through_alpaca_py(fake_alpaca: FakeAlpaca, demo_rows: dict) -> None:
    got = fetch_bars(keys(fake_alpaca), ["AAPL", "MSFT"], START, END, policy=FAST)
    assert got["AAPL"] == demo_rows["AAPL"] and got["MSFT"] == demo_rows["MSFT"]
    assert len(fake_alpaca.requests) == 2 * 3  # 1170 bars a symbol, 500 a page
    first = fake_alpaca.requests[0]
    assert first.path == "/v2/stocks/bars"
    assert first.query["symbols"] == "AAPL" and first.query["timeframe"] == "1Min" and first.query["feed"] == "iex"
    assert first.headers["apca-api-key-id"] == API_KEY
    assert "page_token" in fake_alpaca.requests[1].query


def test_a_429_is_retried_after_retry_after(fake_alpaca: FakeAlpaca, demo_rows: dict) -> None:
    fake_alpaca.fail(429, times=1, retry_after=1)
    started = time.perf_counter()
    got = fetch_bars(keys(fake_alpaca), ["AAPL"], START, END, policy=FAST)
    assert time.perf_counter() - started >= 0.9
    assert got["AAPL"] == demo_rows["AAPL"]
    assert len(fake_alpaca.requests) == 4


def test_a_500_mid_pagination_is_retried_without_refetching(fake_alpaca: FakeAlpaca, demo_rows: dict) -> None:
    fake_alpaca.fail(500, times=1, after=1)
    got = fetch_bars(keys(fake_alpaca), ["AAPL"], START, END, policy=FAST)
    assert got["AAPL"] == demo_rows["AAPL"]
    tokens = [request.query.get("page_token") for request in fake_alpaca.requests]
    assert len(tokens) == 4 and tokens[0] is None and tokens[1] == tokens[2] is not None  # page 2 asked again


def test_a_persistent_500_fails_cleanly(fake_alpaca: FakeAlpaca) -> None:
    fake_alpaca.fail(500, times=10, message="upstream exploded")
    with pytest.raises(ExternalServiceError) as caught:
        fetch_bars(keys(fake_alpaca), ["AAPL"], START, END, policy=FAST)
    assert str(caught.value) == (f"Alpaca failed with HTTP 500 at {fake_alpaca.url} after 3 tries: "
                                 "upstream exploded")
    assert len(fake_alpaca.requests) == 3


def test_missing_and_rejected_keys(fake_alpaca: FakeAlpaca) -> None:
    with pytest.raises(ConfigError, match=r"^no Alpaca keys: set ALPACA_API_KEY and ALPACA_SECRET_KEY$"):
        fetch_bars(keys(fake_alpaca, secret_key=None), ["AAPL"], START, END, policy=FAST)
    with pytest.raises(ExternalServiceError, match=r"^Alpaca rejected the API key \(HTTP 403 on the market-data API "
                                                   r"at http://127.0.0.1:\d+\); check ALPACA_API_KEY"):
        fetch_bars(keys(fake_alpaca, secret_key="wrong"), ["AAPL"], START, END, policy=FAST)


def test_unreachable_server_and_hung_server(fake_alpaca: FakeAlpaca) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    with pytest.raises(ExternalServiceError, match=r"^cannot reach Alpaca at http://127.0.0.1:"):
        fetch_bars(keys(fake_alpaca, data_url=f"http://127.0.0.1:{closed_port}"), ["AAPL"], START, END,
                   policy=FAST)
    fake_alpaca.hang(10)
    started = time.perf_counter()
    with pytest.raises(ExternalServiceError, match=r"did not answer within 0.3 s"):
        fetch_bars(keys(fake_alpaca), ["AAPL"], START, END, policy=HttpPolicy(timeout=0.3, attempts=2))
    assert time.perf_counter() - started < 3


def test_import_is_idempotent_and_refuses_unknown_symbols(fake_alpaca: FakeAlpaca, sqlite_url: str,
                                                          demo_rows: dict) -> None:
    db = Database(sqlite_url)
    store = BarStore(db)
    try:
        with pytest.raises(NotFound, match=r"^Alpaca has no 1m bars for ZZZZ from 2024-11-01 to 2024-11-05"):
            import_bars(store, keys(fake_alpaca), ["AAPL", "ZZZZ"], date(2024, 11, 1), date(2024, 11, 5),
                        policy=FAST)
        assert store.symbols() == []
        first = import_bars(store, keys(fake_alpaca), ["AAPL", "MSFT"], date(2024, 11, 1), date(2024, 11, 5),
                            policy=FAST)
        assert [(r.symbol, r.bars, r.new) for r in first] == [("AAPL", 1170, 1170), ("MSFT", 1170, 1170)]
        again = import_bars(store, keys(fake_alpaca), ["AAPL"], date(2024, 11, 1), date(2024, 11, 5), policy=FAST)
        assert [(r.bars, r.new) for r in again] == [(1170, 0)]
        assert store.read("AAPL", "1m", 0, 2**40) == demo_rows["AAPL"]
        # Dates are exchange-local and inclusive: one day asked, one day served.
        day = import_bars(store, keys(fake_alpaca), ["MSFT"], date(2024, 11, 4), date(2024, 11, 4), policy=FAST)
        assert day[0].bars == 390
    finally:
        db.dispose()
