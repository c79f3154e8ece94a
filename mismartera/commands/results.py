"""What handlers return. `mismartera.cli.render` turns these into rich output or JSON.

Values stay raw (datetimes in UTC, floats unrounded); the renderer formats them: instants in the
exchange's time zone, money with two decimals.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, is_dataclass
from datetime import date, datetime
from enum import Enum
from typing import Any, Literal

from mismartera.timekeeping.calendar import EXCHANGE_TZ


@dataclass(frozen=True)
class Column:
    name: str
    key: str | None = None
    fmt: str | None = None  # "money", "price", "int", "pct", "ratio", "qty", "time", "date", "minute", "micro", or None
    justify: Literal["left", "center", "right"] | None = None


@dataclass(frozen=True)
class Table:
    """Rows of a table; `data` overrides what --json prints (default: a list of row objects)."""

    title: str
    columns: tuple[Column, ...]
    rows: list[tuple]
    data: Any = None
    caption: str | None = None

    def to_json(self) -> Any:
        if self.data is not None:
            return self.data
        keys = [c.key or c.name.lower().replace(" ", "_") for c in self.columns]
        return [dict(zip(keys, row, strict=False)) for row in self.rows]


@dataclass(frozen=True)
class Record:
    """Named fields, shown as a two-column table."""

    title: str
    fields: list[tuple[str, Any]]
    data: Any = None
    formats: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> Any:
        if self.data is not None:
            return self.data
        return {name.lower().replace(" ", "_"): value for name, value in self.fields}


@dataclass(frozen=True)
class Message:
    """A line of text; `style` is one of "", "ok", "warn", "error", "dim"."""

    text: str
    style: str = ""
    data: Any = None

    def to_json(self) -> Any:
        return self.data if self.data is not None else {"message": self.text}


@dataclass(frozen=True)
class Chart:
    """A line chart of (x label, y) points drawn in the terminal."""

    title: str
    points: list[tuple[str, float]]
    y_label: str = ""

    def to_json(self) -> Any:
        return [{"x": x, "y": y} for x, y in self.points]


@dataclass(frozen=True)
class HeatMap:
    """A metric over two parameters: `cells[i][j]` at row value i and column value j (None: no value).
    Higher is better unless `higher_is_better` is False; the renderer colours cells from worst to best."""

    title: str
    row_label: str
    column_label: str
    rows: list[Any]
    columns: list[Any]
    cells: list[list[float | None]]
    fmt: str | None = None
    higher_is_better: bool = True

    def to_json(self) -> Any:
        return {"rows": {"param": self.row_label, "values": self.rows},
                "columns": {"param": self.column_label, "values": self.columns}, "cells": self.cells}


@dataclass(frozen=True)
class Group:
    """Several results shown one after another; --json prints `data` or a list of the parts."""

    parts: list[Any]
    data: Any = None

    def to_json(self) -> Any:
        if self.data is not None:
            return self.data
        return [part.to_json() for part in self.parts]





@dataclass(frozen=True)
class Watch:
    """Ask the user interface to show live status panels until the user quits (`system watch`).

    `status` returns a fresh `SystemStatus` snapshot on each call (it only reads a reference).
    Where no live display is possible (scripts, pipes) one frame is shown.
    """

    status: Any  # Callable[[], SystemStatus]
    refresh_per_second: float = 4.0

    def to_json(self) -> Any:
        return self.status().to_json()


def to_jsonable(value: Any) -> Any:
    """What `--json` prints for a result (and the control API returns): instants in exchange time,
    NaN as null, result objects through their `to_json`, other dataclasses field by field."""
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
    if is_dataclass(value) and not isinstance(value, type):
        return to_jsonable(asdict(value))
    return value


def dumps(value: Any) -> str:
    """The one JSON serializer of results (`--json` output and the control API's bodies)."""
    return json.dumps(to_jsonable(value), indent=2, default=str)


# ---------------------------------------------------------------- requests to the user interface
# Some general commands act on the shell itself (run a script, clear the screen, leave). Their
# handlers return one of these markers and `mismartera.cli` carries it out in the current mode.


@dataclass(frozen=True)
class RunScript:
    """Run the commands of a script file (`run FILE`); `variables` fill `$NAME` / `${NAME}`."""

    path: str
    variables: dict[str, str] = field(default_factory=dict)
    keep_going: bool = False
    quiet: bool = False
    check: bool = True


@dataclass(frozen=True)
class ClearScreen:
    """Clear the terminal (nothing happens when output is not a terminal)."""


@dataclass(frozen=True)
class ExitShell:
    """Leave the shell, or end a script early."""


@dataclass(frozen=True)
class ShowHistory:
    """Show the last `limit` lines of the shell's history (secrets already masked there)."""

    limit: int = 20


@dataclass(frozen=True)
class OpenDashboard:
    """Open the web dashboard at `url` (it carries the token in its fragment) in a browser, or print it."""

    url: str
    print_only: bool = False

    def __repr__(self) -> str:   # the token stays out of tracebacks and logs
        return f"OpenDashboard({self.url.split('#')[0]!r}, print_only={self.print_only})"


@dataclass(frozen=True)
class ServeSessions:
    """Become a headless session host (`serve`): serve the control API until SIGTERM / Ctrl-C,
    starting `config` first when given."""

    config: str | None = None
    api_host: str | None = None
    api_port: int | None = None
    speed: float | None = None
    once: bool = False          # leave when the first session has ended


@dataclass(frozen=True)
class RawText:
    """Text for machines (e.g. CSV on stdout), written exactly as is: no wrapping, styling or markup."""

    text: str

    def to_json(self) -> Any:
        return {"text": self.text}


Result = (Table | Record | Message | Chart | HeatMap | Group | Watch | RunScript | ClearScreen | ExitShell
          | ShowHistory | RawText | ServeSessions | None)
