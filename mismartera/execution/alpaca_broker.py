"""`AlpacaBroker`: the `Broker` protocol over an Alpaca account (paper by default).

Alpaca fills the orders; this class keeps a local mirror the engine and the status display can
read without I/O: orders (numbered like the simulated broker's, with Alpaca's id alongside), fills,
positions, cash. The mirror is kept current by the account's trade-updates stream and, as a
fallback when the stream is down or missed something, by polling the session's orders every
`poll_interval` seconds. Both paths derive fills from the growth of an order's filled quantity, so
a fill reported by both is booked once.

Orders move through the one table of `execution.order_states`: `submit` makes an order
`pending_new`; Alpaca's answer makes it `new` (or `rejected`, only on Alpaca's definite no); an
answer lost to a timeout or a reset makes it `unknown`, never `rejected`, and the trade updates, the
poll and look-ups by client id (with backoff, on the poller's thread) later tell what it became.

Threads: with a dispatcher attached (`attach_dispatcher`, the session's order gateway) `submit` and
`cancel` only queue the work and return at once; the gateway's thread calls `send` /
`send_cancel`, which do the HTTP (with timeouts, never under the lock). Without one they send in the
caller's thread. Trade updates arrive in the stream thread; the poller refreshes account, positions
and unknown orders in its own thread. One lock guards the mirror.

A stop: `begin_close` makes every later send a no-op (checked just before each POST, and a
Retry-After wait ends at once); queued orders are withdrawn (`cancelled`, never sent); the ones
still without an answer after the grace are recorded `unknown` (`give_up_in_flight`).
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from collections.abc import Callable, Container
from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol

from mismartera.config.session import TradingConfig
from mismartera.config.settings import AlpacaSettings, Settings
from mismartera.errors import MismarteraError, NotFound, StateError, UsageError
from mismartera.execution.account import EPSILON, AccountSnapshot, Position, PositionSnapshot
from mismartera.execution.broker import EVERY_SYMBOL
from mismartera.execution.order_states import OrderEvent, can_move, event_for, next_status
from mismartera.execution.orders import Fill, Order, OrderStatus, OrderType, Side, TimeInForce
from mismartera.execution.risk import RiskLimits, order_problem
from mismartera.integrations.alpaca.stream import AlpacaTradeUpdates
from mismartera.integrations.alpaca.trading import (
    AlpacaTrading,
    BrokerOrder,
    NotSent,
    OutcomeUnknown,
    RetryPolicy,
    TradeEvent,
)

log = logging.getLogger(__name__)

LOOKUP_BACKOFF = (0.5, 30.0)   # seconds: the first wait between look-ups of an unknown order, and the cap


class Clock(Protocol):
    def now(self) -> datetime: ...


def order_status(alpaca_status: str, filled_quantity: float) -> OrderStatus:
    """Alpaca's word for an order in mismartera's: what an order of unknown fate becomes when Alpaca
    reports it so (the same table every order moves by)."""
    return next_status(OrderStatus.UNKNOWN, event_for(alpaca_status, filled_quantity))


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
        self.api = api or AlpacaTrading(settings, paper=paper, policy=policy, sleep=self._retry_wait)
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
        self._lookups: dict[int, tuple[float, float]] = {}   # unknown order id -> (next look-up, backoff)
        self._dispatch: Callable[[str, int], bool] | None = None
        self._sending: set[int] = set()            # ids of orders whose POST is under way
        self._closing = threading.Event()          # set: a stop began, nothing more is sent
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
        self._closing.set()
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
    def stream_state(self) -> str:
        """The trade-updates stream's state (`streaming`, `reconnecting`, `failed`, …)."""
        return self._updates.state if self._updates is not None else "not started"

    # ------------------------------------------------------------------ orders
    def attach_dispatcher(self, dispatch: Callable[[str, int], bool]) -> None:
        """From now on `submit`/`cancel` queue ("submit"|"cancel", order id) through `dispatch`
        (False: the queue is full) and return at once; the dispatcher's thread calls `send` and
        `send_cancel`."""
        self._dispatch = dispatch

    def submit(self, symbol: str, side: Side | str, quantity: float, order_type: OrderType | str = "market",
               limit_price: float | None = None, stop_price: float | None = None,
               time_in_force: TimeInForce | str = "day", strategy: str | None = None,
               note: str | None = None) -> Order:
        """Place an order. With a dispatcher it comes back `pending_new` at once (or `rejected` by a
        risk limit); without one it is sent here and comes back as Alpaca answered: `new`,
        `rejected` with Alpaca's reason, or `unknown` when the answer was lost."""
        if not isinstance(symbol, str) or not symbol.strip():
            raise UsageError(f"symbol must be a ticker like AAPL (got {symbol!r})")
        now = self._clock.now()
        with self._lock:
            order = Order(
                id=self._next_id, client_order_id=f"{self._prefix}-{self._next_id}", symbol=symbol.strip().upper(),
                side=_choice(Side, side, "side"), quantity=float(quantity),
                order_type=_choice(OrderType, order_type, "order type"),
                time_in_force=_choice(TimeInForce, time_in_force, "time in force"), status=OrderStatus.PENDING_NEW,
                created_at=now, updated_at=now, strategy=strategy, reason=note,
                limit_price=None if limit_price is None else float(limit_price),
                stop_price=None if stop_price is None else float(stop_price),
            )
            self._next_id += 1
            self._orders[order.id] = order
            self._by_client_id[order.client_order_id] = order.id
            self._changed[order.id] = order
            reason = self._pre_trade(order)
            if reason is not None:
                self._move(order, OrderEvent.REJECT, reason, now)
                return replace(order)
            if self._closing.is_set():
                self._move(order, OrderEvent.WITHDRAW, "not sent: the session is stopping", now)
                return replace(order)
            dispatch = self._dispatch
            if dispatch is not None:
                if not dispatch("submit", order.id):
                    self._move(order, OrderEvent.REJECT, "rejected: too many orders waiting to be sent", now)
                return replace(order)
        self.send(order.id)
        with self._lock:
            return replace(order)

    def send(self, order_id: int) -> None:
        """POST a `pending_new` order to Alpaca (the gateway's thread, or `submit`'s without one).

        Nothing is sent once `begin_close` was called (asked just before the POST). Only Alpaca's
        definite refusal rejects the order; a lost answer makes it `unknown`, and the poller looks
        it up by client id until Alpaca's truth arrives."""
        with self._lock:
            order = self._orders[order_id]
            if order.status is not OrderStatus.PENDING_NEW:
                return   # withdrawn (cancelled before it was sent, or the stop)
            self._sending.add(order_id)
        try:
            self._post(order)
        finally:
            with self._lock:
                self._sending.discard(order_id)

    def _post(self, order: Order) -> None:
        try:
            remote = self.api.submit(order.symbol, order.side.value, order.quantity, order.order_type.value,
                                     time_in_force=order.time_in_force.value, limit_price=order.limit_price,
                                     stop_price=order.stop_price, client_order_id=order.client_order_id,
                                     allow_send=self.may_send, look_up_unknown=False)
        except NotSent:
            with self._lock:
                self._move(order, OrderEvent.WITHDRAW, "not sent: the session is stopping", self._clock.now())
            return
        except OutcomeUnknown as exc:
            with self._lock:
                self._move(order, OrderEvent.LOSE, str(exc), self._clock.now())
                self._lookups.setdefault(order.id, (time.monotonic(), LOOKUP_BACKOFF[0]))
            log.warning("order %s (%s %g %s): %s; looking it up by client id", order.client_order_id,
                        order.side.value, order.quantity, order.symbol, exc)
            self._wake.set()
            return
        except MismarteraError as exc:
            with self._lock:
                self._move(order, OrderEvent.REJECT, f"rejected: {exc}", self._clock.now())
            return
        with self._lock:
            self._sync(order, remote)

    def may_send(self) -> bool:
        """False once a stop began: no order is sent after that."""
        return not self._closing.is_set()

    def _retry_wait(self, seconds: float) -> None:
        """The wait between HTTP retries (a Retry-After of 25 s, say); a stop ends it at once."""
        self._closing.wait(seconds)

    def _move(self, order: Order, event: OrderEvent, reason: str | None, at: datetime) -> bool:
        """Move `order` by `event` if the table allows it (news heard twice is ignored); under the lock."""
        if not can_move(order.status, event):
            log.debug("order %s is %s: ignoring %s", order.id, order.status.value, event.value)
            return False
        order.status = next_status(order.status, event)
        if reason is not None:
            order.reason = reason
        order.updated_at = at
        self._changed[order.id] = order
        return True

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
        """Cancel an open order: one not sent yet is withdrawn; one Alpaca has is cancelled there
        (queued through the dispatcher when there is one; returned as Alpaca then reports it when
        not)."""
        with self._lock:
            order = self._orders.get(order_id)
            if order is None:
                raise NotFound(f"order {order_id} not found")
            if not order.status.open:
                raise StateError(f"cannot cancel order {order_id}: it is already {order.status.value}")
            if order.status is OrderStatus.PENDING_NEW and order.id not in self._sending:
                self._move(order, OrderEvent.WITHDRAW, "cancelled before it was sent", self._clock.now())
                return replace(order)
            broker_id = order.broker_order_id
            if broker_id is None:
                raise StateError(f"cannot cancel order {order_id}: Alpaca has not confirmed it yet "
                                 f"(it is {order.status.value})")
            dispatch = self._dispatch
            if dispatch is not None:
                if not dispatch("cancel", order.id):
                    raise StateError(f"cannot cancel order {order_id} now: too many orders waiting to be sent")
                return replace(order)
        self.send_cancel(order_id)
        with self._lock:
            return replace(order)

    def send_cancel(self, order_id: int) -> None:
        """Ask Alpaca to cancel an order and take its answer (the gateway's thread, or `cancel`'s)."""
        with self._lock:
            order = self._orders[order_id]
            broker_id = order.broker_order_id
        if broker_id is None or not order.status.open or not self.may_send():
            return
        try:
            self.api.cancel(broker_id)
            remote = self.api.order(broker_id)
        except MismarteraError as exc:
            if self._dispatch is None:
                raise
            self.last_error = f"cancel of order {order_id} failed: {exc}"
            log.warning("%s", self.last_error)
            return
        with self._lock:
            self._sync(order, remote)

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

    def replay_view(self) -> tuple[Container[str], dict[str, float]]:
        """Every bar goes through `process_bar`, which marks its price under the lock."""
        return EVERY_SYMBOL, {}

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
                current = remote[symbol].current_price if symbol in remote else None
                if current is not None:
                    self._last.setdefault(symbol, current)

    def _find(self, remote: BrokerOrder) -> Order | None:
        order_id = self._by_broker_id.get(remote.id) or self._by_client_id.get(remote.client_order_id)
        return None if order_id is None else self._orders[order_id]

    def _sync(self, order: Order, remote: BrokerOrder, fill_price: float | None = None) -> None:
        """Make `order` match Alpaca's view; book a fill for any growth of its filled quantity
        (so a fill heard from the stream, the poll and a look-up is booked once)."""
        if order.status.final:
            return
        self._lookups.pop(order.id, None)
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
            order.updated_at = remote.updated_at
            self._changed[order.id] = order
        if order.status is OrderStatus.UNKNOWN and (order.reason or "").startswith("outcome unknown"):
            order.reason = None   # Alpaca's truth arrived: the lost answer is no longer news
        event = event_for(remote.status, order.filled_quantity)
        reason = "rejected by Alpaca" if event is OrderEvent.REJECT and order.reason is None else None
        if can_move(order.status, event) and next_status(order.status, event) is not order.status:
            self._move(order, event, reason, remote.updated_at)

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

    def look_up_unknown(self) -> int:
        """Ask Alpaca, by client id, about each `unknown` order whose next look-up is due (backoff
        doubling from 0.5 s to 30 s); take its answer when it has the order. Returns how many are
        still unknown. Runs on the poller's thread (and the stop's grace wait)."""
        now = time.monotonic()
        with self._lock:
            due = [(order_id, backoff) for order_id, (at, backoff) in self._lookups.items() if at <= now]
            todo = [(self._orders[order_id], backoff) for order_id, backoff in sorted(due)]
        for order, backoff in todo:
            try:
                remote = self.api.order_by_client_id(order.client_order_id)
            except MismarteraError as exc:
                log.info("look-up of unknown order %s failed: %s", order.client_order_id, exc)
                remote = None
            with self._lock:
                if remote is not None:
                    self._sync(order, remote)
                elif order.id in self._lookups:
                    wait = min(backoff * 2, LOOKUP_BACKOFF[1])
                    self._lookups[order.id] = (time.monotonic() + backoff, wait)
        with self._lock:
            return sum(1 for o in self._orders.values() if o.status is OrderStatus.UNKNOWN)

    def _next_lookup_in(self) -> float | None:
        with self._lock:
            if not self._lookups:
                return None
            return max(0.0, min(at for at, _ in self._lookups.values()) - time.monotonic())

    def _poll_loop(self) -> None:
        next_poll = time.monotonic() + self.poll_interval
        while not self._stop.is_set():
            wait = min(self.poll_interval, next_poll - time.monotonic())
            lookup = self._next_lookup_in()
            if lookup is not None:
                wait = min(wait, lookup)
            self._wake.wait(max(0.0, wait))
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                if self._lookups:
                    self.look_up_unknown()
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

    def remote_order(self, client_order_id: str) -> Order | None:
        """Alpaca's view of any order of this account by its client id (an earlier run's too), as an
        `Order` (id 0: not one of this session's), or None when Alpaca has no such order."""
        remote = self.api.order_by_client_id(client_order_id)
        if remote is None:
            return None
        kind = OrderType(remote.order_type) if remote.order_type in set(OrderType) else OrderType.LIMIT
        tif = TimeInForce(remote.time_in_force) if remote.time_in_force in set(TimeInForce) else TimeInForce.DAY
        return Order(0, remote.client_order_id, remote.symbol, _choice(Side, remote.side, "side"), remote.qty, kind,
                     tif, order_status(remote.status, remote.filled_qty), remote.created_at, remote.updated_at,
                     remote.limit_price, remote.stop_price, remote.filled_qty, remote.filled_avg_price,
                     broker_order_id=remote.id)

    # ------------------------------------------------------------------ a stop with orders in flight
    def begin_close(self) -> None:
        """A stop began: no order is sent from now on (a POST about to start is not made, a
        Retry-After wait ends at once). Fills and look-ups still come in."""
        self._closing.set()
        self._wake.set()

    def in_flight(self) -> list[Order]:
        """Orders whose fate Alpaca has not told yet: being sent (`pending_new`) or `unknown`."""
        with self._lock:
            return [replace(o) for o in sorted(self._orders.values(), key=lambda o: o.id)
                    if o.status in (OrderStatus.PENDING_NEW, OrderStatus.UNKNOWN)]

    def give_up_in_flight(self, reason: str = "outcome unknown: the session stopped before Alpaca answered"
                          ) -> list[Order]:
        """At the end of a stop's grace: queued orders are withdrawn, the ones being sent become
        `unknown`; returns every order still `unknown` (for the run's report)."""
        now = self._clock.now()
        with self._lock:
            for order in self._orders.values():
                if order.status is OrderStatus.PENDING_NEW:
                    if order.id in self._sending:
                        self._move(order, OrderEvent.LOSE, reason, now)
                    else:
                        self._move(order, OrderEvent.WITHDRAW, "not sent: the session is stopping", now)
            return [replace(o) for o in sorted(self._orders.values(), key=lambda o: o.id)
                    if o.status is OrderStatus.UNKNOWN]

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


def open_paper(trading: TradingConfig, clock: Clock, settings: Settings, history: int | None) -> AlpacaBroker:
    """`api_config.trade_api: "alpaca_paper"`: Alpaca's paper account, started (see `execution/registry.py`)."""
    return AlpacaBroker(trading, clock, settings.alpaca, paper=True).start()


def open_live(trading: TradingConfig, clock: Clock, settings: Settings, history: int | None) -> AlpacaBroker:
    """`api_config.trade_api: "alpaca_live"`: the real-money account, started (the config requires
    `confirm_live_trading`)."""
    return AlpacaBroker(trading, clock, settings.alpaca, paper=False).start()
