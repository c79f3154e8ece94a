"""The one place results are printed: rich tables and panels for people, JSON for machines.

Instants are shown in the exchange's time zone (`mismartera.exchange.EXCHANGE_TZ`); user text is printed with
markup off so a `[` in a symbol or a message cannot restyle the output.
"""

from __future__ import annotations

import json
import math
from datetime import date, datetime
from enum import Enum
from typing import Any

from rich import box
from rich.console import Console, JustifyMethod
from rich.table import Table as RichTable
from rich.text import Text

from mismartera.cli import runtime
from mismartera.cli.dashboard import dashboard
from mismartera.cli.pager import ShellPager, wants_pager
from mismartera.commands.results import Chart, Column, Group, Message, RawText, Record, Table, Watch
from mismartera.exchange import EXCHANGE_TZ

WATCH_WIDTH = 160   # the panels fill the width they get: printed to a file, they get this much
STYLES = {"": "", "ok": "green", "warn": "yellow", "error": "bold red", "dim": "dim"}


def format_value(value: Any, fmt: str | None = None) -> str:
    """Format one raw value for a person."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        local = value.astimezone(EXCHANGE_TZ) if value.tzinfo else value
        if fmt == "time":
            return local.strftime("%H:%M %Z")
        if fmt == "date":
            return local.strftime("%Y-%m-%d")
        if fmt == "minute":
            return local.strftime("%Y-%m-%d %H:%M")
        return local.strftime("%Y-%m-%d %H:%M:%S %Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, float):
        if math.isnan(value):
            return "—"
        if fmt == "money":
            return f"{value:,.2f}"
        if fmt == "pct":
            return f"{value:.2f}%"
        if fmt == "ratio":
            return f"{value:.2f}"
        if fmt == "int":
            return f"{value:,.0f}"
        if fmt in ("price", None):
            return f"{value:,.4f}".rstrip("0").rstrip(".") if abs(value) < 1e12 else f"{value:.6g}"
        if fmt == "qty":
            return f"{value:g}"
        return f"{value:g}"
    if isinstance(value, int):
        if fmt == "money":
            return f"{value:,.2f}"
        if fmt == "pct":
            return f"{value:.2f}%"
        return f"{value:,}" if fmt == "int" else str(value)
    return str(value)


def to_jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(EXCHANGE_TZ).isoformat() if value.tzinfo else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if hasattr(value, "to_json"):
        return to_jsonable(value.to_json())
    return value


def dumps(value: Any) -> str:
    return json.dumps(to_jsonable(value), indent=2, default=str)


def _justify(column: Column) -> JustifyMethod:
    if column.justify:
        return column.justify
    return "right" if column.fmt in ("money", "price", "int", "pct", "qty") else "left"


def _table(result: Table) -> RichTable:
    table = RichTable(title=result.title or None, caption=result.caption, box=box.SIMPLE_HEAVY,
                      title_justify="left", caption_justify="left", show_edge=False)
    for column in result.columns:
        table.add_column(column.name, justify=_justify(column), no_wrap=column.fmt is not None)
    for row in result.rows:
        table.add_row(*(Text(format_value(v, c.fmt)) for v, c in zip(row, result.columns, strict=False)))
    return table


def _record(result: Record) -> RichTable:
    table = RichTable(title=result.title or None, box=box.SIMPLE, show_header=False, title_justify="left",
                      show_edge=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    for name, value in result.fields:
        table.add_row(Text(name), Text(format_value(value, result.formats.get(name))))
    return table


def _chart(result: Chart, width: int) -> Text:
    """A compact sparkline-style chart of the points (one column per bucket, 8 rows high)."""
    values = [y for _, y in result.points]
    if not values:
        return Text(f"{result.title}: no data", style="dim")
    columns = max(10, min(width - 12, 100))
    step = max(1, math.ceil(len(values) / columns))
    sampled = [values[min(i, len(values) - 1)] for i in range(0, len(values), step)]
    low, high = min(sampled), max(sampled)
    span = (high - low) or 1.0
    rows = 8
    grid = [[" "] * len(sampled) for _ in range(rows)]
    for x, y in enumerate(sampled):
        level = round((y - low) / span * (rows - 1))
        for r in range(level + 1):
            grid[rows - 1 - r][x] = "█" if r < level else "▄"
    text = Text(f"{result.title}\n", style="bold")
    for r, line in enumerate(grid):
        label = high if r == 0 else (low if r == rows - 1 else None)
        prefix = f"{label:>10,.0f} ┤" if label is not None else " " * 10 + " │"
        text.append(prefix + "".join(line) + "\n", style="cyan")
    text.append(" " * 11 + f"{result.points[0][0]} … {result.points[-1][0]}", style="dim")
    return text


def render(console: Console, result: Any, *, as_json: bool = False) -> None:
    """Print a result: JSON when asked, else rich output (through a pager when it is a long one in the
    interactive shell)."""
    if result is None:
        return
    if not as_json and wants_pager(console, result):
        with console.pager(ShellPager(runtime.current().environ), styles=True):
            _render(console, result)
        return
    _render(console, result, as_json=as_json)


def _render(console: Console, result: Any, *, as_json: bool = False) -> None:
    if as_json:
        console.print_json(dumps(result)) if console.is_terminal else console.out(dumps(result), highlight=False)
        return
    if isinstance(result, Group):
        for part in result.parts:
            _render(console, part)
        return
    if isinstance(result, Message):
        console.print(Text(result.text, style=STYLES.get(result.style, "")))
    elif isinstance(result, Table):
        console.print(_table(result))
    elif isinstance(result, Record):
        console.print(_record(result))
    elif isinstance(result, Chart):
        console.print(_chart(result, console.width))
    elif isinstance(result, RawText):
        console.out(result.text, highlight=False, end="")
    elif isinstance(result, Watch):
        console.print(dashboard(result.status()), width=min(console.width, WATCH_WIDTH))
    elif hasattr(result, "__rich__") or hasattr(result, "__rich_console__"):
        console.print(result)
    else:
        console.print(Text(str(result)))
