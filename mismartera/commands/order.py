"""`order …`: manual orders in the running session (they fill on later bars, like a strategy's)."""

from __future__ import annotations

from mismartera.commands.context import AppContext
from mismartera.commands.registry import Arg, Option, command, group
from mismartera.commands.results import Message
from mismartera.execution.orders import TimeInForce
from mismartera.system.status import OrderView

GROUP = group("order", "Manual orders during a session: buy, sell, cancel")

ORDER_ARGS = (
    Arg("symbol", "a symbol of the session", complete="symbol"),
    Arg("quantity", "shares", type=float, metavar="QTY"),
    Option("limit", "limit price (a limit order)", type=float, metavar="P"),
    Option("stop", "stop price (a stop order)", type=float, metavar="P"),
    Option("tif", "time in force", choices=tuple(tif.value for tif in TimeInForce)),
)


def describe_order(order: OrderView) -> str:
    """`buy 10 AAPL limit 180.5 day`: the type named once, with its price."""
    if order.limit_price is not None:
        kind = f"limit {order.limit_price:g}"
    elif order.stop_price is not None:
        kind = f"stop {order.stop_price:g}"
    else:
        kind = str(order.order_type)
    return f"{order.side} {order.quantity:g} {order.symbol} {kind} {order.time_in_force}"


def _placed(order: OrderView) -> Message:
    return Message(f"order {order.id} placed: {describe_order(order)} ({order.status})", "ok", data=order)


@command(GROUP, "buy", help="Buy at market (or --limit / --stop) in the running session", args=ORDER_ARGS, json=True,
         examples=("order buy AAPL 10", "order buy AAPL 10 --limit 180.5 --tif gtc"))
def buy(ctx: AppContext, symbol: str, quantity: float, limit: float | None = None, stop: float | None = None,
        tif: str = "day") -> Message:
    return _placed(ctx.system.submit_order(symbol, "buy", quantity, limit, stop, tif))


@command(GROUP, "sell", help="Sell at market (or --limit / --stop) in the running session", args=ORDER_ARGS,
         json=True, examples=("order sell AAPL 10", "order sell MSFT 5 --stop 400"))
def sell(ctx: AppContext, symbol: str, quantity: float, limit: float | None = None, stop: float | None = None,
         tif: str = "day") -> Message:
    return _placed(ctx.system.submit_order(symbol, "sell", quantity, limit, stop, tif))


@command(GROUP, "cancel", help="Cancel an open order of the running session",
         args=(Arg("order_id", "the order's id (see account orders --status open)", type=int, complete="order",
                   metavar="ID"),), json=True, examples=("order cancel 12",))
def cancel(ctx: AppContext, order_id: int) -> Message:
    order = ctx.system.cancel_order(order_id)
    return Message(f"order {order.id} cancelled ({order.side} {order.quantity:g} {order.symbol})", "ok", data=order)
