"""`account …`: balance, positions, orders and fills of the live session, or of the last (or a given) run."""

from __future__ import annotations

from dataclasses import asdict

from mismartera.commands.context import AppContext
from mismartera.commands.registry import Option, command, group
from mismartera.commands.results import Column, Record, Table
from mismartera.errors import UsageError
from mismartera.execution.orders import ORDER_STATUS_FILTERS

GROUP = group("account", "The account of the running session or of the last run: balance, positions, orders, fills")

RUN = Option("run", "a stored run's id (default: the live session, else the last run)", type=int, complete="run",
             metavar="RUN_ID")

ORDER_COLUMNS = (Column("ID", "id"), Column("Symbol", "symbol"),
                 Column("Side", "side"), Column("Qty", "quantity", "qty"), Column("Type", "order_type"),
                 Column("Price", "price", "price"), Column("Status", "status"), Column("TIF", "time_in_force"),
                 Column("Fill price", "average_fill_price", "price"), Column("Note", "note"))


@command(GROUP, "balance", help="Cash, equity, buying power and P&L", args=(RUN,), json=True,
         examples=("account balance", "account balance --run 3 --json"))
def balance(ctx: AppContext, run: int | None = None) -> Record:
    run_id, view = ctx.system.account(run)
    return Record(f"Account (run {run_id})", [
        ("Initial cash", view.initial_cash), ("Cash", view.cash), ("Equity", view.equity),
        ("Buying power", view.buying_power), ("Realized P&L", view.realized_pnl),
        ("Unrealized P&L", view.unrealized_pnl), ("P&L", view.pnl), ("Positions", len(view.positions)),
    ], formats={k: "money" for k in ("Initial cash", "Cash", "Equity", "Buying power", "Realized P&L",
                                     "Unrealized P&L", "P&L")},
        data={"run_id": run_id, "initial_cash": view.initial_cash, "cash": view.cash, "equity": view.equity,
              "buying_power": view.buying_power, "realized_pnl": view.realized_pnl,
              "unrealized_pnl": view.unrealized_pnl, "pnl": view.pnl})


@command(GROUP, "positions", help="Open positions with average price, last price and P&L", args=(RUN,), json=True,
         examples=("account positions",))
def positions(ctx: AppContext, run: int | None = None) -> Table:
    run_id, view = ctx.system.account(run)
    rows = [(p.symbol, p.quantity, p.average_price, p.last_price, p.market_value, p.unrealized_pnl, p.realized_pnl)
            for p in view.positions]
    return Table(f"Positions (run {run_id})", (
        Column("Symbol", "symbol"), Column("Qty", "quantity", "qty"), Column("Avg price", "average_price", "price"),
        Column("Last", "last_price", "price"), Column("Value", "market_value", "money"),
        Column("Unrealized", "unrealized_pnl", "money"), Column("Realized", "realized_pnl", "money")), rows,
        caption=None if rows else "no open positions")


LIMIT = Option("limit", "show only the last N (0: all; a long table pages in the shell)", type=int,
               metavar="N")


def last(items: list, limit: int, what: str) -> tuple[list, str]:
    """The last `limit` items (all for 0) and the caption that says how many of how many."""
    if limit < 0:
        raise UsageError(f"--limit {limit} is negative (expected 0 for all, or a positive count)")
    if limit and len(items) > limit:
        return items[-limit:], f"the last {limit:,} of {len(items):,} {what}(s) (--limit 0 for all)"
    return items, f"{len(items):,} {what}(s)"


@command(GROUP, "orders", help="Orders, optionally only those with one status",
         args=(Option("status", "only orders with this status", choices=ORDER_STATUS_FILTERS), RUN, LIMIT),
         json=True, examples=("account orders", "account orders --status open", "account orders --limit 20",
                              "account orders --status rejected --json"))
def orders(ctx: AppContext, status: str | None = None, run: int | None = None, limit: int = 0) -> Table:
    run_id, views = ctx.system.orders(status, run)
    views, caption = last(views, limit, "order")
    rows = [(o.id, o.symbol, o.side, o.quantity, o.order_type,
             o.limit_price if o.limit_price is not None else o.stop_price, o.status, o.time_in_force,
             o.average_fill_price, o.reason or o.strategy) for o in views]
    return Table(f"Orders (run {run_id})" + (f", {status}" if status else ""), ORDER_COLUMNS, rows,
                 data=[asdict(o) for o in views], caption=caption)


@command(GROUP, "fills", help="Fills with price and commission", args=(RUN, LIMIT), json=True,
         examples=("account fills", "account fills --limit 20", "account fills --json"))
def fills(ctx: AppContext, run: int | None = None, limit: int = 0) -> Table:
    run_id, views = ctx.system.fills(run)
    views, caption = last(views, limit, "fill")
    rows = [(f.order_id, f.symbol, f.side, f.quantity, f.price, f.commission, f.filled_at) for f in views]
    return Table(f"Fills (run {run_id})", (
        Column("Order", "order_id"), Column("Symbol", "symbol"), Column("Side", "side"),
        Column("Qty", "quantity", "qty"), Column("Price", "price", "price"),
        Column("Commission", "commission", "money"),
        Column("Time", "filled_at")), rows, caption=caption)
