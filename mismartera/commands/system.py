"""`system …`: start, pause, resume, stop and wait for a session; its status, live view and report."""

from __future__ import annotations

import logging
import os
from datetime import date
from typing import TYPE_CHECKING, Any

from mismartera.commands.context import AppContext
from mismartera.commands.registry import Arg, Option, command, group
from mismartera.commands.results import Chart, Column, Group, Message, Record, Table, Watch
from mismartera.config.samples import find_config
from mismartera.errors import UsageError
from mismartera.system.dashboard_link import find_dashboard

if TYPE_CHECKING:
    from mismartera.config.session import SessionConfig

GROUP = group("system", "The trading session: start, pause, resume, stop, wait, status, watch, report")

DEFAULT_CONFIG = "config/example_session.json"

log = logging.getLogger("mismartera.commands")


def status_result(status: Any) -> Group:
    """A SystemStatus as a record, plus the workers and any error."""
    fields: list[tuple[str, Any]] = [("State", status.state.value)]
    formats = {"Equity": "money", "P&L": "money", "Cash": "money", "Bars/s": "int", "Bars": "int"}
    if status.session_name:
        fields += [("Session", status.session_name), ("Mode", status.mode), ("Run", status.run_id),
                   ("Clock", status.clock), ("Day", f"{status.day or '—'} ({status.day_index} of {status.days_total})"),
                   ("Progress", f"{status.progress * 100:.1f}%"), ("Bars", status.bars_done),
                   ("Bars/s", status.bars_per_second)]
    if status.account is not None:
        fields += [("Equity", status.account.equity), ("Cash", status.account.cash), ("P&L", status.account.pnl),
                   ("Positions", len(status.account.positions)), ("Open orders", status.open_orders)]
    if status.owner:
        fields.append(("Runs in", f"run {status.run_id} in {status.owner}" if status.run_id else status.owner))
    if status.message:
        fields.append(("Message", status.message))
    if status.error:
        fields.append(("Error", f"{status.error_worker}: {status.error}"))
    parts: list[Any] = [Record("System", fields, formats=formats)]
    if status.workers:
        parts.append(Table("Workers", (Column("Worker", "name"), Column("State", "state"),
                                       Column("Items", "items_done", "int"), Column("Rate/s", "rate", "int"),
                                       Column("On", "current"), Column("Detail", "detail"),
                                       Column("Error", "last_error")),
                           [(w.name, w.state, w.items_done, w.rate, w.current, w.detail, w.last_error)
                            for w in status.workers]))
    return Group(parts, data=status)


# Summary keys shown in the report, in order: (key, label, format).
REPORT_FIELDS = (
    ("initial_cash", "Initial cash", "money"), ("final_equity", "Final equity", "money"),
    ("total_return_pct", "Total return", "pct"), ("max_drawdown_pct", "Max drawdown", "pct"),
    ("sharpe", "Sharpe (daily, annualised)", "ratio"), ("trades", "Trades (round trips)", "int"),
    ("win_rate_pct", "Win rate", "pct"), ("exposure_pct", "Exposure", "pct"),
    ("total_commission", "Commission", "money"), ("bars_total", "Bars replayed", "int"),
    ("days", "Trading days", "int"), ("run_seconds", "Run time (s)", "ratio"),
)


