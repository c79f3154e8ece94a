"""Alpaca's trading REST API (account, clock, orders, positions) through alpaca-py's TradingClient.

What this adds to alpaca-py, and why:
- a timeout on every HTTP call (alpaca-py sets none, so a hung server would hang the engine);
- our own retry of 429 and 5xx that honours `Retry-After` with bounded waits (alpaca-py retries
  429/504 only, after a fixed 3 s, ignoring the header) — its own retry is switched off;
- `client_order_id` on every order, and after a failure whose outcome is unknown (timeout,
  dropped connection, 5xx) a look-up by that id before posting again, so a retry cannot
  double-order;
- one-line mismartera errors instead of alpaca-py/requests exceptions;
- plain frozen records (`BrokerOrder`, `BrokerPosition`, …) so nothing above `integrations/`
  touches an alpaca-py type.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar, cast

import requests
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, QueryOrderStatus
from alpaca.trading.enums import TimeInForce as AlpacaTimeInForce
from alpaca.trading.models import Clock, Position, TradeAccount
from alpaca.trading.requests import GetOrdersRequest, LimitOrderRequest, MarketOrderRequest, StopOrderRequest

from mismartera.config.settings import AlpacaSettings, mask_secret
from mismartera.errors import ConfigError, ExternalServiceError, NotFound, StateError, UsageError, WaitTimeout
from mismartera.integrations.alpaca.errors import rejected_key

log = logging.getLogger(__name__)

PAPER_URL = "https://paper-api.alpaca.markets"
LIVE_URL = "https://api.alpaca.markets"
T = TypeVar("T")


class OutcomeUnknown(ExternalServiceError):
    """An order was sent and the answer was lost (a timeout, a reset connection, a 5xx): Alpaca may
    or may not have it. Never a rejection: the order's client id finds out later."""


class NotSent(StateError):
    """An order was not sent because the caller no longer allows it (the session is stopping)."""


@dataclass(frozen=True)
class RetryPolicy:
    """How patient every call is. Tests shrink these numbers; the defaults suit a live session.

    Args:
        timeout: seconds one HTTP request may take.
        attempts: tries in all for a call that got 429, 5xx, a timeout or no connection.
        backoff: first wait between tries (doubled each time) when the server gives no Retry-After.
        max_wait: cap on any one wait, Retry-After included.
    """

    timeout: float = 10.0
    attempts: int = 4
    backoff: float = 0.5
    max_wait: float = 30.0


@dataclass(frozen=True)
class BrokerAccount:
    account_number: str
    status: str
    currency: str
    cash: float
    buying_power: float
    equity: float
    portfolio_value: float
    trading_blocked: bool
    pattern_day_trader: bool


@dataclass(frozen=True)
class MarketClock:
    timestamp: datetime
    is_open: bool
    next_open: datetime
    next_close: datetime


@dataclass(frozen=True)
class BrokerOrder:
    """An order as Alpaca reports it (`status` is Alpaca's word: new, accepted, filled, canceled, …)."""

    id: str
    client_order_id: str
    symbol: str
    side: str
    qty: float
    order_type: str
    time_in_force: str
    status: str
    filled_qty: float
    filled_avg_price: float | None
    limit_price: float | None
    stop_price: float | None
    created_at: datetime
    updated_at: datetime
    filled_at: datetime | None


@dataclass(frozen=True)
class BrokerPosition:
    symbol: str
    qty: float             # negative when short
    avg_entry_price: float
    cost_basis: float
    market_value: float | None
    current_price: float | None
    unrealized_pl: float | None


@dataclass(frozen=True)
class TradeEvent:
    """One message of the account's trade-updates stream."""

    event: str             # new, fill, partial_fill, canceled, expired, rejected, …
    order: BrokerOrder
    timestamp: datetime
    price: float | None = None
    qty: float | None = None
    position_qty: float | None = None
    execution_id: str | None = None


def _num(value: Any) -> float | None:
    return None if value is None or value == "" else float(value)


def _word(value: Any) -> str:
    return str(getattr(value, "value", value) or "")


def order_from_alpaca(order: Any) -> BrokerOrder:
    return BrokerOrder(
        id=str(order.id), client_order_id=order.client_order_id, symbol=order.symbol or "",
        side=_word(order.side), qty=_num(order.qty) or 0.0, order_type=_word(order.order_type or order.type),
        time_in_force=_word(order.time_in_force), status=_word(order.status),
        filled_qty=_num(order.filled_qty) or 0.0, filled_avg_price=_num(order.filled_avg_price),
        limit_price=_num(order.limit_price), stop_price=_num(order.stop_price),
        created_at=order.created_at, updated_at=order.updated_at, filled_at=order.filled_at,
    )


