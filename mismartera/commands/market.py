"""`data trades|quotes|latest-trade|latest-quote|high-low|avg-volume|session-stats|snapshot`: what a trader
asks before the open, answered from stored trades, quotes and 1-minute bars (or Alpaca's snapshot)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from mismartera.commands.context import AppContext
from mismartera.commands.registry import Arg, Option, command
from mismartera.commands.results import Column, Group, Record, Table
from mismartera.commands.ticks import instant, symbol_with, tick_store
from mismartera.data import analytics
from mismartera.data.ranges import day_range_ts, normalize_symbol
from mismartera.data.sql_readers import DatabaseReader, SqlReader, reader_for
from mismartera.data.tick_kinds import MICROS, TickKind, TickRow
from mismartera.errors import NotFound, UsageError

GROUP = "data"  # declared, with its help, in commands/data.py


def trade_json(row: TickRow) -> dict[str, Any]:
    ts, _seq, price, size, exchange, conditions, trade_id = row
    return {"time": instant(ts), "price": price, "size": size, "exchange": exchange, "conditions": conditions,
            "id": trade_id}


def quote_json(row: TickRow) -> dict[str, Any]:
    ts, _seq, bid, bid_size, ask, ask_size, bid_exchange, ask_exchange, conditions = row
    return {"time": instant(ts), "bid_price": bid, "bid_size": bid_size, "ask_price": ask, "ask_size": ask_size,
            "bid_exchange": bid_exchange, "ask_exchange": ask_exchange, "conditions": conditions}


TRADE_COLUMNS = (Column("Time", "time", "micro"), Column("Price", "price", "price"), Column("Size", "size", "qty"),
                 Column("Exch", "exchange"), Column("Conditions", "conditions"))
QUOTE_COLUMNS = (Column("Time", "time", "micro"), Column("Bid", "bid_price", "price"),
                 Column("Bid size", "bid_size", "qty"), Column("Ask", "ask_price", "price"),
                 Column("Ask size", "ask_size", "qty"))


def _ticks(ctx: AppContext, kind: TickKind, symbol: str, start: date, end: date | None, limit: int) -> Table:
    if limit < 0:
        raise UsageError(f"--limit {limit} is negative (expected 0 for all, or a positive count)")
    target = symbol_with(ctx, kind, symbol)
    end = end or start
    start_s, end_s = day_range_ts(start, end)
    store = tick_store(ctx, kind)
    rows = store.read(target, start_s * MICROS, end_s * MICROS, limit=limit or None)
    span = start.isoformat() if end == start else f"{start.isoformat()} to {end.isoformat()}"
    if not rows:
        raise NotFound(f"no {kind} of {target} in {span}")
    to_json = trade_json if kind == "trades" else quote_json
    data = [to_json(r) for r in rows]
    columns = TRADE_COLUMNS if kind == "trades" else QUOTE_COLUMNS
    total = store.count(target, start_s * MICROS, end_s * MICROS) if limit and len(rows) == limit else len(rows)
    caption = f"{len(rows):,} {kind}" + (f" (first {len(rows):,} of {total:,}: use --limit 0 for all)"
                                          if total > len(rows) else "")
    return Table(f"{target} {kind} {span}", columns, [tuple(d[c.key or ""] for c in columns) for d in data],
                 caption=caption, data=data)


@command(GROUP, "trades", help="Stored trades of a symbol for a day or a range of days",
         args=(Arg("symbol", "the symbol", complete="symbol", metavar="SYMBOL"),
               Arg("start", "first day", type=date, complete="date", metavar="START"),
               Arg("end", "last day (default: START)", type=date, required=False, complete="date", metavar="END"),
               Option("limit", "show at most N trades (0: all)", type=int)),
         json=True, examples=("data trades AAPL 2024-11-29", "data trades AAPL 2024-11-29 --limit 10 --json"))
def trades(ctx: AppContext, symbol: str, start: date, end: date | None = None, limit: int = 100) -> Table:
    return _ticks(ctx, "trades", symbol, start, end, limit)


@command(GROUP, "quotes", help="Stored quotes (bid/ask) of a symbol for a day or a range of days",
         args=(Arg("symbol", "the symbol", complete="symbol", metavar="SYMBOL"),
               Arg("start", "first day", type=date, complete="date", metavar="START"),
               Arg("end", "last day (default: START)", type=date, required=False, complete="date", metavar="END"),
               Option("limit", "show at most N quotes (0: all)", type=int)),
         json=True, examples=("data quotes AAPL 2024-11-29", "data quotes AAPL 2024-11-29 --limit 10 --json"))
def quotes(ctx: AppContext, symbol: str, start: date, end: date | None = None, limit: int = 100) -> Table:
    return _ticks(ctx, "quotes", symbol, start, end, limit)


def _record(data: dict[str, Any]) -> list[tuple[str, Any]]:
    return [(key.replace("_", " ").capitalize(), value) for key, value in data.items()]


@command(GROUP, "latest-trade", help="The most recent stored trade of a symbol",
         args=(Arg("symbol", "the symbol", complete="symbol", metavar="SYMBOL"),), json=True,
         examples=("data latest-trade AAPL",))
def latest_trade(ctx: AppContext, symbol: str) -> Record:
    target = symbol_with(ctx, "trades", symbol)
    row = tick_store(ctx, "trades").latest(target)
    assert row is not None  # _symbol_with found rows
    data = {"symbol": target, **trade_json(row)}
    return Record(f"Latest {target} trade", _record(data), data=data)


@command(GROUP, "latest-quote", help="The most recent stored quote of a symbol",
         args=(Arg("symbol", "the symbol", complete="symbol", metavar="SYMBOL"),), json=True,
         examples=("data latest-quote AAPL",))
def latest_quote(ctx: AppContext, symbol: str) -> Record:
    target = symbol_with(ctx, "quotes", symbol)
    row = tick_store(ctx, "quotes").latest(target)
    assert row is not None
    data = {"symbol": target, **quote_json(row)}
    return Record(f"Latest {target} quote", _record(data), data=data)


# ---------------------------------------------------------------------------------------------- analytics
WINDOW_ARGS = (Arg("symbol", "the symbol", complete="symbol", metavar="SYMBOL"),
               Arg("days", "how many trading days", type=int, metavar="DAYS"),
               Option("end", "last day of the window (default: the latest stored day)", type=date, complete="date"))


@command(GROUP, "high-low", help="Highest high and lowest low of the regular sessions over the last DAYS trading days",
         args=WINDOW_ARGS, json=True,
         examples=("data high-low AAPL 252", "data high-low AAPL 20 --end 2024-11-29 --json"))
def high_low(ctx: AppContext, symbol: str, days: int, end: date | None = None) -> Record:
    result = analytics.high_low(_bars(ctx), ctx.time, normalize_symbol(symbol), days, end)
    data = {"symbol": result.symbol, "days": result.days, "start": result.start, "end": result.end,
            "high": result.high, "high_at": result.high_at, "low": result.low, "low_at": result.low_at}
    return Record(f"{result.symbol} {days}-day high and low", [
        ("Window", f"{result.start.isoformat()} to {result.end.isoformat()}"),
        ("High", result.high), ("High at", result.high_at), ("Low", result.low), ("Low at", result.low_at)],
        data=data)


@command(GROUP, "avg-volume", help="Mean regular-session volume per trading day over the last DAYS trading days",
         args=WINDOW_ARGS, json=True,
         examples=("data avg-volume AAPL 30", "data avg-volume AAPL 10 --end 2024-11-29 --json"))
def avg_volume(ctx: AppContext, symbol: str, days: int, end: date | None = None) -> Record:
    result = analytics.average_volume(_bars(ctx), ctx.time, normalize_symbol(symbol), days, end)
    data = {"symbol": result.symbol, "days": result.days, "days_with_data": result.days_with_data,
            "start": result.start, "end": result.end, "average_volume": result.average_volume}
    return Record(f"{result.symbol} average daily volume", [
        ("Window", f"{result.start.isoformat()} to {result.end.isoformat()}"),
        ("Days with data", f"{result.days_with_data} of {result.days}"),
        ("Average volume", round(result.average_volume))], formats={"Average volume": "int"}, data=data)


def _bars(ctx: AppContext) -> SqlReader:
    """Where the market queries read bars: the process's `Database` once it is open (the shell, a
    script), else a SQLite file straight through the standard library (a one-shot query then imports
    no SQLAlchemy), any other database through the `Database`."""
    if ctx.has_db():
        return DatabaseReader(ctx.db)
    return reader_for(ctx.settings.db_url, lambda: ctx.db)


def _running_day(ctx: AppContext) -> tuple[date, datetime] | None:
    """The running session's current day and clock, when a session is running in this process or in
    the process that owns this data home's session (asked through its control API)."""
    remote = ctx.locate_owner(ctx) if ctx.locate_owner is not None else None
    if remote is None and not ctx.has_system():
        return None
    status = (remote if remote is not None else ctx.system).status()
    if status.state.value not in ("running", "paused") or status.clock is None or status.day is None:
        return None
    return status.day, status.clock