def report_result(info: Any, days: list[Any]) -> Group:
    """A run's metrics, its per-symbol P&L and its equity curve."""
    summary = dict(info.summary or {})
    fields: list[tuple[str, Any]] = [("Run", info.id), ("Session", info.session_name), ("State", info.state)]
    if days:
        fields.append(("Period", f"{days[0].day.isoformat()} to {days[-1].day.isoformat()}"))
    formats: dict[str, str] = {}
    for key, label, fmt in REPORT_FIELDS:
        if key in summary:
            fields.append((label, summary[key]))
            if fmt:
                formats[label] = fmt
    if summary.get("rejected_orders"):
        reasons = summary.get("rejection_reasons") or {}
        main, count = next(iter(reasons.items()), ("?", 0))
        fields.append(("Rejected orders", f"{summary['rejected_orders']:,} (main reason: {main}, {count:,})"))
    elif "rejected_orders" in summary:
        fields.append(("Rejected orders", 0))
    if summary.get("partial_day"):
        fields.append(("Last day", f"{summary['partial_day']} (stopped part-way: the account as it stood)"))
    for label, message in (summary.get("strategy_errors") or {}).items():
        fields.append((f"Strategy {label}", f"disabled: {message}"))
    for order in summary.get("orders_unknown") or []:
        fields.append((f"Order {order['id']} unknown",
                       f"{order['side']} {order['quantity']:g} {order['symbol']} ({order['client_order_id']}): "
                       "the broker never answered; the next live start reconciles it"))
    for text in summary.get("minutes_late") or []:
        fields.append(("Minute late", text))
    for text in summary.get("minutes_missing") or []:
        fields.append(("Minute never fed", text))
    title = "Live session report" if info.mode == "live" else "Backtest report"
    parts: list[Any] = []
    if info.partial:
        parts.append(Message(f"partial: {info.days_stored} of {info.days_total} days (run {info.id} {info.state})",
                             "warn"))
    parts.append(Record(title, fields, formats=formats))
    per_symbol = summary.get("per_symbol_pnl") or {}
    if per_symbol:
        parts.append(Table("P&L by symbol", (Column("Symbol", "symbol"), Column("P&L", "pnl", "money")),
                           sorted(per_symbol.items())))
    parts.append(Chart(f"Equity, run {info.id}", [(d.day.isoformat(), d.equity) for d in days], "equity"))
    data = {"run": {"id": info.id, "session_name": info.session_name, "state": info.state,
                    "started_at": info.started_at, "ended_at": info.ended_at},
            "summary": summary, "equity": [{"day": d.day, "equity": d.equity} for d in days],
            "partial": info.partial, "days_done": info.days_stored, "days_planned": info.days_total}
    return Group(parts, data=data)


def _session_config(path: str | None, start: date | None, end: date | None,
                    symbols: str | None) -> tuple[SessionConfig, list[Message]]:
    """The session config to start (the file, or the shipped sample of that name) with this run's
    overrides, and a note naming the sample when one was used."""
    from mismartera.config.session import load_session_config, with_overrides  # pydantic: only when a config loads

    found = find_config(path or DEFAULT_CONFIG)
    wanted = [s for s in (symbols or "").split(",") if s.strip()] if symbols is not None else None
    if wanted is not None and not wanted:
        raise UsageError("--symbols is empty (expected comma-separated symbols like AAPL,MSFT)")
    session = with_overrides(load_session_config(found.path), start=start, end=end, symbols=wanted,
                             source=str(found.path))
    if found.note:
        log.info("%s", found.note)
    return session, [Message(found.note, "dim")] if found.note else []


def start_result(status: Any, verb: str = "started", notes: list[Message] | None = None,
                 start_note: str = "") -> Group:
    """A session just started; when another process hosts it, say which and where its API is."""
    text = f"session {status.session_name} {verb} (run {status.run_id}, {status.days_total} trading day(s))"
    if status.owner_pid is not None and status.owner_pid != os.getpid():
        text += f" in {status.owner}, API {status.api_url}; stop it with: system stop"
    else:
        text += "; follow it with: system watch"
    parts = [*(notes or []), Message(text, "ok")]
    if start_note:
        parts.append(Message(start_note, "warn"))
    return Group(parts, data=status)


def pause_result(status: Any, to_exchange: Any) -> Message:
    return Message(f"paused at {to_exchange(status.clock):%Y-%m-%d %H:%M %Z} (run {status.run_id})", "ok",
                   data={"state": status.state.value, "clock": status.clock, "run_id": status.run_id})


def resume_result(status: Any) -> Message:
    return Message(f"resumed (run {status.run_id})", "ok", data={"state": status.state.value, "run_id": status.run_id})


def stop_result(status: Any) -> Message:
    extra = f": {status.message}" if status.message and status.message != "stopped" else ""
    return Message(f"stopped (run {status.run_id}){extra}", "ok",
                   data={"state": status.state.value, "run_id": status.run_id, "message": status.message})


def runs_result(infos: list[Any]) -> Table:
    rows = []
    for info in infos:
        summary = info.summary or {}
        backtest = info.config.get("backtest_config") or {}
        window = f"{backtest.get('start_date', '?')} to {backtest.get('end_date', '?')}" if backtest else info.mode
        rows.append((info.id, info.session_name, info.state, info.started_at, window,
                     f"{info.days_done}/{info.days_total}", summary.get("total_return_pct"), summary.get("trades")))
    return Table("Runs", (Column("Run", "id"), Column("Session", "session_name"), Column("State", "state"),
                          Column("Started", "started_at"), Column("Window", "window"), Column("Days", "days"),
                          Column("Return", "total_return_pct", "pct"), Column("Trades", "trades", "int")),
                 rows, caption=None if rows else "no runs yet")