def trade_event_from_alpaca(update: Any) -> TradeEvent:
    return TradeEvent(
        event=_word(update.event), order=order_from_alpaca(update.order), timestamp=update.timestamp,
        price=_num(update.price), qty=_num(update.qty), position_qty=_num(update.position_qty),
        execution_id=None if update.execution_id is None else str(update.execution_id),
    )


class _TimeoutSession(requests.Session):
    """A requests session whose every request has a timeout unless the caller gives one."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.default_timeout = timeout

    def request(self, method: str, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.default_timeout)
        return super().request(method, url, *args, **kwargs)


class _Retryable(Exception):
    """A try failed in a way worth another try; `unknown_outcome` when the server may have acted."""

    def __init__(self, error: ExternalServiceError | WaitTimeout, wait: float | None, unknown_outcome: bool) -> None:
        super().__init__(str(error))
        self.error = error
        self.wait = wait
        self.unknown_outcome = unknown_outcome


def _alpaca_message(exc: APIError) -> str:
    try:
        return str(json.loads(str(exc)).get("message") or exc).strip()
    except (ValueError, AttributeError):
        return str(exc).strip() or "no message"


def _retry_after(response: requests.Response | None) -> float | None:
    """Seconds the server asked us to wait (`Retry-After: 2` or an HTTP date), if it said."""
    if response is None:
        return None
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
        sent = parsedate_to_datetime(response.headers["Date"])
    except (KeyError, TypeError, ValueError):
        return None
    return max(0.0, (when - sent).total_seconds())


class AlpacaTrading:
    """Alpaca's trading API for one account: paper by default, live only when asked.

    Args:
        settings: keys and `base_url` (ALPACA_BASE_URL) from `mismartera.config`.
        paper: the paper account (True) or real money (False; the session config guards this).
        policy: timeouts and retries.
        sleep: how to wait between retries (tests pass a recorder).
    """

    def __init__(self, settings: AlpacaSettings, *, paper: bool = True, policy: RetryPolicy | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if not settings.has_keys:
            raise ConfigError("Alpaca keys are missing: set ALPACA_API_KEY and ALPACA_SECRET_KEY")
        self.policy = policy or RetryPolicy()
        self.paper = paper
        self.base_url = (settings.base_url or (PAPER_URL if paper else LIVE_URL)).rstrip("/")
        self._sleep = sleep
        self._client = TradingClient(settings.api_key, settings.secret_key, paper=paper, url_override=self.base_url)
        # alpaca-py has no public hook for these: a session with a timeout, and its own fixed-wait
        # retry switched off (ours below honours Retry-After and bounds every wait).
        self._client._session = _TimeoutSession(self.policy.timeout)
        self._client._retry = 0

    # ------------------------------------------------------------------ account and market
    def account(self) -> BrokerAccount:
        # alpaca-py returns models (or raw dicts when raw_data=True, which this client never sets)
        a = cast(TradeAccount, self._call("GET /v2/account", self._client.get_account))
        return BrokerAccount(
            account_number=a.account_number, status=_word(a.status), currency=a.currency or "USD",
            cash=_num(a.cash) or 0.0, buying_power=_num(a.buying_power) or 0.0, equity=_num(a.equity) or 0.0,
            portfolio_value=_num(a.portfolio_value) or _num(a.equity) or 0.0,
            trading_blocked=bool(a.trading_blocked), pattern_day_trader=bool(a.pattern_day_trader),
        )

    def clock(self) -> MarketClock:
        c = cast(Clock, self._call("GET /v2/clock", self._client.get_clock))
        return MarketClock(c.timestamp, bool(c.is_open), c.next_open, c.next_close)

    def positions(self) -> list[BrokerPosition]:
        rows = cast(list[Position], self._call("GET /v2/positions", self._client.get_all_positions))
        out = []
        for p in rows:
            qty = _num(p.qty) or 0.0
            if _word(p.side) == "short" and qty > 0:
                qty = -qty
            out.append(BrokerPosition(p.symbol, qty, _num(p.avg_entry_price) or 0.0, _num(p.cost_basis) or 0.0,
                                      _num(p.market_value), _num(p.current_price), _num(p.unrealized_pl)))
        return out

    # ------------------------------------------------------------------ orders
    def submit(self, symbol: str, side: str, qty: float, order_type: str = "market", *,
               time_in_force: str = "day", limit_price: float | None = None, stop_price: float | None = None,
               client_order_id: str | None = None, allow_send: Callable[[], bool] | None = None,
               look_up_unknown: bool = True) -> BrokerOrder:
        """Place an order; retried safely (a retry after an unknown outcome first looks the order up).

        Args:
            allow_send: asked just before every POST (the first and each retry); False raises
                `NotSent` instead of sending (a session that is stopping sends nothing new).
            look_up_unknown: False raises `OutcomeUnknown` at the first lost answer instead of
                looking the order up and retrying here (the caller resolves it in the background).
        """
        cid = client_order_id or new_client_order_id()
        request = self._order_request(symbol, side, qty, order_type, time_in_force, limit_price, stop_price, cid)
        label = f"POST /v2/orders ({side} {qty:g} {symbol})"

        def post() -> Any:
            if allow_send is not None and not allow_send():
                raise NotSent(f"order {cid} not sent: the session is stopping")
            return self._client.submit_order(request)

        def find_previous() -> Any | None:
            found = self.order_by_client_id(cid)
            if found is not None:
                log.warning("order %s was placed by an earlier try; not posting it again", cid)
            return found

        try:
            result = self._call(label, post, before_retry=find_previous if look_up_unknown else None,
                                unknown_is_final=not look_up_unknown)
        except OutcomeUnknown:
            raise
        except ExternalServiceError as exc:
            # Alpaca keeps client ids unique: the order exists already (an earlier try of ours that
            # raced the look-up, or the caller repeating an id), so this submit is that order.
            if "client_order_id" not in str(exc) or (found := self.order_by_client_id(cid)) is None:
                raise
            return found
        return result if isinstance(result, BrokerOrder) else order_from_alpaca(result)

    def order_by_client_id(self, client_order_id: str) -> BrokerOrder | None:
        try:
            order = self._call(f"GET /v2/orders:by_client_order_id ({client_order_id})",
                               self._client.get_order_by_client_id, client_order_id)
        except NotFound:
            return None
        return order_from_alpaca(order)

    def order(self, order_id: str) -> BrokerOrder:
        return order_from_alpaca(self._call(f"GET /v2/orders/{order_id}", self._client.get_order_by_id, order_id))

    def orders(self, status: str = "all", after: datetime | None = None, limit: int = 500) -> list[BrokerOrder]:
        """Orders, newest first: status "open", "closed" or "all"."""
        try:
            query = GetOrdersRequest(status=QueryOrderStatus(status), after=after, limit=limit)
        except ValueError:
            raise UsageError(f"unknown order status filter {status!r} (expected open, closed or all)") from None
        rows = self._call("GET /v2/orders", self._client.get_orders, query)
        return [order_from_alpaca(o) for o in rows]

    def cancel(self, order_id: str) -> None:
        self._call(f"DELETE /v2/orders/{order_id}", self._client.cancel_order_by_id, order_id)

    @staticmethod
    def _order_request(symbol: str, side: str, qty: float, order_type: str, time_in_force: str,
                       limit_price: float | None, stop_price: float | None, cid: str) -> Any:
        if qty <= 0:
            raise UsageError(f"order quantity must be positive, got {qty:g}")
        try:
            common = {"symbol": symbol.upper(), "qty": qty, "side": OrderSide(side),
                      "time_in_force": AlpacaTimeInForce(time_in_force), "client_order_id": cid}
        except ValueError:
            raise UsageError(f"bad order: side {side!r} / time in force {time_in_force!r} "
                             "(expected buy|sell and day|gtc)") from None
        if order_type == "market":
            return MarketOrderRequest(**common)
        if order_type == "limit":
            if limit_price is None:
                raise UsageError("a limit order needs a limit price")
            return LimitOrderRequest(limit_price=limit_price, **common)
        if order_type == "stop":
            if stop_price is None:
                raise UsageError("a stop order needs a stop price")
            return StopOrderRequest(stop_price=stop_price, **common)
        raise UsageError(f"unknown order type {order_type!r} (expected market, limit or stop)")

    # ------------------------------------------------------------------ the one call path
    def _call(self, label: str, fn: Callable[..., T], *args: Any,
              before_retry: Callable[[], Any | None] | None = None, unknown_is_final: bool = False) -> T:
        """Run one alpaca-py call with retries; raise one mismartera error line when it gives up.

        With `unknown_is_final` a failure that may have reached the server is not retried: it
        raises `OutcomeUnknown` at once (only failures that surely did nothing, 429 and a refused
        connection, are tried again)."""
        policy = self.policy
        unknown_outcome = False
        for attempt in range(1, policy.attempts + 1):
            if unknown_outcome and before_retry is not None:
                previous = before_retry()
                if previous is not None:
                    return previous
            try:
                return self._once(label, fn, *args)
            except _Retryable as retry:
                unknown_outcome = unknown_outcome or retry.unknown_outcome
                if unknown_outcome and unknown_is_final:
                    raise OutcomeUnknown(f"outcome unknown: {retry.error}") from None
                if attempt == policy.attempts:
                    if unknown_outcome and before_retry is not None:
                        raise OutcomeUnknown(f"outcome unknown: {retry.error}") from None
                    raise retry.error from None
                wait = retry.wait if retry.wait is not None else policy.backoff * 2 ** (attempt - 1)
                wait = min(wait, policy.max_wait)
                log.warning("%s: %s; try %d of %d in %.2f s", label, retry.error, attempt + 1, policy.attempts, wait)
                self._sleep(wait)
        raise AssertionError("unreachable")  # the loop returns or raises

    def _once(self, label: str, fn: Callable[..., T], *args: Any) -> T:
        try:
            return fn(*args)
        except requests.Timeout:
            raise _Retryable(WaitTimeout(f"Alpaca did not answer {label} within {self.policy.timeout:g} s"),
                             None, unknown_outcome=True) from None
        except requests.ConnectionError as exc:
            # refused before anything was sent cannot have placed an order; a reset midway might have
            refused = "refused" in str(exc).lower() or "failed to establish" in str(exc).lower()
            raise _Retryable(ExternalServiceError(f"cannot reach Alpaca at {self.base_url} ({label}): "
                                                  f"{'connection refused' if refused else 'connection lost'}"),
                             None, unknown_outcome=not refused) from None
        except requests.RequestException as exc:
            raise ExternalServiceError(f"Alpaca request {label} failed: {exc}") from None
        except APIError as exc:
            raise self._translate(label, exc) from None

    def _translate(self, label: str, exc: APIError) -> Exception:
        status = exc.status_code
        message = _alpaca_message(exc)
        lowered = message.lower()
        if status == 429:
            return _Retryable(ExternalServiceError(f"Alpaca rate limit hit on {label} (HTTP 429): {message}"),
                              _retry_after(exc.response), unknown_outcome=False)
        if status is not None and status >= 500:
            return _Retryable(ExternalServiceError(f"Alpaca server error on {label} (HTTP {status}): {message}"),
                              _retry_after(exc.response), unknown_outcome=True)
        if status == 401 or (status == 403 and ("forbidden" in lowered or "not authorized" in lowered
                                                or "unauthorized" in lowered)):
            return rejected_key(status, label)
        if status == 404:
            return NotFound(f"Alpaca: not found: {label}: {message}")
        if "buying power" in lowered:
            return ExternalServiceError(_labelled("insufficient buying power", message))
        if "market" in lowered and "closed" in lowered:
            return ExternalServiceError(_labelled("market closed", message))
        return ExternalServiceError(f"Alpaca refused {label} (HTTP {status}): {message}")


def _labelled(label: str, message: str) -> str:
    """Alpaca's own message, after our label unless it already says the same."""
    return message if message.lower().startswith(label) else f"{label}: {message}"


def new_client_order_id() -> str:
    """A fresh id Alpaca stores with the order (at most 128 characters), so a retry can find it."""
    return "mm-" + uuid.uuid4().hex


@dataclass(frozen=True)
class ConnectionReport:
    """What `alpaca status` shows: which keys and endpoint are in use, and what Alpaca says."""

    api_key: str           # masked
    secret_key: str        # masked
    base_url: str
    paper: bool
    account: BrokerAccount
    clock: MarketClock


def check_connection(settings: AlpacaSettings, *, paper: bool = True, policy: RetryPolicy | None = None,
                     sleep: Callable[[float], None] = time.sleep) -> ConnectionReport:
    """Ask Alpaca for the account and the clock with the configured keys (raises the one-line
    error: missing keys, rejected key, unreachable server, timeout)."""
    trading = AlpacaTrading(settings, paper=paper, policy=policy or RetryPolicy(timeout=5.0, attempts=2), sleep=sleep)
    account = trading.account()
    return ConnectionReport(mask_secret(settings.api_key), mask_secret(settings.secret_key), trading.base_url, paper,
                            account, trading.clock())
