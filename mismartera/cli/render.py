"""The one place results are printed: rich tables and panels for people, JSON for machines.

Instants are shown in the exchange's time zone (`mismartera.exchange.EXCHANGE_TZ`); user text is printed with
markup off so a `[` in a symbol or a message cannot restyle the output.
"""

from __future__ import annotations

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
from mismartera.commands.results import Chart, Column, Group, HeatMap, Message, RawText, Record, Table, Watch, dumps
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
        if fmt == "micro":  # trades and quotes: to the microsecond
            return local.strftime("%H:%M:%S.%f")
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


HEAT_STYLES = ("white on red3", "black on dark_orange", "black on yellow3", "black on green3", "black on green1")


def _heat_map(result: HeatMap) -> RichTable:
    """The grid of values, each cell coloured by where it falls between the worst and the best."""
    values = [v for row in result.cells for v in row if v is not None]
    low, high = (min(values), max(values)) if values else (0.0, 0.0)
    span = (high - low) or 1.0
    table = RichTable(title=result.title, box=box.SIMPLE, title_justify="left", show_edge=False)
    table.add_column(Text(f"{result.row_label} ↓  {result.column_label} →"), style="bold")
    for value in result.columns:
        table.add_column(Text(format_value(value)), justify="right")
    for label, row in zip(result.rows, result.cells, strict=True):
        cells = []
        for value in row:
            if value is None:
                cells.append(Text("—", style="dim"))
                continue
            share = (value - low) / span if result.higher_is_better else (high - value) / span
            style = HEAT_STYLES[min(len(HEAT_STYLES) - 1, int(share * len(HEAT_STYLES)))]
            cells.append(Text(f" {format_value(float(value), result.fmt)} ", style=style))
        table.add_row(Text(format_value(label)), *cells)
    return table


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
    elif isinstance(result, HeatMap):
        console.print(_heat_map(result))
    elif isinstance(result, RawText):
        console.out(result.text, highlight=False, end="")
    elif isinstance(result, Watch):
        console.print(dashboard(result.status()), width=min(console.width, WATCH_WIDTH))
    elif hasattr(result, "__rich__") or hasattr(result, "__rich_console__"):
        console.print(result)
    else:
        console.print(Text(str(result)))
