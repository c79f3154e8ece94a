"""`data …`: load, inspect and look after market data (1-minute bars and bars derived from them)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from mismartera.bars import INTERVAL_SECONDS
from mismartera.commands import ticks
from mismartera.commands.context import AppContext
from mismartera.commands.registry import Arg, Option, command, group
from mismartera.commands.results import Column, Group, Message, RawText, Record, Table
from mismartera.data.ranges import (
    bar_time,
    day_range_ts,
    inclusive_bounds,
    normalize_symbol,
    parse_symbols,
)
from mismartera.data.tick_kinds import TICK_KINDS
from mismartera.errors import ExternalServiceError, NotFound, UsageError
from mismartera.exchange import EXCHANGE_TZ_NAME
from mismartera.suggest import suffix

GROUP = group("data", "Market data: import (CSV, Alpaca, demo), derive, inspect, check quality, export, delete")
INTERVALS = tuple(INTERVAL_SECONDS)
DERIVED = ("5m", "15m", "30m", "1h", "1d")

# The first line is the summary `help` lists; the rest shows in `--help`.
IMPORT_FILE_HELP = """Import bars (or --type trades|quotes) of a symbol from a CSV file (checked rows, one transaction)

Layouts: Date,Time,Open,High,Low,Close,Volume (date YYYY-MM-DD or MM/DD/YYYY, time HH:MM[:SS]),
or timestamp,open,high,low,close,volume[,trade_count,vwap] (ISO 8601, with or without an offset).
A bad row is reported by line (the first 20, then a count) and skipped; --strict imports nothing
then. Re-importing a file changes nothing; bars outside regular hours are kept and counted.
Trades: timestamp,price,size[,exchange,conditions,id]; quotes: timestamp,bid_price,bid_size,
ask_price,ask_size[,bid_exchange,ask_exchange,conditions] (ISO 8601 up to microseconds)."""
IMPORT_API_HELP = """Import bars (or --type trades|quotes) from Alpaca's market-data API (dates inclusive, all pages)

Needs ALPACA_API_KEY and ALPACA_SECRET_KEY; ALPACA_DATA_URL overrides the endpoint. Nothing is
written unless every symbol returned bars; importing again changes nothing."""
BACKFILL_HELP = """Fetch from Alpaca the minutes live sessions released missing and never stored

A live session releases a minute to its strategies without a bar when the stream missed it and the
REST API kept failing; it fetches it again in the background until stored, and the next live
session takes up what is left. This does the same by hand, for every live run so far."""
AGGREGATE_HELP = """Build and store 5m/15m/30m/1h/1d bars from stored 1-minute bars

