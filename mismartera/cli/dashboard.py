"""The `system watch` dashboard as rich renderables, built from one `SystemStatus` snapshot.

Pure functions of the snapshot (and `now` for heartbeat ages), so a frame can be rendered at a fixed
width in a test, shown once in a script, or redrawn four times a second by `mismartera.cli.watch`.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import TYPE_CHECKING

from rich import box
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from mismartera.exchange import EXCHANGE_TZ

if TYPE_CHECKING:
    from mismartera.system.status import AccountView, FillView, OrderView, SystemStatus, WorkerStatus

STATE_COLORS = {"stopped": "white", "starting": "cyan", "running": "green", "paused": "yellow",
                "stopping": "cyan", "failed": "red", "idle": "white", "waiting": "cyan"}
WORKER_ORDER = ("coordinator", "upkeep", "prefetch")


def _state(value: str) -> Text:
    return Text(value, style=f"bold {STATE_COLORS.get(value, 'white')}")


def _et(instant: datetime | None, fmt: str = "%Y-%m-%d %H:%M:%S ET") -> str:
    return instant.astimezone(EXCHANGE_TZ).strftime(fmt) if instant is not None else "—"


def _signed(value: float) -> Text:
    return Text(f"{value:+,.2f}", style="green" if value > 0 else ("red" if value < 0 else ""))


def _age(heartbeat: float, now: float) -> str:
    if not heartbeat:
        return "—"
    age = max(0.0, now - heartbeat)
    return f"{age:.1f}s ago" if age < 120 else f"{age / 60:.0f}m ago"


def header(status: SystemStatus) -> Panel:
    """State, mode, session clock, day n/N with a progress bar, bars done and bars/s."""
    top = Text.assemble(_state(status.state.value), "  ",
                        (" ".join(p for p in (status.mode, status.session_name) if p) or "no session", "bold"),
                        "   ", ("clock ", "dim"), _et(status.clock))
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column(ratio=1)
    grid.add_column(no_wrap=True)
    day = f"day {status.day_index}/{status.days_total}" + (f" ({status.day})" if status.day else "")
    rate = f"{status.progress * 100:5.1f}%  {status.bars_done:,} bars  {status.bars_per_second:,.0f} bars/s"
    grid.add_row(Text(day), ProgressBar(total=1.0, completed=max(0.0, min(1.0, status.progress))), Text(rate))
    lines: list[RenderableType] = [top, grid]
    if status.error:
        where = f"{status.error_worker}: " if status.error_worker else ""
        lines.append(Text(f"error: {where}{status.error}", style="bold red"))
    elif status.message:
        lines.append(Text(status.message, style="dim"))
    return Panel(Group(*lines), title="mismartera", title_align="left", box=box.ROUNDED)


def worker_panel(worker: WorkerStatus, now: float) -> Panel:
    """One worker: state, heartbeat age, rate, items, what it is on, its last error in red."""
    table = Table.grid(padding=(0, 1))
    table.add_column(style="dim", no_wrap=True)
    table.add_column(overflow="fold")
    table.add_row("state", _state(worker.state))
    table.add_row("heartbeat", _age(worker.heartbeat, now))
    table.add_row("rate", f"{worker.rate:,.1f}/s  ({worker.items_done:,} done)")
    table.add_row("on", worker.current or "—")
    if worker.detail:
        table.add_row("detail", worker.detail)
    if worker.last_error:
        table.add_row(Text("error", style="red"), Text(worker.last_error, style="bold red"))
    color = "red" if worker.last_error or worker.state == "failed" else STATE_COLORS.get(worker.state, "white")
    return Panel(table, title=worker.name, title_align="left", border_style=color, box=box.ROUNDED)


def workers_row(workers: tuple[WorkerStatus, ...], now: float) -> RenderableType:
    ordered = sorted(workers, key=lambda w: (WORKER_ORDER.index(w.name) if w.name in WORKER_ORDER else 99, w.name))
    if not ordered:
        return Text("no workers running", style="dim")
    row = Table.grid(expand=True, padding=(0, 1))
    for _ in ordered:
        row.add_column(ratio=1)
    row.add_row(*(worker_panel(w, now) for w in ordered))
    return row


def account_panel(account: AccountView | None, open_orders: int) -> Panel:
    """Equity, cash, buying power, P&L and the open positions."""
    if account is None:
        return Panel(Text("no account yet", style="dim"), title="account", title_align="left", box=box.ROUNDED)
    fields = Table.grid(padding=(0, 1))
    fields.add_column(style="dim", no_wrap=True)
    fields.add_column(justify="right", no_wrap=True)
    fields.add_row("equity", f"{account.equity:,.2f}")
    fields.add_row("cash", f"{account.cash:,.2f}")
    fields.add_row("buying power", f"{account.buying_power:,.2f}")
    fields.add_row("P&L", _signed(account.pnl))
    fields.add_row("realised", _signed(account.realized_pnl))
    fields.add_row("unrealised", _signed(account.unrealized_pnl))
    fields.add_row("open orders", str(open_orders))
    parts: list[RenderableType] = [fields]
    if account.positions:
        positions = Table(box=box.SIMPLE, show_edge=False, pad_edge=False)
        for name in ("symbol", "qty", "avg", "last", "P&L"):
            positions.add_column(name, justify="left" if name == "symbol" else "right", no_wrap=True)
        for p in account.positions:
            positions.add_row(p.symbol, f"{p.quantity:g}", f"{p.average_price:,.2f}",
                              f"{p.last_price:,.2f}" if p.last_price is not None else "—", _signed(p.unrealized_pnl))
        parts.append(positions)
    else:
        parts.append(Text("no open positions", style="dim"))
    return Panel(Group(*parts), title="account", title_align="left", box=box.ROUNDED)


def orders_panel(orders: tuple[OrderView, ...], fills: tuple[FillView, ...], limit: int = 6) -> Panel:
    """The last orders and fills, newest first."""
    order_table = Table(title="orders", title_justify="left", box=box.SIMPLE, show_edge=False, pad_edge=False)
    order_table.add_column("time", no_wrap=True)
    order_table.add_column("id", no_wrap=True, justify="right")
    order_table.add_column("order", no_wrap=True)
    order_table.add_column("status", overflow="ellipsis", no_wrap=True)
    for order in sorted(orders, key=lambda o: o.created_at, reverse=True)[:limit]:
        style = "red" if order.status == "rejected" else ("green" if order.status == "filled" else "")
        price = order.limit_price or order.stop_price
        what = f"{order.side} {order.quantity:g} {order.symbol} {order.order_type}"
        what += f" {price:,.2f}" if price else ""
        order_table.add_row(_et(order.created_at, "%H:%M"), str(order.id), what,
                            Text(order.status + (f" ({order.reason})" if order.reason else ""), style=style))
    fill_table = Table(title="fills", title_justify="left", box=box.SIMPLE, show_edge=False, pad_edge=False)
    fill_table.add_column("time", no_wrap=True)
    fill_table.add_column("order", no_wrap=True, justify="right")
    fill_table.add_column("fill", no_wrap=True)
    fill_table.add_column("comm.", no_wrap=True, justify="right")
    for fill in sorted(fills, key=lambda f: f.filled_at, reverse=True)[:limit]:
        what = f"{fill.side} {fill.quantity:g} {fill.symbol} @ {fill.price:,.2f}"
        fill_table.add_row(_et(fill.filled_at, "%H:%M"), str(fill.order_id), what, f"{fill.commission:,.2f}")
    parts: list[RenderableType] = [order_table if orders else Text("no orders yet", style="dim"),
                                   fill_table if fills else Text("no fills yet", style="dim")]
    return Panel(Group(*parts), title="orders and fills", title_align="left", box=box.ROUNDED)


def dashboard(status: SystemStatus, *, now: float | None = None, footer: str | None = None) -> RenderableType:
    """The whole frame: header, one panel per worker, account, last orders and fills."""
    now = time.time() if now is None else now
    bottom = Table.grid(expand=True, padding=(0, 1))
    bottom.add_column(ratio=2)
    bottom.add_column(ratio=3)
    bottom.add_row(account_panel(status.account, status.open_orders),
                   orders_panel(status.recent_orders, status.recent_fills))
    parts: list[RenderableType] = [header(status), workers_row(status.workers, now), bottom]
    if footer:
        parts.append(Text(footer, style="dim"))
    return Group(*parts)
