"""`time …`: the exchange calendar and the clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from mismartera.commands.context import AppContext
from mismartera.commands.registry import Arg, Option, command, group
from mismartera.commands.results import Column, Record, Table
from mismartera.errors import UsageError

GROUP = group("time", "Exchange calendar: sessions, holidays, market hours, time zones")


def _session_row(ctx: AppContext, day: date) -> tuple:
    session = ctx.time.session(day)
    if session is None:
        return (day, "closed", None, None, None)
    return (day, "early close" if session.early_close else "regular", session.open, session.close, session.minutes)


@command(GROUP, "now", help="Current time on the session clock (simulated in a backtest) and the wall clock",
         json=True, examples=("time now",))
def now(ctx: AppContext) -> Record:
    session_clock = ctx.time.now()
    wall = datetime.now(UTC)
    simulated = bool(getattr(ctx.time.clock, "simulated", False))
    return Record("Time", [
        ("Session clock", session_clock),
        ("Clock", "simulated" if simulated else "wall"),
        ("Wall clock", wall),
        ("Market", ctx.time.market_phase(session_clock).value),
    ], data={"session_clock": session_clock, "simulated": simulated, "wall_clock": wall,
             "market": ctx.time.market_phase(session_clock).value})


@command(GROUP, "market", help="Is the market open now, and when does that change", json=True,
         examples=("time market",))
def market(ctx: AppContext) -> Record:
    at = ctx.time.now()
    phase = ctx.time.market_phase(at)
    change_at, next_phase = ctx.time.next_change(at)
    simulated = bool(getattr(ctx.time.clock, "simulated", False))
    title = "Market on the session's simulated clock" if simulated else "Market"
    return Record(title, [("Now", at), ("Clock", "simulated (the running session's)" if simulated else "wall"),
                          ("Phase", phase.value), ("Next change", change_at),
                          ("Changes to", next_phase.value), ("In", _duration(change_at - at))],
                  data={"now": at, "simulated": simulated, "phase": phase.value, "next_change": change_at,
                        "next_phase": next_phase.value})


def _duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    days, minutes = divmod(minutes, 1440)
    hours, minutes = divmod(minutes, 60)
    return (f"{days}d " if days else "") + f"{hours}h {minutes:02d}m"


@command(GROUP, "session", help="A day's trading session: open, close, early close, extended hours",
         args=(Arg("day", "the day (default: today on the session clock)", type=date, required=False,
                   complete="date"),),
         json=True, examples=("time session 2024-11-29", "time session"))
def session(ctx: AppContext, day: date | None = None) -> Record:
    day = day or ctx.time.to_exchange(ctx.time.now()).date()
    info = ctx.time.session(day)
    if info is None:
        return Record(f"Session {day.isoformat()}", [("Date", day), ("Status", "closed (not a trading day)")],
                      data={"date": day, "trading_day": False})
    return Record(f"Session {day.isoformat()}", [
        ("Date", day),
        ("Status", "early close" if info.early_close else "regular"),
        ("Pre-market", info.pre_open),
        ("Open", info.open),
        ("Close", info.close),
        ("After-hours end", info.after_close),
        ("Minutes", info.minutes),
    ], data={"date": day, "trading_day": True, "early_close": info.early_close, "pre_open": info.pre_open,
             "open": info.open, "close": info.close, "after_close": info.after_close, "minutes": info.minutes})


@command(GROUP, "next", help="The next trading day(s) after a date",
         args=(Arg("day", "start after this day (default: today)", type=date, required=False, complete="date"),
               Option("n", "how many trading days", type=int)),
         json=True, examples=("time next", "time next 2024-12-24 --n 3"))
def next_days(ctx: AppContext, day: date | None = None, n: int = 1) -> Table:
    if n < 1 or n > 1000:
        raise UsageError(f"--n {n} is out of range (expected 1 to 1000)")
    day = day or ctx.time.to_exchange(ctx.time.now()).date()
    days = ctx.time.next_trading_days(day, n)
    return _day_table(ctx, f"Next {n} trading day(s) after {day.isoformat()}", days)


def _day_table(ctx: AppContext, title: str, days: list[date]) -> Table:
    columns = (Column("Date", "date"), Column("Session", "session"), Column("Open", "open", "time"),
               Column("Close", "close", "time"), Column("Minutes", "minutes", "int"))
    return Table(title, columns, [_session_row(ctx, day) for day in days])


@command(GROUP, "days", help="Trading days between two dates (both inclusive)",
         args=(Arg("start", "first day", type=date, complete="date", metavar="START"),
               Arg("end", "last day", type=date, complete="date", metavar="END")),
         json=True, examples=("time days 2024-11-25 2024-12-06",))
def days(ctx: AppContext, start: date, end: date) -> Table:
    if end < start:
        raise UsageError(f"end {end.isoformat()} is before start {start.isoformat()}")
    trading = ctx.time.trading_days(start, end)
    early = sum(1 for s in ctx.time.sessions(start, end) if s.early_close)
    return Table(f"Trading days {start.isoformat()} to {end.isoformat()}",
                 _day_table(ctx, "", trading).columns, [_session_row(ctx, d) for d in trading],
                 caption=f"{len(trading)} trading days, {early} early close(s)")


@command(GROUP, "holidays", help="Days the exchange is closed in a year, with names",
         args=(Arg("year", "the year (default: this year)", type=int, required=False),),
         json=True, examples=("time holidays 2025",))
def holidays(ctx: AppContext, year: int | None = None) -> Table:
    year = year or ctx.time.to_exchange(ctx.time.now()).year
    early = [s for s in ctx.time.sessions(date(year, 1, 1), date(year, 12, 31)) if s.early_close]
    rows: list[tuple[date, str, str, str, datetime | None]] = [
        (h.day, h.day.strftime("%a"), h.name, "closed", None) for h in ctx.time.holidays(year)]
    rows += [(s.day, s.day.strftime("%a"), "early close", "closes", s.close) for s in early]
    rows.sort(key=lambda row: row[0])
    return Table(f"NYSE holidays and early closes {year}",
                 (Column("Date", "date"), Column("Day", "weekday"), Column("Holiday", "name"),
                  Column("Status", "status"), Column("Close", "close", "time")), rows)


@command(GROUP, "convert", help="Convert a date-time from one time zone to another",
         args=(Arg("when", "date and time, e.g. 2024-11-29T13:00", type=datetime, complete="date"),
               Arg("from_tz", "zone it is in (IANA name, or ET/CT/PT/UTC)", metavar="FROM_TZ"),
               Arg("to_tz", "zone to convert to", metavar="TO_TZ")),
         json=True,
         examples=("time convert 2024-11-29T13:00 ET UTC", "time convert '2024-07-01 09:30' ET Europe/London"))
def convert(ctx: AppContext, when: datetime, from_tz: str, to_tz: str) -> Record:
    source = ctx.time.convert(when.replace(tzinfo=None) if when.tzinfo else when, from_tz, from_tz)
    target = ctx.time.convert(source, from_tz, to_tz)
    return Record("Converted", [(from_tz, source.isoformat()), (to_tz, target.isoformat())],
                  data={"from": source.isoformat(), "to": target.isoformat(), "from_tz": from_tz, "to_tz": to_tz})