Windows start at the session open; the last one of a day is cut at the close (early closes
included). A window with missing minutes is built from what exists and counted as incomplete."""


def _utc(ts: int | None) -> datetime | str | None:
    return None if ts is None else bar_time(ts)


def _stored_symbol(ctx: AppContext, text: str) -> str:
    """A symbol that has bars, or NotFound with a did-you-mean."""
    symbol = normalize_symbol(text)
    known = ctx.bars.symbols()
    if symbol not in known:
        hint = suffix(symbol, known) or (" (no bars are stored yet: try 'data demo' or 'data import-file')"
                                         if not known else " (see 'data list')")
        raise NotFound(f"no bars stored for '{symbol}'{hint}")
    return symbol


# ---------------------------------------------------------------------------------------------- imports
@command(GROUP, "import-file", help=IMPORT_FILE_HELP,
         args=(Arg("path", "the CSV file", complete="file", metavar="PATH"),
               Arg("symbol", "the symbol the bars belong to", complete="symbol", metavar="SYMBOL"),
               Option("interval", "bar length of the file", choices=INTERVALS, complete="interval"),
               Option("tz", "time zone of times written without an offset"),
               Option("strict", "import nothing (and fail) if any row is bad", type=bool),
               Option("type", "what the file holds", choices=("bars", *TICK_KINDS))),
         json=True,
         examples=("data import-file bars/AAPL.csv AAPL", "data import-file spy.csv SPY --tz UTC --strict",
                   "data import-file aapl_trades.csv AAPL --type trades"))
def import_file(ctx: AppContext, path: str, symbol: str, interval: str = "1m", tz: str = EXCHANGE_TZ_NAME,
                strict: bool = False, type: str = "bars") -> Group:
    from mismartera.data.csv_import import import_file as run_import
    from mismartera.data.csv_parse import RowLimits
    from mismartera.timekeeping.calendar import zone

    if type in TICK_KINDS:
        if interval != "1m":
            raise UsageError(f"--interval is for bars (not with --type {type})")
        return ticks.import_tick_file(ctx, path, symbol, type, tz, strict)
    target = normalize_symbol(symbol)
    progress = ctx.progress(f"importing {Path(path).name}", None, "rows")
    try:
        summary = run_import(ctx.bars, ctx.time, Path(path).expanduser(), target, interval, zone(tz), strict,
                             progress, RowLimits(*ctx.settings.import_limits))
    finally:
        progress.close()
    parts: list[Any] = []
    if summary.skipped:
        more = summary.skipped - len(summary.errors)
        lines = summary.errors + ([f"… and {more} more"] if more > 0 else [])
        parts.append(Message(f"{summary.skipped} bad row(s) skipped:\n" + "\n".join(lines), "warn"))
    parts.append(Record(f"Imported {summary.symbol} {summary.interval} from {Path(summary.path).name}", [
        ("Layout", summary.layout),
        ("Rows read", summary.rows_read),
        ("Imported", summary.imported),
        ("New bars", summary.new),
        ("Skipped (bad rows)", summary.skipped),
        ("Extended hours", summary.extended_hours),
        ("First bar", _utc(summary.first_ts)),
        ("Last bar", _utc(summary.last_ts)),
        ("Speed", f"{summary.rate:,.0f} rows/s"),
    ], formats={"Rows read": "int", "Imported": "int", "New bars": "int", "Extended hours": "int"}))
    return Group(parts, data={
        "path": summary.path, "symbol": summary.symbol, "interval": summary.interval, "layout": summary.layout,
        "rows_read": summary.rows_read, "imported": summary.imported, "new": summary.new,
        "skipped": summary.skipped, "extended_hours": summary.extended_hours,
        "first": _utc(summary.first_ts), "last": _utc(summary.last_ts), "errors": summary.errors,
        "seconds": round(summary.seconds, 3)})


@command(GROUP, "import-api", help=IMPORT_API_HELP,
         args=(Arg("symbols", "comma-separated symbols, e.g. AAPL,MSFT", complete="symbol", metavar="SYMBOLS"),
               Arg("start", "first day", type=date, complete="date", metavar="START"),
               Arg("end", "last day", type=date, complete="date", metavar="END"),
               Option("interval", "bar length", choices=("1m", "5m", "15m", "1h", "1d"),
                      complete="interval"),
               Option("feed", "Alpaca data feed", choices=("iex", "sip")),
               Option("type", "what to import", choices=("bars", *TICK_KINDS))),
         json=True, examples=("data import-api AAPL,MSFT 2024-11-01 2024-11-29",
                              "data import-api SPY 2024-11-01 2024-11-29 --interval 1d --feed sip",
                              "data import-api AAPL 2024-11-29 2024-11-29 --type trades"))
def import_api(ctx: AppContext, symbols: str, start: date, end: date, interval: str = "1m",
               feed: str = "iex", type: str = "bars") -> Table:
    from mismartera.integrations.alpaca.historical import import_bars

    wanted = parse_symbols(symbols)
    if type in TICK_KINDS:
        if interval != "1m":
            raise UsageError(f"--interval is for bars (not with --type {type})")
        return ticks.import_tick_api(ctx, wanted, type, start, end, feed)
    progress = ctx.progress("fetching from Alpaca", len(wanted), "symbols")
    try:
        results = import_bars(ctx.bars, ctx.settings.alpaca, wanted, start, end, interval, feed, progress=progress)
    finally:
        progress.close()
    rows = [(r.symbol, r.interval, r.bars, r.new, _utc(r.first_ts), _utc(r.last_ts)) for r in results]
    return Table(f"Imported from Alpaca ({feed}) {start.isoformat()} to {end.isoformat()}",
                 (Column("Symbol", "symbol"), Column("Interval", "interval"), Column("Bars", "bars", "int"),
                  Column("New", "new", "int"), Column("First bar", "first"), Column("Last bar", "last")), rows)


@command(GROUP, "backfill", help=BACKFILL_HELP,
         args=(Option("feed", "Alpaca data feed", choices=("iex", "sip")),),
         json=True, examples=("data backfill", "data backfill --feed sip"))
def backfill(ctx: AppContext, feed: str = "iex") -> Table | Message:
    from mismartera.integrations.alpaca.source import rest_backfill
    from mismartera.system.minute_refetch import MinuteRefetcher, earlier_missing

    missing = earlier_missing(ctx.db, ctx.bars, limit=None)
    if not missing:
        return Message("no minute left missing by a live session", data={"minutes": []})
    refetcher = MinuteRefetcher(ctx.bars, rest_backfill(ctx.settings.alpaca, feed))
    for symbol, ts in missing:
        refetcher.add(symbol, ts)
    if not refetcher.fetch_pending():
        raise ExternalServiceError(f"could not fetch the missing minutes: {refetcher.last_error}")
    rows = [(item["symbol"], _utc(item["ts"]), "stored" if item["stored"] else "no trades (Alpaca has no bar)")
            for item in refetcher.summary()]
    return Table(f"Minutes live sessions left missing, fetched from Alpaca ({feed})",
                 (Column("Symbol", "symbol"), Column("Minute", "minute"), Column("Now", "now")), rows)


@command(GROUP, "demo", help="Generate deterministic demo 1-minute bars on the NYSE calendar",
         args=(Option("symbols", "comma-separated symbols", complete="symbol"),
               Option("start", "first day (the next trading day if closed)", type=date,
                      complete="date"),
               Option("days", "how many trading days", type=int),
               Option("seed", "random seed (same seed, same bars)", type=int)),
         json=True, examples=("data demo", "data demo --symbols AAPL --start 2024-12-02 --days 5 --seed 1"))
def demo(ctx: AppContext, symbols: str = "AAPL,MSFT,NVDA,TSLA,SPY", start: date = date(2024, 11, 1),
         days: int = 20, seed: int = 7) -> Record:
    from mismartera.data.demo import seed_demo

    wanted = parse_symbols(symbols)
    progress = ctx.progress("generating demo bars", None, "bars")
    try:
        summary = seed_demo(ctx.bars, ctx.time, wanted, start, days, seed, progress)
    finally:
        progress.close()
    return Record("Demo bars", [("Symbols", ", ".join(summary.symbols)), ("First day", summary.first_day),
                                ("Last day", summary.last_day), ("Trading days", summary.days),
                                ("Bars", summary.bars), ("Seed", seed)],
                  formats={"Bars": "int"},
                  data={"symbols": list(summary.symbols), "first_day": summary.first_day,
                        "last_day": summary.last_day, "days": summary.days, "bars": summary.bars, "seed": seed})


# ---------------------------------------------------------------------------------------------- derived, quality
@command(GROUP, "aggregate", help=AGGREGATE_HELP,
         args=(Arg("symbol", "the symbol", complete="symbol", metavar="SYMBOL"),
               Arg("start", "first day", type=date, complete="date", metavar="START"),
               Arg("end", "last day", type=date, complete="date", metavar="END"),
               Option("to", "the derived bar length", choices=DERIVED, complete="interval")),
         json=True, examples=("data aggregate AAPL 2024-11-01 2024-11-29 --to 5m",
                              "data aggregate SPY 2024-11-01 2024-11-29 --to 1d"))
def aggregate(ctx: AppContext, symbol: str, start: date, end: date, to: str = "5m") -> Record:
    from mismartera.data.derived import store_derived

    summary = store_derived(ctx.bars, ctx.time, _stored_symbol(ctx, symbol), start, end, to)
    return Record(f"{summary.symbol} {summary.to} bars", [
        ("Trading days", summary.days), ("1m bars read", summary.source_bars), (f"{summary.to} bars stored",
                                                                                summary.bars),
        ("Incomplete", summary.incomplete)],
        formats={"1m bars read": "int"},
        data={"symbol": summary.symbol, "to": summary.to, "days": summary.days, "source_bars": summary.source_bars,
              "bars": summary.bars, "incomplete": summary.incomplete})


def _local_day(ts: int, ctx: AppContext) -> date:
    return ctx.time.to_exchange(datetime.fromtimestamp(ts, UTC)).date()


def _gap_text(ctx: AppContext, gaps: list) -> str:
    shown = []
    for gap in gaps[:3]:
        first = ctx.time.to_exchange(datetime.fromtimestamp(gap.start_ts, UTC)).strftime("%H:%M")
        last = ctx.time.to_exchange(datetime.fromtimestamp(gap.end_ts, UTC)).strftime("%H:%M")
        shown.append(f"{first}–{last} ({gap.missing})" if gap.missing > 1 else f"{first} (1)")
    if len(gaps) > 3:
        shown.append(f"+{len(gaps) - 3} more")
    return ", ".join(shown)


@command(GROUP, "quality", help="Stored 1-minute bars vs the calendar: quality per day and the gaps",
         args=(Arg("symbol", "the symbol", complete="symbol", metavar="SYMBOL"),
               Option("start", "first day (default: the first stored bar)", type=date, complete="date"),
               Option("end", "last day (default: the last stored bar)", type=date, complete="date")),
         json=True, examples=("data quality AAPL", "data quality AAPL --start 2024-11-01 --end 2024-11-29"))
def quality(ctx: AppContext, symbol: str, start: date | None = None, end: date | None = None) -> Group:
    from mismartera.data.quality import quality_report

    target = _stored_symbol(ctx, symbol)
    if start is None or end is None:
        span = ctx.bars.valid_span(target, "1m")
        if span is None:
            raise NotFound(f"no 1m bars stored for '{target}' (quality is measured on 1-minute bars)")
        start = start or _local_day(span[0], ctx)
        end = end or _local_day(span[1], ctx)
    report = quality_report(ctx.bars, ctx.time, target, start, end)
    rows = [(d.day, d.expected, d.present, d.pct, len(d.gaps), _gap_text(ctx, d.gaps)) for d in report.days]
    table = Table(f"{target} 1m quality {start.isoformat()} to {end.isoformat()}",
                  (Column("Date", "date"), Column("Expected", "expected", "int"), Column("Present", "present", "int"),
                   Column("Quality", "pct", "pct"), Column("Gaps", "gaps", "int"), Column("Missing", "missing")),
                  rows)
    overall = Message(f"overall {report.pct:.2f}%: {report.present:,} of {report.expected:,} minutes over "
                      f"{len(report.days)} trading day(s), {len(report.gaps)} gap(s)",
                      "ok" if report.pct >= 99.9 else "warn")
    return Group([table, overall], data={
        "symbol": target, "start": start, "end": end, "expected": report.expected, "present": report.present,
        "pct": report.pct,
        "days": [{"date": d.day, "expected": d.expected, "present": d.present, "pct": d.pct,
                  "gaps": [{"start": _utc(g.start_ts), "end": _utc(g.end_ts), "missing": g.missing} for g in d.gaps]}
                 for d in report.days]})


# ---------------------------------------------------------------------------------------------- inspection
SERIES_COLUMNS = (Column("Symbol", "symbol"), Column("Interval", "interval"), Column("First bar", "first"),
                  Column("Last bar", "last"), Column("Bars", "rows", "int"))


@command(GROUP, "list", help="Stored symbols with their intervals, first and last bar and bar counts", json=True,
         examples=("data list", "data list --json"))
def list_series(ctx: AppContext) -> Table | Message:
    series = ctx.bars.series()
    if not series:
        return Message("no bars stored yet (try 'data demo' or 'data import-file PATH SYMBOL')", "dim",
                       data=[])
    return Table("Stored bars", SERIES_COLUMNS,
                 [(s.symbol, s.interval, _utc(s.first_ts), _utc(s.last_ts), s.rows) for s in series])


def _bar_record(row: tuple) -> list[tuple[str, Any]]:
    return [("Time", _utc(row[0])), ("Open", row[1]), ("High", row[2]), ("Low", row[3]), ("Close", row[4]),
            ("Volume", row[5]), ("Trades", row[6]), ("VWAP", row[7])]


def _bar_json(row: tuple) -> dict[str, Any]:
    return {"time": _utc(row[0]), "open": row[1], "high": row[2], "low": row[3], "close": row[4],
            "volume": row[5], "trade_count": row[6], "vwap": row[7]}


@command(GROUP, "info", help="What is stored for one symbol: each interval's span and count, and the latest bar",
         args=(Arg("symbol", "the symbol", complete="symbol", metavar="SYMBOL"),), json=True,
         examples=("data info AAPL",))
def info(ctx: AppContext, symbol: str) -> Group:
    target = _stored_symbol(ctx, symbol)
    series = ctx.bars.series(target)
    table = Table(f"{target}", SERIES_COLUMNS,
                  [(s.symbol, s.interval, _utc(s.first_ts), _utc(s.last_ts), s.rows) for s in series])
    finest = min(series, key=lambda s: INTERVAL_SECONDS.get(s.interval, 10**9)).interval
    latest = ctx.bars.latest(target, finest)  # shown even when its time is bad (see bar_time)
    parts: list[Any] = [table]
    if latest is not None:
        parts.append(Record(f"Latest {finest} bar", _bar_record(latest), formats={"Volume": "int"}))
    return Group(parts, data={"symbol": target,
                              "series": [{"interval": s.interval, "first": _utc(s.first_ts), "last": _utc(s.last_ts),
                                          "bars": s.rows} for s in series],
                              "latest": {"interval": finest, **_bar_json(latest)} if latest else None})


@command(GROUP, "bars", help="Show stored bars of a symbol for a day or a range of days",
         args=(Arg("symbol", "the symbol", complete="symbol", metavar="SYMBOL"),
               Arg("start", "first day", type=date, complete="date", metavar="START"),
               Arg("end", "last day (default: START)", type=date, required=False, complete="date", metavar="END"),
               Option("interval", "bar length", choices=INTERVALS, complete="interval"),
               Option("limit", "show at most N bars (0: all)", type=int),
               Option("csv", "print CSV (the export-csv layout) instead of a table", type=bool)),
         json=True, examples=("data bars AAPL 2024-11-29", "data bars AAPL 2024-11-25 2024-11-29 --interval 1h",
                              "data bars SPY 2024-11-29 --limit 5 --json", "data bars SPY 2024-11-29 --csv"))
def bars(ctx: AppContext, symbol: str, start: date, end: date | None = None, interval: str = "1m",
         limit: int = 1000, csv: bool = False) -> Table | RawText:
    from mismartera.data.csv_export import csv_lines

    if limit < 0:
        raise UsageError(f"--limit {limit} is negative (expected 0 for all, or a positive count)")
    target = _stored_symbol(ctx, symbol)
    end = end or start
    start_ts, end_ts = day_range_ts(start, end)
    rows = ctx.bars.read(target, interval, start_ts, end_ts, limit=limit or None)
    if csv:
        return RawText("".join(csv_lines(rows)))
    total = ctx.bars.count(target, interval, start_ts, end_ts) if limit and len(rows) == limit else len(rows)
    span = start.isoformat() if end == start else f"{start.isoformat()} to {end.isoformat()}"
    caption = f"{len(rows):,} bar(s)" + (f" (first {len(rows):,} of {total:,}: use --limit 0 for all)"
                                         if total > len(rows) else "")
    if not rows:
        caption = f"no {interval} bars of {target} in {span}"
    # Narrow enough for an 80-column terminal; --json and --csv carry every field.
    stamp = "time" if end == start and interval != "1d" else "minute"
    return Table(f"{target} {interval} bars {span}",
                 (Column("Time", "time", stamp), Column("Open", "open", "price"), Column("High", "high", "price"),
                  Column("Low", "low", "price"), Column("Close", "close", "price"),
                  Column("Volume", "volume", "int"), Column("VWAP", "vwap", "price")),
                 [(_utc(r[0]), r[1], r[2], r[3], r[4], r[5], r[7]) for r in rows], caption=caption,
                 data=[_bar_json(r) for r in rows])


@command(GROUP, "latest", help="The most recent stored bar of a symbol",
         args=(Arg("symbol", "the symbol", complete="symbol", metavar="SYMBOL"),
               Option("interval", "bar length", choices=INTERVALS, complete="interval")),
         json=True, examples=("data latest AAPL", "data latest AAPL --interval 5m --json"))
def latest(ctx: AppContext, symbol: str, interval: str = "1m") -> Record:
    target = _stored_symbol(ctx, symbol)
    row = ctx.bars.latest(target, interval)
    if row is None:
        have = ", ".join(s.interval for s in ctx.bars.series(target))
        raise NotFound(f"no {interval} bars stored for '{target}' (stored intervals: {have})")
    return Record(f"Latest {target} {interval} bar", _bar_record(row), formats={"Volume": "int"},
                  data={"symbol": target, "interval": interval, **_bar_json(row)})


# ---------------------------------------------------------------------------------------------- upkeep
@command(GROUP, "export-csv", help="Write stored bars to a CSV file that import-file reads back exactly",
         args=(Arg("symbol", "the symbol", complete="symbol", metavar="SYMBOL"),
               Arg("start", "first day", type=date, complete="date", metavar="START"),
               Arg("end", "last day", type=date, complete="date", metavar="END"),
               Option("output", "the file to write", required=True, short="o", complete="file", metavar="FILE"),
               Option("interval", "bar length", choices=INTERVALS, complete="interval"),
               Option("type", "what to write", choices=("bars", *TICK_KINDS))),
         json=True, examples=("data export-csv AAPL 2024-11-01 2024-11-29 -o aapl.csv",
                              "data export-csv AAPL 2024-11-29 2024-11-29 -o trades.csv --type trades"))
def export_csv(ctx: AppContext, symbol: str, start: date, end: date, output: str, interval: str = "1m",
               type: str = "bars") -> Message:
    from mismartera.data.csv_export import export_csv as write_csv

    if type in TICK_KINDS:
        if interval != "1m":
            raise UsageError(f"--interval is for bars (not with --type {type})")
        return ticks.export_tick_csv(ctx, symbol, type, start, end, output)
    target = _stored_symbol(ctx, symbol)
    start_ts, end_ts = day_range_ts(start, end)
    path = Path(output).expanduser()
    count = write_csv(ctx.bars, target, interval, start_ts, end_ts, path)
    return Message(f"wrote {count:,} {interval} bars of {target} to {path}", "ok",
                   data={"symbol": target, "interval": interval, "bars": count, "path": str(path)})


@command(GROUP, "delete", help="Delete a symbol's bars (all, or one interval, or a date range)",
         args=(Arg("symbol", "the symbol", complete="symbol", metavar="SYMBOL"),
               Option("start", "first day to delete", type=date, complete="date"),
               Option("end", "last day to delete", type=date, complete="date"),
               Option("interval", "only this bar length (default: every interval)", choices=INTERVALS,
                      complete="interval"),
               Option("yes", "do not ask (needed when not in a terminal)", type=bool)),
         json=True, examples=("data delete TSLA --yes", "data delete AAPL --start 2024-11-01 --end 2024-11-05"))
def delete(ctx: AppContext, symbol: str, start: date | None = None, end: date | None = None,
           interval: str | None = None, yes: bool = False) -> Message:

    target = _stored_symbol(ctx, symbol)
    if start is not None and end is not None and end < start:
        raise UsageError(f"--end {end.isoformat()} is before --start {start.isoformat()}")
    start_ts, end_ts = inclusive_bounds(start, end)
    intervals = [interval] if interval else [s.interval for s in ctx.bars.series(target)]
    count = sum(ctx.bars.count(target, i, start_ts, end_ts) for i in intervals)
    what = (f"{count:,} bar(s) of {target}" + (f" {interval}" if interval else "")
            + (f" from {start.isoformat()}" if start else "") + (f" to {end.isoformat()}" if end else ""))
    if count == 0:
        return Message(f"nothing to delete: no bars of {target} match", "dim", data={"deleted": 0})
    if not yes:
        if not ctx.interactive:
            raise UsageError(f"refusing to delete {what} without --yes (not a terminal, so nobody can confirm)")
        if not ctx.confirm(f"Delete {what}?"):
            return Message("nothing deleted", "dim", data={"deleted": 0})
    deleted = ctx.bars.delete(target, interval, start_ts, end_ts)
    return Message(f"deleted {deleted:,} bar(s) of {target}", "ok", data={"symbol": target, "deleted": deleted})


# ---------------------------------------------------------------------------------------------- the replay cache
CACHE_HELP = """Look after the columnar bar cache that backtests replay from (info, rebuild, clear)