@command(GROUP, "start", help="Start a session from a session-config file",
         args=(Arg("path", f"session-config JSON file (default {DEFAULT_CONFIG}); a relative path not found here "
                   "is looked up among the shipped samples", required=False, complete="config", metavar="CONFIG"),
               Option("config", "the session-config file, as an option (instead of CONFIG)", complete="config",
                      metavar="FILE"),
               Option("speed", "replay speed: 0 = as fast as possible, N = N× real time", type=float),
               Option("start", "for this run: first day of the backtest (instead of the file's)", type=date,
                      complete="date", metavar="DATE"),
               Option("end", "for this run: last day of the backtest (instead of the file's)", type=date,
                      complete="date", metavar="DATE"),
               Option("symbols", "for this run: comma-separated symbols (instead of the file's)", complete="symbol",
                      metavar="A,B"),
               Option("wait", "run to the end, showing progress, then print the report", type=bool),
               Option("timeout", "with --wait: give up (and stop) after this many seconds", type=float),
               Option("resume", "continue this interrupted or stopped backtest run (fast-forwards to where it "
                      "stopped, then records into the same run)", type=int, complete="run", metavar="RUN")),
         json=True,
         examples=("system start config/example_session.json", "system start config/demo.json --speed 60",
                   "system start config/demo.json --start 2024-11-04 --end 2024-11-08 --symbols AAPL,MSFT --wait",
                   "system start --config config/demo.json --wait --json", "system start --resume 3 --wait"))
def start(ctx: AppContext, path: str | None = None, config: str | None = None, speed: float | None = None,
          start: date | None = None, end: date | None = None, symbols: str | None = None,
          wait: bool = False, timeout: float | None = None, resume: int | None = None) -> Any:
    if path and config:
        raise UsageError("give the config file once: as CONFIG or as --config, not both")
    if resume is not None and (path or config or start or end or symbols is not None):
        raise UsageError("--resume RUN continues that run with its own config: give no config file, --start, "
                         "--end or --symbols with it")
    if timeout is not None and not wait:
        raise UsageError("--timeout needs --wait")
    session, notes = (None, []) if resume is not None else _session_config(path or config, start, end, symbols)
    if not wait:
        host = ctx.session_host()
        status = host.start(session, speed, resume=resume)
        verb = "resumed" if resume is not None else "started"
        return start_result(status, verb, notes, getattr(host, "start_note", ""))
    status = ctx.session.run(session, speed, progress_factory=ctx.progress, timeout=timeout, resume=resume)
    info, days = ctx.session.report(status.run_id)
    result = report_result(info, days)
    return Group([*notes, *result.parts], data=result.data)


@command(GROUP, "pause", help="Pause the session: the clock freezes within one bar", examples=("system pause",))
def pause(ctx: AppContext) -> Message:
    return pause_result(ctx.session.pause(), ctx.time.to_exchange)


@command(GROUP, "resume", help="Resume a paused session", examples=("system resume",))
def resume(ctx: AppContext) -> Message:
    return resume_result(ctx.session.resume())


@command(GROUP, "stop", help="Stop the session between bars and join its threads",
         args=(Option("timeout", "seconds to wait for the threads", type=float),),
         examples=("system stop", "system stop --timeout 30"))
def stop(ctx: AppContext, timeout: float = 10.0) -> Message:
    return stop_result(ctx.session.stop(timeout))


@command(GROUP, "wait", help="Wait until the session ends (exit 5 on timeout)",
         args=(Option("timeout", "give up after this many seconds", type=float),), json=True,
         examples=("system wait", "system wait --timeout 60"))
def wait(ctx: AppContext, timeout: float | None = None) -> Group:
    return status_result(ctx.session.wait(timeout, progress_factory=ctx.progress))


@command(GROUP, "status", help="The session's state, clock, progress, account and workers",
         args=(Option("live", "keep the panels on screen, refreshed (like system watch)", type=bool),), json=True,
         examples=("system status", "system status --json", "system status --live"))