@command(GROUP, "session-stats", help="One regular session's open, high, low, close, volume, VWAP and missing minutes",
         args=(Arg("symbol", "the symbol", complete="symbol", metavar="SYMBOL"),
               Arg("day", "the day (default: the running session's day so far, else the latest stored day)",
                   type=date, required=False, complete="date", metavar="DATE")),
         json=True, examples=("data session-stats AAPL", "data session-stats AAPL 2024-11-29 --json"))
def session_stats(ctx: AppContext, symbol: str, day: date | None = None) -> Record:
    target = normalize_symbol(symbol)
    until = None
    if day is None:
        running = _running_day(ctx)
        if running is not None:
            day, until = running
        else:
            day = analytics.latest_day(_bars(ctx), ctx.time, target)
    result = analytics.session_stats(_bars(ctx), ctx.time, target, day, until)
    data = {"symbol": result.symbol, "date": result.date, "open": result.open, "high": result.high,
            "low": result.low, "close": result.close, "volume": result.volume, "vwap": result.vwap,
            "bars": result.bars, "missing": result.missing}
    return Record(f"{result.symbol} session {result.date.isoformat()}" + (" so far" if until else ""),
                  _record({k: v for k, v in data.items() if k not in ("symbol", "date")}),
                  formats={"Volume": "int", "Bars": "int", "Missing": "int"}, data=data)