The database is the source of truth: every write of bars marks the months it touches stale, and a
replay rebuilds a stale or damaged month before using it. 'rebuild' writes every month now (all
symbols, or those given); 'clear' removes the files. Switch the cache off with --no-cache or the
setting [cache] enabled = false (MISMARTERA_BAR_CACHE=off): results are the same either way."""


@command(GROUP, "cache", help=CACHE_HELP,
         args=(Arg("action", "what to do", choices=("info", "rebuild", "clear"), metavar="ACTION"),
               Arg("symbols", "rebuild only these symbols", required=False, multiple=True, complete="symbol",
                   metavar="SYMBOL")),
         json=True, examples=("data cache info", "data cache rebuild", "data cache rebuild AAPL MSFT",
                              "data cache clear"))
def cache(ctx: AppContext, action: str, symbols: list[str] | None = None) -> Message | Record:
    handle = ctx.open_bar_cache(force=True)
    assert handle is not None
    if action != "rebuild" and symbols:
        raise UsageError(f"data cache {action} takes no symbols (only 'rebuild' does)")
    if action == "info":
        info = handle.info()
        state = "on" if ctx.settings.bar_cache else "off (--no-cache or setting)"
        return Record("Bar cache", [("folder", str(info.root)), ("replay", state), ("files", f"{info.files:,}"),
                                    ("symbols", f"{info.symbols:,}"), ("size", f"{info.bytes / 1e6:,.1f} MB"),
                                    ("stale", f"{info.stale:,}")],
                      data={"folder": str(info.root), "enabled": ctx.settings.bar_cache, "files": info.files,
                            "symbols": info.symbols, "bytes": info.bytes, "stale": info.stale})
    if action == "clear":
        removed = handle.clear()
        return Message(f"removed {removed:,} cache file(s) from {handle.folder}", "ok", data={"removed": removed})
    chosen = [_stored_symbol(ctx, s) for s in symbols] if symbols else None
    written = handle.rebuild(chosen)
    return Message(f"wrote {written:,} cache file(s) (a month of one symbol each) to {handle.folder}", "ok",
                   data={"written": written})
