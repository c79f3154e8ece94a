"""`AlpacaTrading` through alpaca-py's TradingClient against the fake trading API on 127.0.0.1:
orders with client ids, retries honouring Retry-After, timeouts, error lines."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
from fake_alpaca.brokerage import FakeBrokerage, FakeTradingApi

from mismartera.config.settings import AlpacaSettings
from mismartera.errors import ConfigError, ExternalServiceError, NotFound, UsageError, WaitTimeout
from mismartera.integrations.alpaca.trading import AlpacaTrading, RetryPolicy

QUICK = RetryPolicy(timeout=0.5, attempts=3, backoff=0.01, max_wait=5.0)


@pytest.fixture
def brokerage() -> FakeBrokerage:
    broker = FakeBrokerage(cash=10_000.0, auto_fill=False)
    broker.prices.update({"AAPL": 100.0, "MSFT": 400.0})
    return broker


@pytest.fixture
def api(brokerage: FakeBrokerage) -> Iterator[FakeTradingApi]:
    with FakeTradingApi(brokerage) as server:
        yield server


def client(url: str, secret: str = "test-secret", policy: RetryPolicy = QUICK,
           sleeps: list[float] | None = None) -> AlpacaTrading:
    sleep = sleeps.append if sleeps is not None else time.sleep
    return AlpacaTrading(AlpacaSettings(api_key="test-key", secret_key=secret, base_url=url), policy=policy,
                         sleep=sleep)


def test_account_clock_and_positions(api: FakeTradingApi, brokerage: FakeBrokerage) -> None:
    trading = client(api.url)
    account = trading.account()
    assert (account.status, account.cash, account.buying_power, account.equity) == ("ACTIVE", 10_000, 10_000, 10_000)
    assert trading.clock().is_open is True
    assert trading.positions() == []
    order = trading.submit("aapl", "buy", 10)
    brokerage.fill(order.id, price=101.0)
    [position] = trading.positions()
    assert (position.symbol, position.qty, position.avg_entry_price) == ("AAPL", 10.0, 101.0)
    assert trading.account().cash == pytest.approx(10_000 - 1010)


def test_orders_carry_a_client_id_and_map_back(api: FakeTradingApi, brokerage: FakeBrokerage) -> None:
    trading = client(api.url)
    order = trading.submit("MSFT", "buy", 2, "limit", limit_price=390.0, client_order_id="mm-test-1")
    assert (order.client_order_id, order.symbol, order.side, order.qty) == ("mm-test-1", "MSFT", "buy", 2.0)
    assert (order.order_type, order.limit_price, order.status, order.time_in_force) == ("limit", 390.0, "new", "day")
    assert trading.order_by_client_id("mm-test-1") == order
    assert trading.order_by_client_id("nope") is None
    assert [o.id for o in trading.orders("open")] == [order.id]
    trading.cancel(order.id)
    assert trading.order(order.id).status == "canceled"
    assert trading.orders("open") == []
    stop = trading.submit("AAPL", "buy", 1, "stop", stop_price=105.0)
    assert stop.client_order_id.startswith("mm-") and stop.stop_price == 105.0


def test_429_is_retried_after_the_servers_retry_after(api: FakeTradingApi, brokerage: FakeBrokerage) -> None:
    sleeps: list[float] = []
    brokerage.fail_next("GET", "/v2/account", 429, retry_after="2", message="too many requests", times=2)
    assert client(api.url, sleeps=sleeps).account().cash == 10_000
    assert sleeps == [2.0, 2.0]


def test_retry_after_is_really_waited_and_capped(api: FakeTradingApi, brokerage: FakeBrokerage) -> None:
    brokerage.fail_next("GET", "/v2/clock", 429, retry_after="0.3")
    started = time.monotonic()
    client(api.url).clock()
    assert 0.3 <= time.monotonic() - started < 2
    sleeps: list[float] = []
    brokerage.fail_next("GET", "/v2/clock", 503, retry_after="3600")
    client(api.url, sleeps=sleeps).clock()
    assert sleeps == [QUICK.max_wait]


def test_5xx_without_retry_after_backs_off_then_gives_a_clear_error(api: FakeTradingApi,
                                                                     brokerage: FakeBrokerage) -> None:
    sleeps: list[float] = []
    brokerage.fail_next("GET", "/v2/positions", 500, message="internal error", times=5)
    with pytest.raises(ExternalServiceError) as info:
        client(api.url, sleeps=sleeps).positions()
    assert str(info.value) == "Alpaca server error on GET /v2/positions (HTTP 500): internal error"
    assert sleeps == [0.01, 0.02]


def test_a_hung_call_times_out(api: FakeTradingApi, brokerage: FakeBrokerage) -> None:
    brokerage.hang_next("GET", "/v2/account", 5, times=3)
    started = time.monotonic()
    with pytest.raises(WaitTimeout, match=r"^Alpaca did not answer GET /v2/account within 0.5 s$"):
        client(api.url).account()
    assert time.monotonic() - started < 2.5


def test_a_retried_post_never_double_orders(api: FakeTradingApi, brokerage: FakeBrokerage) -> None:
    # The first POST is held past the client's timeout but the fake still places the order, as a
    # real server would; the retry must find it by client_order_id instead of posting again.
    brokerage.hang_next("POST", "/v2/orders", 0.8)
    order = client(api.url).submit("AAPL", "buy", 5, client_order_id="mm-once")
    assert brokerage.posts() == 1
    assert len(brokerage.orders) == 1
    assert order.client_order_id == "mm-once"


def test_repeating_a_client_order_id_returns_the_existing_order(api: FakeTradingApi,
                                                                 brokerage: FakeBrokerage) -> None:
    trading = client(api.url)
    first = trading.submit("AAPL", "buy", 1, client_order_id="mm-same")
    assert trading.submit("AAPL", "buy", 1, client_order_id="mm-same") == first
    assert len(brokerage.orders) == 1


def test_broker_refusals_pass_alpacas_message_on(api: FakeTradingApi) -> None:
    trading = client(api.url)
    with pytest.raises(ExternalServiceError, match=r"^insufficient buying power$"):
        trading.submit("MSFT", "buy", 1000)
    with pytest.raises(ExternalServiceError, match=r"insufficient qty available for order \(requested: 1"):
        trading.submit("AAPL", "sell", 1)
    with pytest.raises(NotFound, match="order not found"):
        trading.order("00000000-0000-0000-0000-000000000000")


def test_market_closed_refusal_is_named(api: FakeTradingApi, brokerage: FakeBrokerage) -> None:
    brokerage.fail_next("POST", "/v2/orders", 403, message="market is closed for this asset")
    with pytest.raises(ExternalServiceError, match=r"^market closed: market is closed for this asset$"):
        client(api.url).submit("AAPL", "buy", 1)


def test_rejected_key(api: FakeTradingApi) -> None:
    with pytest.raises(ExternalServiceError, match=r"^Alpaca rejected the API key \(HTTP 401 on GET /v2/account\); "
                                                   r"check ALPACA_API_KEY and ALPACA_SECRET_KEY$"):
        client(api.url, secret="wrong").account()


def test_server_down_is_a_clear_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sleeps: list[float] = []
    with pytest.raises(ExternalServiceError) as info:
        client(f"http://127.0.0.1:{port}", sleeps=sleeps).account()
    assert str(info.value) == f"cannot reach Alpaca at http://127.0.0.1:{port} (GET /v2/account): connection refused"
    assert len(sleeps) == 2


def test_bad_requests_are_refused_before_any_call() -> None:
    with pytest.raises(ConfigError, match="ALPACA_API_KEY"):
        AlpacaTrading(AlpacaSettings())
    trading = client("http://127.0.0.1:9")
    with pytest.raises(UsageError, match="quantity must be positive"):
        trading.submit("AAPL", "buy", 0)
    with pytest.raises(UsageError, match="a limit order needs a limit price"):
        trading.submit("AAPL", "buy", 1, "limit")
    with pytest.raises(UsageError, match="unknown order type 'trailing'"):
        trading.submit("AAPL", "buy", 1, "trailing")
    with pytest.raises(UsageError, match="unknown order status filter"):
        trading.orders("pending")


def test_trading_routes_on_the_shared_fake_server() -> None:
    from fake_alpaca.server import API_KEY, SECRET_KEY, FakeAlpaca
    from fake_alpaca.trading_routes import attach

    with FakeAlpaca() as server:
        brokerage = attach(server, FakeBrokerage(cash=5_000.0, auto_fill=False))
        brokerage.prices["AAPL"] = 50.0
        sleeps: list[float] = []
        trading = AlpacaTrading(AlpacaSettings(api_key=API_KEY, secret_key=SECRET_KEY, base_url=server.url),
                                policy=QUICK, sleep=sleeps.append)
        server.fail(429, retry_after=1.5)
        assert trading.account().cash == 5_000.0
        assert sleeps == [1.5]
        order = trading.submit("AAPL", "buy", 4)
        brokerage.fill(order.id)
        assert [(p.symbol, p.qty) for p in trading.positions()] == [("AAPL", 4.0)]
        assert trading.order_by_client_id(order.client_order_id).status == "filled"
        wrong = AlpacaTrading(AlpacaSettings(api_key=API_KEY, secret_key="nope", base_url=server.url), policy=QUICK)
        with pytest.raises(ExternalServiceError, match=r"^Alpaca rejected the API key \(HTTP 403"):
            wrong.clock()