def status(ctx: AppContext, live: bool = False) -> Any:
    if live:
        return Watch(ctx.session.status)
    snapshot = ctx.session.status()
    result = status_result(snapshot)
    if not result.data.state.active:
        # Reading runs finds those whose process died; name the latest so they can be continued.
        notes = [Message(f"run {info.id} ({info.session_name}) was interrupted after {info.days_done} of "
                         f"{info.days_total} day(s): system report {info.id}"
                         + (f", or continue it: system start --resume {info.id}" if info.mode == "backtest" else ""),
                         "warn")
                 for info in ctx.system.history().interrupted()]
        result = Group([*result.parts, *notes], data=result.data)
    link = find_dashboard(ctx.settings.state_dir, snapshot.api_url) if snapshot.api_url else None
    if link is None:
        return result
    # Shown, never in --json (the API's answer): the token is in the fragment, masked in history and log.
    return Group([*result.parts, Message(f"dashboard: {link}")], data=result.data)


@command(GROUP, "watch", help="Live panels of the session until q or Ctrl-C", examples=("system watch",))
def watch(ctx: AppContext) -> Watch:
    return Watch(ctx.session.status)


@command(GROUP, "report", help="A run's report: return, drawdown, Sharpe, trades, win rate, exposure, equity curve",
         args=(Arg("run_id", "the run (default: the latest)", type=int, required=False, complete="run",
                   metavar="RUN_ID"),
               Option("csv", "also write the daily equity curve to this CSV file", complete="file",
                      metavar="FILE")),
         json=True, examples=("system report", "system report 3 --json", "system report --csv equity.csv"))
def report(ctx: AppContext, run_id: int | None = None, csv: str | None = None) -> Group:
    info, days = ctx.session.report(run_id)
    result = report_result(info, days)
    if csv:
        _, rows = ctx.session.export_report_csv(csv, info.id)
        return Group([*result.parts, Message(f"wrote {rows} day(s) to {csv}", "ok")], data=result.data)
    return result


@command(GROUP, "runs", help="The latest runs: state, window, return, trades",
         args=(Option("limit", "how many runs", type=int),), json=True,
         examples=("system runs", "system runs --limit 5 --json"))
def runs(ctx: AppContext, limit: int = 20) -> Table:
    return runs_result(ctx.system.runs(limit))


# Rows of `system compare`, after the run's session, state and period: (summary key, label, format).
COMPARE_FIELDS = (*REPORT_FIELDS, ("rejected_orders", "Rejected orders", "int"))


@command(GROUP, "compare", help="The report metrics of several runs side by side",
         args=(Arg("runs", "two or more run ids (see system runs)", multiple=True, complete="run",
                   metavar="RUN RUN [RUN…]"),), json=True,
         examples=("system compare 1 2", "system compare 3 4 5 --json"))
def compare(ctx: AppContext, runs: list[str]) -> Table:
    ids: list[int] = []
    for value in runs:
        try:
            run_id = int(value)
        except ValueError:
            raise UsageError(f"RUN {value!r} is not a run id (expected a whole number; see system runs)") from None
        if run_id in ids:
            raise UsageError(f"run {run_id} is given twice")
        ids.append(run_id)
    if len(ids) < 2:
        raise UsageError(f"compare needs at least two runs (got {len(ids)})", "system compare RUN RUN [RUN…]")
    reports = [ctx.system.report(run_id) for run_id in ids]
    rows: list[tuple[Any, ...]] = [
        ("Session", *(info.session_name for info, _ in reports)),
        ("State", *(info.state for info, _ in reports)),
        ("Period", *(f"{days[0].day.isoformat()} to {days[-1].day.isoformat()}" if days else "—"
                     for _, days in reports)),
    ]
    for key, label, fmt in COMPARE_FIELDS:
        values = [(info.summary or {}).get(key) for info, _ in reports]
        if any(value is not None for value in values):
            rows.append((label, *(format_metric(value, fmt) for value in values)))
    columns = (Column("Metric", "metric"), *(Column(f"Run {run_id}", str(run_id), justify="right") for run_id in ids))
    data = [{"run": {"id": info.id, "session_name": info.session_name, "state": info.state,
                     "period": [days[0].day, days[-1].day] if days else None},
             "summary": {key: (info.summary or {}).get(key) for key, _, _ in COMPARE_FIELDS}}
            for info, days in reports]
    return Table(f"Runs {', '.join(str(i) for i in ids)} compared", columns, rows, data=data)


def format_metric(value: Any, fmt: str) -> str:
    """A metric as the report shows it (money with cents, percentages with two decimals)."""
    if value is None:
        return "—"
    if fmt == "money":
        return f"{value:,.2f}"
    if fmt == "pct":
        return f"{value:.2f}%"
    if fmt == "ratio":
        return f"{value:.2f}"
    if fmt == "int":
        return f"{value:,.0f}"
    return str(value)