def _daily(ctx: AppContext, symbol: str, day: date) -> dict[str, Any] | None:
    try:
        stats = analytics.session_stats(_bars(ctx), ctx.time, symbol, day)
    except NotFound:
        return None
    session = ctx.time.session(day)
    assert session is not None
    return {"time": session.open, "open": stats.open, "high": stats.high, "low": stats.low, "close": stats.close,
            "volume": stats.volume, "vwap": stats.vwap}


def _stored_snapshot(ctx: AppContext, symbol: str) -> dict[str, Any]:
    trade = tick_store(ctx, "trades").latest(symbol)
    quote = tick_store(ctx, "quotes").latest(symbol)
    bar = ctx.bars.latest(symbol, "1m")
    if trade is None and quote is None and bar is None:
        raise NotFound(f"nothing stored for '{symbol}' (no trades, quotes or 1m bars) and no Alpaca keys set "
                       "for a live snapshot")
    today = previous = None
    if bar is not None:
        day = analytics.latest_day(_bars(ctx), ctx.time, symbol)
        if ctx.time.is_trading_day(day):
            today = _daily(ctx, symbol, day)
            previous = _daily(ctx, symbol, ctx.time.previous_trading_day(day))
    minute = None if bar is None else {"time": datetime.fromtimestamp(bar[0], UTC), "open": bar[1], "high": bar[2],
                                       "low": bar[3], "close": bar[4], "volume": bar[5], "vwap": bar[7]}
    return {"latest_trade": trade, "latest_quote": quote, "minute_bar": minute, "daily_bar": today,
            "previous_daily_bar": previous}


@command(GROUP, "snapshot", help="Latest trade, quote and minute bar, today's and the previous daily bar of a symbol",
         args=(Arg("symbol", "the symbol", complete="symbol", metavar="SYMBOL"),
               Option("feed", "Alpaca data feed (live snapshots)", choices=("iex", "sip"))),
         json=True, description="From Alpaca's snapshot endpoint when ALPACA_API_KEY and ALPACA_SECRET_KEY are set "
                                "(live data), else from the database; the output says which.",
         examples=("data snapshot AAPL", "data snapshot AAPL --json"))
def snapshot(ctx: AppContext, symbol: str, feed: str = "iex") -> Group:
    target = normalize_symbol(symbol)
    keys = ctx.settings.alpaca
    if keys.api_key and keys.secret_key:
        from mismartera.integrations.alpaca.ticks import fetch_snapshot

        found, source = fetch_snapshot(keys, target, feed), "alpaca"
    else:
        found, source = _stored_snapshot(ctx, target), "database"
    trade, quote = found["latest_trade"], found["latest_quote"]
    data = {"symbol": target, "source": source,
            "latest_trade": trade_json(trade) if trade else None, "latest_quote": quote_json(quote) if quote else None,
            "minute_bar": found["minute_bar"], "daily_bar": found["daily_bar"],
            "previous_daily_bar": found["previous_daily_bar"]}
    fields: list[tuple[str, Any]] = [("Source", "Alpaca (live)" if source == "alpaca" else "database (stored)")]
    if trade:
        fields += [("Last trade", f"{trade[3]:g} @ {trade[2]}"), ("Trade time", instant(trade[0]))]
    if quote:
        fields += [("Bid", f"{quote[3]:g} @ {quote[2]}"), ("Ask", f"{quote[5]:g} @ {quote[4]}"),
                   ("Quote time", instant(quote[0]))]
    bars = (("Minute bar", "minute_bar"), ("Daily bar", "daily_bar"), ("Previous day", "previous_daily_bar"))
    for label, key in bars:
        bar = found[key]
        if bar:
            fields.append((label, f"O {bar['open']} H {bar['high']} L {bar['low']} C {bar['close']} "
                                  f"V {bar['volume']:,.0f}"))
    return Group([Record(f"{target} snapshot", fields)], data=data)


__all__ = ["quote_json", "trade_json"]
