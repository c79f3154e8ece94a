"""`SimulatedBroker`: fills a backtest's orders against the bars the engine reveals.

The engine calls `process_bar` when a 1m bar of a symbol becomes visible, before any strategy sees
that bar, so an order placed while handling bar t can only fill on a later bar: no look-ahead.
Every fill rule is an assumption about a market we cannot see inside a bar; each one is stated
where the code makes it. The broker belongs to the thread that drives the session (it takes no
locks, to keep `process_bar` a dict lookup on bars with nothing to fill); other threads read
`account()` and friends, which copy what they return.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol, TypeVar

from mismartera.config.session import TradingConfig
from mismartera.config.settings import Settings
from mismartera.errors import DataError, NotFound, StateError, UsageError
from mismartera.execution.account import EPSILON, AccountSnapshot, Position, PositionSnapshot
from mismartera.execution.orders import Fill, Order, OrderStatus, OrderType, Side, TimeInForce
from mismartera.execution.risk import RiskLimits, order_problem


class Clock(Protocol):
    def now(self) -> datetime: ...


E = TypeVar("E", bound=StrEnum)


def _choice(enum: type[E], value: E | str, name: str) -> E:
    if isinstance(value, enum):
        return value
    try:
        return enum(str(value).strip().lower())
    except ValueError:
        choices = " or ".join(member.value for member in enum)
        raise UsageError(f"{name} must be {choices} (got {value!r})") from None


def _ticker(symbol: object) -> str:
    """`symbol` as the broker keys it (stripped, upper case); UsageError if it is no ticker."""
    if not isinstance(symbol, str) or not symbol.strip():
        raise UsageError(f"symbol must be a ticker like AAPL (got {symbol!r})")
    return symbol.strip().upper()


def _number(name: str, value: object) -> None:
    """UsageError unless `value` is an int or a float (a bool is not a number here)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UsageError(f"{name} must be a number (got {value!r})")


def signed_quantity(order: Order) -> float:
    """The order's quantity, negative for a sell."""
    return order.quantity if order.side is Side.BUY else -order.quantity


def fill_price(order: Order, open_: float, high: float, low: float, slippage: float) -> float | None:
    """The price `order` fills at on a bar with this open/high/low, or None if the bar does not reach it.

    `slippage` is a fraction (slippage_bps / 10_000) that always works against the trader.
    """
    buy = order.side is Side.BUY
    if order.order_type is OrderType.MARKET:
        # Assumption: a market order fills at the first price of the next bar, its open, moved
        # against us by the slippage (a buy pays up, a sell gets less).
        return open_ * (1.0 + slippage) if buy else open_ * (1.0 - slippage)
    if order.order_type is OrderType.LIMIT:
        limit = order.limit_price
        assert limit is not None  # order_problem refused limit orders without one
        # Assumption: a limit is filled as soon as the bar's range touches it (touching is enough;
        # a real queue might not reach us), at the limit, or at the open when the bar opened
        # beyond it (a gap through the limit gives the better price). No slippage: limits cap it.
        if buy:
            return min(limit, open_) if low <= limit else None
        return max(limit, open_) if high >= limit else None
    stop = order.stop_price
    assert stop is not None
    # Assumption: a stop triggers when the range reaches it and becomes a market order, filled at
    # the stop, or at the open when the bar gapped through it (the worse price), plus slippage.
    if buy:
        return max(stop, open_) * (1.0 + slippage) if high >= stop else None
    return min(stop, open_) * (1.0 - slippage) if low <= stop else None


