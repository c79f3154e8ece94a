"""Trades and quotes for the `data` commands: the stores, and what `data import-file`, `data import-api`
and `data export-csv` do with `--type trades|quotes` (their bars paths live in `commands/data.py`).
Declares no command itself."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mismartera.commands.context import AppContext
from mismartera.commands.results import Column, Group, Message, Record, Table
from mismartera.data.ranges import day_range_ts, normalize_symbol
from mismartera.data.tick_kinds import MICROS, TickKind
from mismartera.errors import NotFound

if TYPE_CHECKING:
    from mismartera.data.tick_store import TickStore


def tick_store(ctx: AppContext, kind: TickKind) -> TickStore:
    """The process's store of trades or quotes (one per kind, built on first use)."""
    key = f"ticks:{kind}"
    store = ctx.extras.get(key)
    if store is None:
        from mismartera.data.tick_store import TickStore

        store = ctx.extras[key] = TickStore(ctx.db, kind)
    return store


def instant(ts: int) -> datetime:
    seconds, micros = divmod(ts, MICROS)
    return datetime.fromtimestamp(seconds, UTC).replace(microsecond=micros)


def symbol_with(ctx: AppContext, kind: TickKind, text: str) -> str:
    symbol = normalize_symbol(text)
    if tick_store(ctx, kind).summary(symbol) is None:
        raise NotFound(f"no {kind} stored for '{symbol}' (import them with "
                       f"'data import-file PATH {symbol} --type {kind}' or 'data import-api {symbol} … --type {kind}')")
    return symbol


# ---------------------------------------------------------------------------------------------- files
def import_tick_file(ctx: AppContext, path: str, symbol: str, kind: TickKind, tz: str, strict: bool) -> Group:
    """`data import-file PATH SYMBOL --type trades|quotes`."""
    from mismartera.data.tick_csv import import_ticks
    from mismartera.timekeeping.calendar import zone

    target = normalize_symbol(symbol)
    progress = ctx.progress(f"importing {Path(path).name}", None, "rows")
    try:
        summary = import_ticks(tick_store(ctx, kind), Path(path).expanduser(), target, zone(tz), strict, progress)
    finally:
        progress.close()
    parts: list[Any] = []
    if summary.skipped:
        more = summary.skipped - len(summary.errors)
        lines = summary.errors + ([f"… and {more} more"] if more > 0 else [])
        parts.append(Message(f"{summary.skipped} bad row(s) skipped:\n" + "\n".join(lines), "warn"))
    first = instant(summary.first_ts) if summary.first_ts is not None else None
    last = instant(summary.last_ts) if summary.last_ts is not None else None
    parts.append(Record(f"Imported {summary.symbol} {kind} from {Path(summary.path).name}", [
        ("Rows read", summary.rows_read), ("Imported", summary.imported), ("New", summary.new),
        ("Skipped (bad rows)", summary.skipped), ("First", first), ("Last", last),
        ("Speed", f"{summary.rate:,.0f} rows/s")],
        formats={"Rows read": "int", "Imported": "int", "New": "int"}))
    return Group(parts, data={
        "path": summary.path, "symbol": summary.symbol, "type": kind, "rows_read": summary.rows_read,
        "imported": summary.imported, "new": summary.new, "skipped": summary.skipped, "first": first,
        "last": last, "errors": summary.errors, "seconds": round(summary.seconds, 3)})


def export_tick_csv(ctx: AppContext, symbol: str, kind: TickKind, start: date, end: date, output: str) -> Message:
    """`data export-csv SYMBOL START END -o FILE --type trades|quotes`."""
    from mismartera.data.tick_csv import export_ticks

    target = symbol_with(ctx, kind, symbol)
    start_s, end_s = day_range_ts(start, end)
    path = Path(output).expanduser()
    count = export_ticks(tick_store(ctx, kind), target, start_s * MICROS, end_s * MICROS, path)
    return Message(f"wrote {count:,} {kind} of {target} to {path}", "ok",
                   data={"symbol": target, "type": kind, "rows": count, "path": str(path)})


def import_tick_api(ctx: AppContext, symbols: list[str], kind: TickKind, start: date, end: date, feed: str) -> Table:
    """`data import-api SYMBOLS START END --type trades|quotes`."""
    from mismartera.integrations.alpaca.ticks import import_ticks

    progress = ctx.progress(f"fetching {kind} from Alpaca", None, "rows")
    try:
        results = import_ticks(tick_store(ctx, kind), ctx.settings.alpaca, symbols, start, end, feed,
                               progress=progress)
    finally:
        progress.close()
    rows = [(r.symbol, r.kind, r.rows, r.new, instant(r.first_ts), instant(r.last_ts)) for r in results]
    return Table(f"Imported {kind} from Alpaca ({feed}) {start.isoformat()} to {end.isoformat()}",
                 (Column("Symbol", "symbol"), Column("Type", "type"), Column("Rows", "rows", "int"),
                  Column("New", "new", "int"), Column("First", "first"), Column("Last", "last")), rows)


__all__ = ["export_tick_csv", "import_tick_api", "import_tick_file", "instant", "symbol_with", "tick_store"]
