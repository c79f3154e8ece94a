"""`AlpacaBroker`: the `Broker` protocol over an Alpaca account (paper by default).

Alpaca fills the orders; this class keeps a local mirror the engine and the status display can
read without I/O: orders (numbered like the simulated broker's, with Alpaca's id alongside), fills,
positions, cash. The mirror is kept current by the account's trade-updates stream and, as a
fallback when the stream is down or missed something, by polling the session's orders every
`poll_interval` seconds. Both paths derive fills from the growth of an order's filled quantity, so
a fill reported by both is booked once.

Threads: `submit`/`cancel` run in the caller's thread (HTTP with timeouts, never under the lock);
trade updates arrive in the stream thread; the poller refreshes account and positions in its own
thread. One lock guards the mirror.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol

from mismartera.config.session import TradingConfig
from mismartera.config.settings import AlpacaSettings
from mismartera.errors import MismarteraError, NotFound, StateError, UsageError
from mismartera.execution.account import EPSILON, AccountSnapshot, Position, PositionSnapshot
from mismartera.execution.orders import Fill, Order, OrderStatus, OrderType, Side, TimeInForce
from mismartera.execution.risk import RiskLimits, order_problem
from mismartera.integrations.alpaca.stream import AlpacaTradeUpdates
from mismartera.integrations.alpaca.trading import AlpacaTrading, BrokerOrder, RetryPolicy, TradeEvent

log = logging.getLogger(__name__)


class Clock(Protocol):
    def now(self) -> datetime: ...


# Alpaca's order statuses in mismartera's words. Anything not final is NEW (or PARTIALLY_FILLED
# once something filled): pending_new, accepted, held, pending_cancel, … all still may fill.
_FINAL = {
    "filled": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELLED,
    "replaced": OrderStatus.CANCELLED,
    "expired": OrderStatus.EXPIRED,
    "done_for_day": OrderStatus.EXPIRED,
    "rejected": OrderStatus.REJECTED,
    "suspended": OrderStatus.REJECTED,
}


def order_status(alpaca_status: str, filled_quantity: float) -> OrderStatus:
    final = _FINAL.get(alpaca_status)
    if final is not None:
        return final
    return OrderStatus.PARTIALLY_FILLED if filled_quantity > EPSILON else OrderStatus.NEW


def _choice(enum: Any, value: Any, name: str) -> Any:
    if isinstance(value, enum):
        return value
    try:
        return enum(str(value).strip().lower())
    except ValueError:
        raise UsageError(f"{name} must be {' or '.join(m.value for m in enum)} (got {value!r})") from None


class AlpacaBroker:
    """Orders placed at Alpaca, mirrored locally.

    Args:
        trading: the session's `trading_config` (its risk limits apply before an order is sent).
        clock: `now() -> datetime` (UTC) for stamping orders refused before they reach Alpaca.
        settings: Alpaca keys and endpoint overrides.
        paper: the paper account (the default); False trades real money — the session config
            only allows that with `api_config.confirm_live_trading`.
        policy: HTTP timeouts and retries.
        poll_interval: seconds between polls of the session's orders and the account.
        order_prefix: client order ids are f"{order_prefix}-{n}"; unique per broker by default,
            because Alpaca refuses a client id it has seen before.
        stream_options: passed to `AlpacaTradeUpdates` (connect_timeout, reconnect_backoff).
        api: an `AlpacaTrading` to use instead of building one.
    """

    def __init__(self, trading: TradingConfig, clock: Clock, settings: AlpacaSettings, *, paper: bool = True,
                 policy: RetryPolicy | None = None, poll_interval: float = 5.0, order_prefix: str | None = None,
                 stream_options: dict[str, Any] | None = None, api: AlpacaTrading | None = None) -> None:
        self.trading = trading
        self.initial_cash = float(trading.initial_cash)
        self.paper = paper
        self.api = api or AlpacaTrading(settings, paper=paper, policy=policy)
        self.poll_interval = poll_interval
        self.last_error: str | None = None
        self._settings = settings
        self._clock = clock
        self._prefix = order_prefix or f"mm-{uuid.uuid4().hex[:10]}"
        self._limits = RiskLimits(trading)
        self._stream_options = dict(stream_options or {})
        self._lock = threading.RLock()
        self._next_id = 1
        self._orders: dict[int, Order] = {}
        self._by_client_id: dict[str, int] = {}
        self._by_broker_id: dict[str, int] = {}
        self._unconfirmed: set[int] = set()        # refused by a transport error: Alpaca may still have it
        self._adopted: set[str] = set()            # Alpaca ids of open orders taken over from an earlier run
        self._positions: dict[str, Position] = {}
        self._last: dict[str, float] = {}
        self._fills: list[Fill] = []
        self._changed: dict[int, Order] = {}
        self._new_fills: list[Fill] = []
        self._cash = self.initial_cash
        self._buying_power = self.initial_cash
        self._fill_count = 0
        self._started_at: datetime | None = None
        self._updates: AlpacaTradeUpdates | None = None
        self._poller: threading.Thread | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._refresh_due = threading.Event()

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> AlpacaBroker:
        """Read the account (its equity becomes the session's initial cash), then listen to trade
        updates and start polling. Errors (keys, unreachable) raise here, before the session runs."""
        account = self.api.account()
        if account.trading_blocked:
            raise StateError(f"Alpaca account {account.account_number} is blocked from trading")
        self._started_at = self.api.clock().timestamp
        with self._lock:
            self.initial_cash = account.equity
            self._cash, self._buying_power = account.cash, account.buying_power
            for remote in self.api.positions():
                position = self._positions[remote.symbol] = Position(remote.symbol)
                position.quantity, position.average_price = remote.qty, remote.avg_entry_price
                if remote.current_price is not None:
                    self._last.setdefault(remote.symbol, remote.current_price)
        self._updates = AlpacaTradeUpdates(self._settings, self.apply_event, paper=self.paper,
                                           on_reconnect=lambda _n: self._wake.set(), **self._stream_options)
        self._updates.start()
        self._poller = threading.Thread(target=self._poll_loop, name="alpaca-broker-poll", daemon=True)
        self._poller.start()
        return self

    def stop(self, timeout: float = 2.0) -> bool:
        """Stop listening and polling; True when both threads ended within `timeout`."""
        deadline = time.monotonic() + timeout
        self._stop.set()
        self._wake.set()
        ok = True
        if self._updates is not None:
            ok = self._updates.stop(max(0.1, deadline - time.monotonic() - 0.1))
        if self._poller is not None:
            self._poller.join(max(0.0, deadline - time.monotonic()))
            ok = ok and not self._poller.is_alive()
        return ok

    @property
    def order_prefix(self) -> str:
        """Every client order id this broker sends starts with f"{order_prefix}-"."""
        return self._prefix

    def adopt_open_orders(self, prefix: str) -> list[Order]:
        """Take over the account's open orders whose client order id starts with f"{prefix}-" (an
        earlier session's, after a crash): they join this broker's orders as they stand at Alpaca,
        nothing is sent, and their later fills and cancels are followed like this session's own. What
        they filled before is already in the account's positions (read by `start`), so it is not
        booked again. Returns the adopted orders."""
        remote_orders = [o for o in self.api.orders("open") if o.client_order_id.startswith(f"{prefix}-")]
        adopted = []
        with self._lock:
            for remote in sorted(remote_orders, key=lambda o: o.created_at):
                if remote.client_order_id in self._by_client_id:
                    continue
                order = Order(
                    id=self._next_id, client_order_id=remote.client_order_id, symbol=remote.symbol,
                    side=_choice(Side, remote.side, "side"), quantity=remote.qty,
                    order_type=_choice(OrderType, remote.order_type, "order type"),
                    time_in_force=_choice(TimeInForce, remote.time_in_force, "time in force"),
                    status=order_status(remote.status, remote.filled_qty), created_at=remote.created_at,
                    updated_at=remote.updated_at, strategy=None, reason=f"adopted from {prefix}",
                    limit_price=remote.limit_price, stop_price=remote.stop_price,
                    filled_quantity=remote.filled_qty, average_fill_price=remote.filled_avg_price)
                order.broker_order_id = remote.id
                self._next_id += 1
                self._orders[order.id] = order
                self._by_client_id[order.client_order_id] = order.id
                self._by_broker_id[remote.id] = order.id
                self._adopted.add(remote.id)
                self._changed[order.id] = order
                adopted.append(replace(order))
        return adopted

    @property
    def stream_state(self) -> str:
        """The trade-updates stream's state (`streaming`, `reconnecting`, `failed`, …)."""
        return self._updates.state if self._updates is not None else "not started"

    # ------------------------------------------------------------------ orders
    def submit(self, symbol: str, side: Side | str, quantity: float, order_type: OrderType | str = "market",
               limit_price: float | None = None, stop_price: float | None = None,
               time_in_force: TimeInForce | str = "day", strategy: str | None = None,
               note: str | None = None) -> Order:
        """Send an order to Alpaca. Returns it NEW (Alpaca accepted it), or REJECTED with the reason:
        a risk limit, or Alpaca's refusal (insufficient buying power, market closed, …)."""
        if not isinstance(symbol, str) or not symbol.strip():
            raise UsageError(f"symbol must be a ticker like AAPL (got {symbol!r})")
        now = self._clock.now()
        with self._lock:
            order = Order(
                id=self._next_id, client_order_id=f"{self._prefix}-{self._next_id}", symbol=symbol.strip().upper(),
                side=_choice(Side, side, "side"), quantity=float(quantity),
                order_type=_choice(OrderType, order_type, "order type"),
                time_in_force=_choice(TimeInForce, time_in_force, "time in force"), status=OrderStatus.NEW,
                created_at=now, updated_at=now, strategy=strategy, reason=note,
                limit_price=None if limit_price is None else float(limit_price),
                stop_price=None if stop_price is None else float(stop_price),
            )
            self._next_id += 1
            self._orders[order.id] = order
            self._by_client_id[order.client_order_id] = order.id
            reason = self._pre_trade(order)
            if reason is not None:
                order.status, order.reason = OrderStatus.REJECTED, reason
                self._changed[order.id] = order
                return replace(order)
        try:
            remote = self.api.submit(order.symbol, order.side.value, order.quantity, order.order_type.value,
                                     time_in_force=order.time_in_force.value, limit_price=order.limit_price,
                                     stop_price=order.stop_price, client_order_id=order.client_order_id)
        except MismarteraError as exc:
            with self._lock:
                order.status, order.reason, order.updated_at = OrderStatus.REJECTED, f"rejected: {exc}", now
                self._unconfirmed.add(order.id)
                self._changed[order.id] = order
                return replace(order)
        with self._lock:
            self._sync(order, remote)
            self._changed[order.id] = order
            return replace(order)

    def _pre_trade(self, order: Order) -> str | None:
        problem = order_problem(order.order_type, order.quantity, order.limit_price, order.stop_price)
        if problem is not None:
            return problem
        t = self.trading
        price = order.limit_price or order.stop_price or self._last.get(order.symbol)
        if price is None:
            if t.max_per_trade is not None or t.max_per_symbol is not None:
                return f"rejected: no price for {order.symbol} yet (the limits need one bar of it first)"
            price = 0.0   # no value limit to check; Alpaca checks buying power itself
        pending: dict[str, float] = {}   # symbol -> signed quantity still to fill of its open orders
        for o in self._orders.values():
            if o.status.open and o.id != order.id:
                pending[o.symbol] = pending.get(o.symbol, 0.0) + self._signed(o, o.quantity - o.filled_quantity)
        before = self._held(order.symbol) + pending.get(order.symbol, 0.0)
        after = before + self._signed(order, order.quantity)
        holding = {s for s in set(self._positions) | set(pending)
                   if s != order.symbol and abs(self._held(s) + pending.get(s, 0.0)) > EPSILON}
        return self._limits.check(symbol=order.symbol, quantity=order.quantity, price=price, before=before,
                                  after=after, commission=0.0, holding=holding, buying_power=self._buying_power)

    def cancel(self, order_id: int) -> Order:
        """Ask Alpaca to cancel an open order; returns it as Alpaca then reports it."""
        with self._lock:
            order = self._orders.get(order_id)
            if order is None:
                raise NotFound(f"order {order_id} not found")
            if not order.status.open:
                raise StateError(f"cannot cancel order {order_id}: it is already {order.status.value}")
            broker_id = order.broker_order_id
        if broker_id is None:
            raise StateError(f"cannot cancel order {order_id}: Alpaca has not confirmed it yet")
        self.api.cancel(broker_id)
        remote = self.api.order(broker_id)
        with self._lock:
            self._sync(order, remote)
            return replace(order)

    def end_of_day(self, close: datetime) -> list[Order]:
        """Alpaca expires DAY orders itself; the expiries arrive as trade updates (or the next poll)."""
        self._wake.set()
        return []

    def flatten(self, reason: str = "end of day") -> list[Order]:
        """Cancel every open order and send market orders closing every position."""
        for order in self.open_orders():
            if order.broker_order_id is not None:
                try:
                    self.cancel(order.id)
                except (StateError, NotFound):
                    pass   # filled or gone meanwhile
        with self._lock:
            closing = [(p.symbol, p.quantity) for p in self._positions.values() if abs(p.quantity) > EPSILON]
        return [self.submit(symbol, Side.SELL if qty > 0 else Side.BUY, abs(qty), OrderType.MARKET,
                            note=f"flatten: {reason}") for symbol, qty in sorted(closing)]

    def flatten_at(self, prices: dict[str, float], at: datetime, reason: str = "end of day") -> list[Fill]:
        """Live orders cannot fill at chosen prices: this flattens at market (`flatten`) and the
        fills arrive later through `drain_changes`."""
        self.flatten(reason)
        return []

    # ------------------------------------------------------------------ prices
    def process_bar(self, symbol: str, ts: int, open: float, high: float, low: float, close: float) -> list[Fill]:
        """Alpaca fills on its own; a bar only marks the symbol's price."""
        self.mark(symbol, close)
        return []

    def mark(self, symbol: str, price: float) -> None:
        with self._lock:
            self._last[symbol] = price

    # ------------------------------------------------------------------ updates from Alpaca
    def apply_event(self, event: TradeEvent) -> None:
        """One trade update (called in the stream thread)."""
        with self._lock:
            order = self._find(event.order)
            if order is None:
                log.debug("trade update for an order of another session: %s", event.order.client_order_id)
                return
            self._sync(order, event.order, event.price if event.event in ("fill", "partial_fill") else None)
        if event.event in ("fill", "partial_fill"):
            self._refresh_due.set()
            self._wake.set()

    def poll(self) -> None:
        """Bring every order of this session up to date from Alpaca (the fallback for missed updates)."""
        remote_orders = self.api.orders("all", after=self._started_at)
        with self._lock:
            adopted = [bid for bid in self._adopted if self._orders[self._by_broker_id[bid]].status.open]
            self._adopted.intersection_update(adopted)
        # Adopted orders were placed before this session started: `after` leaves them out.
        remote_orders += [self.api.order(bid) for bid in adopted]
        with self._lock:
            for remote in remote_orders:
                order = self._find(remote)
                if order is not None:
                    self._sync(order, remote)

    def refresh_account(self) -> None:
        """Adopt Alpaca's cash, buying power and positions, unless a fill landed while fetching them
        (then the numbers are already stale and the next refresh takes them)."""
        with self._lock:
            generation = self._fill_count
        account = self.api.account()
        positions = self.api.positions()
        with self._lock:
            if generation != self._fill_count:
                self._refresh_due.set()
                return
            self._cash, self._buying_power = account.cash, account.buying_power
            busy = {o.symbol for o in self._orders.values() if o.status.open}
            remote = {p.symbol: p for p in positions}
            for symbol in set(remote) | set(self._positions):
                if symbol in busy:
                    continue
                local = self._positions.get(symbol) or Position(symbol)
                held = remote[symbol].qty if symbol in remote else 0.0
                if abs(local.quantity - held) > EPSILON:
                    log.warning("%s: Alpaca holds %g, the session had %g; taking Alpaca's", symbol, held,
                                local.quantity)
                    local.quantity = held
                    local.average_price = remote[symbol].avg_entry_price if symbol in remote else 0.0
                    self._positions[symbol] = local
                if symbol in remote and remote[symbol].current_price is not None:
                    self._last.setdefault(symbol, remote[symbol].current_price)

    def _find(self, remote: BrokerOrder) -> Order | None:
        order_id = self._by_broker_id.get(remote.id) or self._by_client_id.get(remote.client_order_id)
        return None if order_id is None else self._orders[order_id]

    def _sync(self, order: Order, remote: BrokerOrder, fill_price: float | None = None) -> None:
        """Make `order` match Alpaca's view; book a fill for any growth of its filled quantity."""
        if order.status in (OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.EXPIRED) \
                or (order.status is OrderStatus.REJECTED and order.id not in self._unconfirmed):
            return
        self._unconfirmed.discard(order.id)
        order.broker_order_id = remote.id
        self._by_broker_id[remote.id] = order.id
        delta = remote.filled_qty - order.filled_quantity
        if delta > EPSILON:
            before = (order.average_fill_price or 0.0) * order.filled_quantity
            total = (remote.filled_avg_price or fill_price or 0.0) * remote.filled_qty
            price = fill_price if fill_price is not None and remote.filled_avg_price is None \
                else (total - before) / delta
            at = remote.filled_at or remote.updated_at
            self._book_fill(order, delta, price, at)
            order.filled_quantity = remote.filled_qty
            order.average_fill_price = remote.filled_avg_price or (total / remote.filled_qty)
        status = order_status(remote.status, order.filled_quantity)
        if status is OrderStatus.REJECTED and order.reason is None:
            order.reason = "rejected by Alpaca"
        if status is not order.status or delta > EPSILON:
            order.status = status
            order.updated_at = remote.updated_at
            self._changed[order.id] = order

    def _book_fill(self, order: Order, quantity: float, price: float, at: datetime) -> None:
        position = self._positions.get(order.symbol)
        if position is None:
            position = self._positions[order.symbol] = Position(order.symbol)
        signed = self._signed(order, quantity)
        position.apply(signed, price, 0.0)
        self._cash -= signed * price
        self._buying_power -= signed * price
        self._last[order.symbol] = price
        fill = Fill(order.id, order.symbol, order.side, quantity, price, 0.0, at)
        self._fills.append(fill)
        self._new_fills.append(fill)
        self._fill_count += 1

    def _poll_loop(self) -> None:
        next_poll = time.monotonic() + self.poll_interval
        while not self._stop.is_set():
            self._wake.wait(max(0.0, min(self.poll_interval, next_poll - time.monotonic())))
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                if time.monotonic() >= next_poll or self.stream_state != "streaming":
                    next_poll = time.monotonic() + self.poll_interval
                    self.poll()
                    self._refresh_due.set()
                if self._refresh_due.is_set():
                    self._refresh_due.clear()
                    self.refresh_account()
                self.last_error = None
            except MismarteraError as exc:
                self.last_error = str(exc)
                log.warning("alpaca broker poll failed: %s", exc)
                self._stop.wait(min(self.poll_interval, 5.0))

    # ------------------------------------------------------------------ reads (no I/O)
    @staticmethod
    def _signed(order: Order, quantity: float) -> float:
        return quantity if order.side is Side.BUY else -quantity

    def _held(self, symbol: str) -> float:
        position = self._positions.get(symbol)
        return 0.0 if position is None else position.quantity

    def _mark_of(self, position: Position) -> float:
        return self._last.get(position.symbol, position.average_price)

    @property
    def cash(self) -> float:
        return self._cash

    @property
    def equity(self) -> float:
        with self._lock:
            return self._cash + math.fsum(p.quantity * self._mark_of(p) for p in self._positions.values())

    @property
    def buying_power(self) -> float:
        return max(0.0, self._buying_power)

    def position(self, symbol: str) -> PositionSnapshot:
        key = symbol.strip().upper()
        with self._lock:
            return (self._positions.get(key) or Position(key)).snapshot(self._last.get(key))

    def positions(self) -> list[PositionSnapshot]:
        with self._lock:
            return [p.snapshot(self._last.get(p.symbol)) for p in sorted(self._positions.values(),
                                                                          key=lambda p: p.symbol)
                    if abs(p.quantity) > EPSILON]

    def account(self) -> AccountSnapshot:
        with self._lock:
            positions = self.positions()
            return AccountSnapshot(
                initial_cash=self.initial_cash, cash=self._cash, equity=self.equity, buying_power=self.buying_power,
                realized_pnl=math.fsum(p.realized_pnl for p in self._positions.values()),
                unrealized_pnl=math.fsum(p.unrealized_pnl for p in positions), positions=tuple(positions),
            )

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        key = None if symbol is None else symbol.strip().upper()
        with self._lock:
            return [replace(o) for o in sorted(self._orders.values(), key=lambda o: o.id)
                    if o.status.open and (key is None or o.symbol == key)]

    def orders(self) -> list[Order]:
        with self._lock:
            return [replace(o) for o in self._orders.values()]

    def fills(self) -> list[Fill]:
        with self._lock:
            return list(self._fills)

    def drain_changes(self) -> tuple[list[Order], list[Fill]]:
        """Orders created or changed and fills booked since the last call (copies, oldest first)."""
        with self._lock:
            orders = [replace(o) for o in sorted(self._changed.values(), key=lambda o: o.id)]
            fills, self._new_fills = self._new_fills, []
            self._changed = {}
            return orders, fills