class SimulatedBroker:
    """An account that fills orders on revealed bars. See the module docstring for the rules.

    Args:
        trading: the session's `trading_config` (cash, limits, commission, slippage, shorting).
        clock: anything with `now() -> datetime` (UTC); orders are stamped with it.
        order_prefix: client order ids are f"{order_prefix}-{id}"; give each run its own prefix
            when orders of several runs share one table.
        history: how many final (filled, cancelled, expired, rejected) orders and how many fills
            to keep for `orders()` and `fills()`; None keeps the whole session's. A long backtest
            that stores what `drain_changes` hands over gives a bound, so its memory stays flat:
            a year of minute bars can make tens of thousands of orders.
    """

    def __init__(self, trading: TradingConfig, clock: Clock, order_prefix: str = "sim",
                 history: int | None = None) -> None:
        if history is not None and (isinstance(history, bool) or not isinstance(history, int) or history < 0):
            raise UsageError(f"history must be a whole number >= 0 or None (got {history!r})")
        self.trading = trading
        self.initial_cash = float(trading.initial_cash)
        self._clock = clock
        self._prefix = order_prefix
        self._limits = RiskLimits(trading)
        self._slippage = trading.slippage_bps / 10_000.0
        self._cash = self.initial_cash
        self._next_id = 1
        self._orders: dict[int, Order] = {}
        self._open: dict[str, list[Order]] = {}       # symbol -> open orders, oldest first
        self._placed_at: dict[int, float] = {}        # open order id -> epoch seconds it was placed
        self._reserved: dict[int, float] = {}         # open order id -> buying power it holds
        self._pending: dict[str, float] = {}          # symbol -> signed quantity of its open orders
        self._positions: dict[str, Position] = {}
        self._holding: dict[str, Position] = {}       # the positions that are not flat, by symbol
        self._last: dict[str, float] = {}             # symbol -> last known price
        self._fills: deque[Fill] = deque(maxlen=history)
        self._final_ids: deque[int] | None = None if history is None else deque()
        self._history = history
        self._changed: dict[int, Order] = {}
        self._new_fills: list[Fill] = []
        self._symbols: dict[str, str] = {}            # symbol as given -> as keyed ("aapl " -> "AAPL")
        self._stamped: datetime | None = None         # the last order time converted, and its epoch
        self._stamp = 0.0
        self._fill_ts: int | None = None              # the last bar start a fill was stamped with,
        self._fill_at: datetime | None = None         # and that instant

    # ------------------------------------------------------------------ orders

    def submit(self, symbol: str, side: Side | str, quantity: float, order_type: OrderType | str = "market",
               limit_price: float | None = None, stop_price: float | None = None,
               time_in_force: TimeInForce | str = "day", strategy: str | None = None) -> Order:
        """Place an order. Returns it with status NEW, or REJECTED with `reason` saying why.

        Malformed arguments a caller should never send (an unknown side, a symbol that is not a
        string) raise UsageError; everything a trader could get wrong is a rejected order.
        """
        return self._submit(symbol, side, quantity, order_type, limit_price, stop_price, time_in_force,
                            strategy, self._clock.now())

    def _submit(self, symbol: str, side: Side | str, quantity: float, order_type: OrderType | str,
                limit_price: float | None, stop_price: float | None, time_in_force: TimeInForce | str,
                strategy: str | None, now: datetime, note: str | None = None) -> Order:
        # Every check below has a fast path for what a strategy sends (a plain str ticker already
        # seen, float or int numbers, enum members) and falls back to the full check, which raises
        # the same errors as ever; a backtest places tens of thousands of orders.
        key = self._symbols.get(symbol) if symbol.__class__ is str else None
        if key is None:
            key = _ticker(symbol)
            if symbol.__class__ is str:
                self._symbols[symbol] = key
        kind = quantity.__class__
        if kind is not float and kind is not int and quantity is not None:   # None: float() says so below
            _number("quantity", quantity)
        if limit_price is not None and limit_price.__class__ is not float:
            _number("limit price", limit_price)
        if stop_price is not None and stop_price.__class__ is not float:
            _number("stop price", stop_price)
        order_id = self._next_id
        order = Order(
            order_id, f"{self._prefix}-{order_id}", key,
            side if side.__class__ is Side else _choice(Side, side, "side"),
            quantity if kind is float else float(quantity),
            order_type if order_type.__class__ is OrderType else _choice(OrderType, order_type, "order type"),
            time_in_force if time_in_force.__class__ is TimeInForce
            else _choice(TimeInForce, time_in_force, "time in force"),
            OrderStatus.NEW, now, now,
            None if limit_price is None else float(limit_price),
            None if stop_price is None else float(stop_price),
            0.0, None, strategy, note)
        self._next_id = order_id + 1
        self._orders[order_id] = order
        reserved, reason = self._pre_trade(order)
        if reason is not None:
            order.status, order.reason = OrderStatus.REJECTED, reason
            self._retire(order_id)
        else:
            orders = self._open.get(key)
            if orders is None:
                self._open[key] = [order]
            else:
                orders.append(order)
            if now is not self._stamped:   # a minute's orders share its datetime: convert it once
                self._stamped, self._stamp = now, now.timestamp()
            self._placed_at[order_id] = self._stamp
            self._reserved[order_id] = reserved
            pending = self._pending
            pending[key] = pending.get(key, 0.0) + signed_quantity(order)
        self._changed[order_id] = order
        return order.copy()

    def _pre_trade(self, order: Order) -> tuple[float, str | None]:
        """(buying power to reserve, rejection reason or None)."""
        quantity = order.quantity
        # A market order of a finite positive quantity is well formed: skip the call for it.
        if not (order.order_type is OrderType.MARKET and order.limit_price is None and order.stop_price is None
                and 0.0 < quantity < math.inf):
            problem = order_problem(order.order_type, quantity, order.limit_price, order.stop_price)
            if problem is not None:
                return 0.0, problem
        symbol = order.symbol
        # The price the order is valued at for the limits: what a limit or stop names, else the
        # last price seen (the previous bar's close; the fill will be at the next open).
        price = order.limit_price or order.stop_price or self._last.get(symbol)
        if price is None:
            return 0.0, f"rejected: no price for {symbol} yet (a market order needs one bar of it first)"
        held = self._held(symbol)
        signed = signed_quantity(order)
        before = held + self._pending.get(symbol, 0.0)
        after = before + signed
        # Open buys may never fill, so whether a sell could go short counts only the open sells.
        lowest = held + signed
        resting = self._open.get(symbol)
        if resting:
            lowest += sum(-o.quantity for o in resting if o.side is Side.SELL)
        commission = self.commission(quantity)

        def holding() -> set[str]:
            return {s for s in set(self._positions) | set(self._pending)
                    if s != symbol and abs(self._held(s) + self._pending.get(s, 0.0)) > EPSILON}

        # Both passed as functions: the limits ask for them only when the order adds exposure.
        reason = self._limits.check(symbol=symbol, quantity=quantity, price=price, before=before,
                                    after=after, lowest=min(lowest, after), commission=commission,
                                    holding=holding, buying_power=self._buying_power)
        reserved = max(0.0, abs(after) - abs(before)) * price + commission
        return reserved, reason

    def cancel(self, order_id: int) -> Order:
        """Cancel an open order (NotFound for an unknown id, StateError if it is already final)."""
        order = self._orders.get(order_id)
        if order is None:
            if self._history is not None and isinstance(order_id, int) and 0 < order_id < self._next_id:
                raise StateError(f"cannot cancel order {order_id}: it is already final (only the last "
                                 f"{self._history} final orders are kept in memory)")
            raise NotFound(f"order {order_id} not found")
        if not order.status.open:
            raise StateError(f"cannot cancel order {order_id}: it is already {order.status.value}")
        self._close(order, OrderStatus.CANCELLED, self._clock.now())
        return order.copy()

    def end_of_day(self, close: datetime) -> list[Order]:
        """Expire the open DAY orders placed before `close`. Orders placed at or after it (say on
        the day's last bar, whose end is the close) wait for the next session's open, as a real
        broker queues them, and expire at that session's close."""
        cutoff = close.timestamp()
        expired = [order for orders in self._open.values() for order in orders
                   if order.time_in_force is TimeInForce.DAY and self._placed_at[order.id] < cutoff]
        for order in expired:
            order.reason = "day order not filled by the close"
            self._close(order, OrderStatus.EXPIRED, close)
        return [order.copy() for order in sorted(expired, key=lambda o: o.id)]

    def flatten(self, reason: str = "end of day") -> list[Order]:
        """Cancel every open order and submit market orders closing every position; they fill at
        each symbol's next bar. Returns the closing orders."""
        now = self._clock.now()
        self._cancel_all(now)
        return [self._submit(p.symbol, Side.SELL if p.quantity > 0 else Side.BUY, abs(p.quantity), OrderType.MARKET,
                             None, None, TimeInForce.DAY, None, now, note=f"flatten: {reason}")
                for p in self._open_positions()]

    def flatten_at(self, prices: dict[str, float], at: datetime, reason: str = "end of day") -> list[Fill]:
        """Cancel every open order and close every position now, at `prices` (a symbol missing
        from it closes at its last price), as market orders: slippage and commission apply."""
        self._cancel_all(at)
        fills = []
        for position in self._open_positions():
            symbol = position.symbol
            price = prices.get(symbol, self._last.get(symbol))
            if price is None:
                raise DataError(f"no price to flatten {symbol} at (give it in prices)")
            self._last[symbol] = price
            placed = self._submit(
                symbol, Side.SELL if position.quantity > 0 else Side.BUY, abs(position.quantity), OrderType.MARKET,
                None, None, TimeInForce.DAY, None, at, note=f"flatten: {reason}")
            if placed.status is OrderStatus.REJECTED:  # cannot happen for a closing order; say so if it does
                raise StateError(f"flatten of {symbol} was refused: {placed.reason}")
            order = self._orders[placed.id]   # open, so still kept whatever the history bound
            at_price = fill_price(order, price, price, price, self._slippage)
            if at_price is None:  # cannot happen: a market order fills on any bar
                raise StateError(f"flatten of {symbol} found no price")
            fill = self._fill(order, at_price, at)
            if fill is not None:
                fills.append(fill)
        return fills

    # ------------------------------------------------------------------ bars

    def process_bar(self, symbol: str, ts: int, open: float, high: float, low: float, close: float) -> list[Fill]:
        """Fill `symbol`'s open orders placed before this bar (start `ts`, epoch seconds), then mark
        the symbol at the bar's close. Returns the fills, in order id order."""
        pending = self._open.get(symbol)
        if not pending:
            self._last[symbol] = close
            return []
        fills: list[Fill] = []
        placed_at = self._placed_at
        for order in list(pending):
            # Only orders placed by the bar's start: one placed later (a manual order while a bar
            # is forming) never fills at an open that came before it.
            if placed_at[order.id] > ts:
                continue
            price = fill_price(order, open, high, low, self._slippage)
            if price is None:
                continue
            if ts != self._fill_ts:   # a fill is stamped with its bar's start; symbols share minutes
                self._fill_ts, self._fill_at = ts, datetime.fromtimestamp(ts, UTC)
            at = self._fill_at
            assert at is not None
            fill = self._fill(order, price, at)
            if fill is not None:
                fills.append(fill)
        self._last[symbol] = close
        return fills

    def replay_view(self) -> tuple[Mapping[str, list[Order]], dict[str, float]]:
        """For the replay's hot loop: the live mapping of symbols that have open orders (to read, never
        to change) and the last-price dict. A bar of a symbol with no open order needs only its close
        marked, `last[symbol] = close`, which is all `process_bar` would do; the loop skips the call.
        Both objects live as long as the broker (they are changed in place, never replaced)."""
        return self._open, self._last

    def stop(self, timeout: float = 2.0) -> bool:
        """Nothing to release: the simulated broker has no connection or thread of its own."""
        return True

    def mark(self, symbol: str, price: float) -> None:
        """Record the last known price of `symbol` (values positions and prices market orders)."""
        self._last[symbol] = price

    def commission(self, quantity: float) -> float:
        t = self.trading
        return max(quantity * t.commission_per_share, t.commission_min)

    def _fill(self, order: Order, price: float, at: datetime) -> Fill | None:
        """Fill the whole order at `price`, or cancel it if the account can no longer pay for it.

        Assumption: no partial fills. A 1m bar's volume is not split between us and the rest of
        the market; the whole quantity fills at one price.
        """
        symbol = order.symbol
        quantity = order.quantity
        signed = signed_quantity(order)
        position = self._positions.get(symbol)
        held = 0.0 if position is None else position.quantity
        commission = self.commission(quantity)
        if abs(held + signed) > abs(held):   # only a fill that adds exposure needs buying power
            needed = (abs(held + signed) - abs(held)) * price + commission
            reserved = self._reserved.get(order.id, 0.0)
            # What the order reserved is its own, and buying power is never negative: when that
            # covers the fill, the account can pay without summing up every position.
            available = reserved if needed <= reserved + 1e-6 else self._buying_power() + reserved
            if needed > available + 1e-6:
                # The price moved since the order was checked: a cash account cannot go below zero.
                order.reason = (f"cancelled: insufficient buying power at the fill "
                                f"(needs {needed:.2f}, available {available:.2f})")
                self._close(order, OrderStatus.CANCELLED, at)
                return None
        if position is None:
            position = self._positions[symbol] = Position(symbol)
        position.apply(signed, price, commission)
        if position.quantity != 0.0:
            self._holding[symbol] = position
        else:
            self._holding.pop(symbol, None)
        self._cash -= signed * price + commission
        order.filled_quantity = quantity
        order.average_fill_price = price
        self._close(order, OrderStatus.FILLED, at)
        fill = Fill(order.id, symbol, order.side, quantity, price, commission, at)
        self._fills.append(fill)
        self._new_fills.append(fill)
        return fill

    def _close(self, order: Order, status: OrderStatus, at: datetime) -> None:
        """Move an open order to a final status and release what it held."""
        order.status = status
        order.updated_at = at
        symbol = order.symbol
        order_id = order.id
        resting = self._open[symbol]
        resting.remove(order)
        if not resting:
            del self._open[symbol]
        del self._placed_at[order_id]
        self._reserved.pop(order_id, None)
        pending = self._pending
        # The symbol's entry is dropped whenever its open orders net to zero, though some may be
        # left open: absent means zero.
        remaining = pending.get(symbol, 0.0) - signed_quantity(order)
        if abs(remaining) <= EPSILON:
            del pending[symbol]
        else:
            pending[symbol] = remaining
        self._changed[order_id] = order
        self._retire(order_id)

    def _retire(self, order_id: int) -> None:
        """Note that an order is final; with a `history` bound, forget the oldest final ones beyond
        it (what `drain_changes` has not handed over yet stays in `_changed` until it has)."""
        final, history = self._final_ids, self._history
        if final is None or history is None:
            return
        final.append(order_id)
        while len(final) > history:
            self._orders.pop(final.popleft(), None)

    def _cancel_all(self, at: datetime) -> None:
        for order in [o for orders in self._open.values() for o in orders]:
            self._close(order, OrderStatus.CANCELLED, at)

    # ------------------------------------------------------------------ account

    def _held(self, symbol: str) -> float:
        position = self._positions.get(symbol)
        return 0.0 if position is None else position.quantity

    def _open_positions(self) -> list[Position]:
        return sorted(list(self._holding.values()), key=lambda p: p.symbol)

    def _market_values(self) -> list[float]:
        """Signed value of each position held, at its last price (its entry price before any bar).

        Flat positions are left out: they add exactly nothing, and skipping them keeps the sums
        below cheap however many symbols the session has traded.
        """
        last = self._last
        return [p.quantity * last.get(p.symbol, p.average_price) for p in list(self._holding.values())]

    @property
    def cash(self) -> float:
        return self._cash

    @property
    def equity(self) -> float:
        """Cash plus every position valued at its last price."""
        return self._cash + math.fsum(self._market_values())

    @property
    def buying_power(self) -> float:
        """What is left to open positions with: equity (capped by max_buying_power) minus the
        gross value of the positions and what open orders have reserved. Without shorts that is
        the cash not yet promised; a short holds its full value as collateral (no leverage)."""
        return self._buying_power()

    def _buying_power(self) -> float:
        """`buying_power`, as a bound method the risk limits can call when they need it."""
        last = self._last   # the values of `_market_values`, taken here: one call less per order
        values = [p.quantity * last.get(p.symbol, p.average_price) for p in list(self._holding.values())]
        total = math.fsum(values)
        cap = self._cash + total
        if self.trading.max_buying_power is not None:
            cap = min(cap, self.trading.max_buying_power)
        # Prices are positive: |q * p| == |q| * p. With no short (no value below zero) every |value|
        # is the value itself, so the gross sum is the sum already taken.
        gross = total if not values or min(values) >= 0.0 else math.fsum([abs(value) for value in values])
        return max(0.0, cap - gross - math.fsum(list(self._reserved.values())))

    def position(self, symbol: str) -> PositionSnapshot:
        """The position in `symbol` (quantity 0 if none was ever held)."""
        key = symbol.strip().upper()
        position = self._positions.get(key) or Position(key)
        return position.snapshot(self._last.get(key))

    def positions(self) -> list[PositionSnapshot]:
        """Open positions, by symbol."""
        return [p.snapshot(self._last.get(p.symbol)) for p in self._open_positions()]

    def account(self) -> AccountSnapshot:
        positions = self.positions()
        return AccountSnapshot(
            initial_cash=self.initial_cash,
            cash=self._cash,
            equity=self.equity,
            buying_power=self.buying_power,
            realized_pnl=math.fsum(p.realized_pnl for p in list(self._positions.values())),
            unrealized_pnl=math.fsum(p.unrealized_pnl for p in positions),
            positions=tuple(positions),
        )

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        if symbol is not None:   # a symbol's open orders are kept oldest first, which is id order
            key = self._symbols.get(symbol) if symbol.__class__ is str else None   # tickers seen by submit
            resting = self._open.get(symbol.strip().upper() if key is None else key)
            return [o.copy() for o in list(resting)] if resting else []
        found = [o for orders in list(self._open.values()) for o in orders]
        return [o.copy() for o in sorted(found, key=lambda o: o.id)]

    def orders(self) -> list[Order]:
        return [o.copy() for o in list(self._orders.values())]

    def fills(self) -> list[Fill]:
        return list(self._fills)

    def drain_changes(self) -> tuple[list[Order], list[Fill]]:
        """Orders created or changed and fills made since the last call (copies, oldest first),
        for the recorder to store in one batch."""
        changed = self._changed
        orders = [changed[order_id].copy() for order_id in sorted(changed)]   # keyed by id
        fills, self._new_fills = self._new_fills, []
        self._changed = {}
        return orders, fills


def open_simulated(trading: TradingConfig, clock: Clock, settings: Settings, history: int | None) -> SimulatedBroker:
    """`api_config.trade_api: "simulated"` (see `execution/registry.py`)."""
    return SimulatedBroker(trading, clock, history=history)
