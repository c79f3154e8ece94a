"""`system …`: start, pause, resume, stop and wait for a session; its status, live view and report."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from mismartera.commands.context import AppContext
from mismartera.commands.registry import Arg, Option, command, group
from mismartera.commands.results import Chart, Column, Group, Message, Record, Table, Watch
from mismartera.errors import UsageError
from mismartera.system.dashboard_link import find_dashboard

GROUP = group("system", "The trading session: start, pause, resume, stop, wait, status, watch, report")

DEFAULT_CONFIG = "config/example_session.json"


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
    for label, message in (summary.get("strategy_errors") or {}).items():
        fields.append((f"Strategy {label}", f"disabled: {message}"))
    title = "Live session report" if info.mode == "live" else "Backtest report"
    parts: list[Any] = [Record(title, fields, formats=formats)]
    per_symbol = summary.get("per_symbol_pnl") or {}
    if per_symbol:
        parts.append(Table("P&L by symbol", (Column("Symbol", "symbol"), Column("P&L", "pnl", "money")),
                           sorted(per_symbol.items())))
    parts.append(Chart(f"Equity, run {info.id}", [(d.day.isoformat(), d.equity) for d in days], "equity"))
    data = {"run": {"id": info.id, "session_name": info.session_name, "state": info.state,
                    "started_at": info.started_at, "ended_at": info.ended_at},
            "summary": summary, "equity": [{"day": d.day, "equity": d.equity} for d in days]}
    return Group(parts, data=data)


def start_result(status: Any) -> Group:
    """A session just started; when another process hosts it, say which and where its API is."""
    text = f"session {status.session_name} started (run {status.run_id}, {status.days_total} trading day(s))"
    if status.owner_pid is not None and status.owner_pid != os.getpid():
        text += f" in {status.owner}, API {status.api_url}; stop it with: system stop"
    else:
        text += "; follow it with: system watch"
    return Group([Message(text, "ok")], data=status)


def pause_result(status: Any, to_exchange: Any) -> Message:
    return Message(f"paused at {to_exchange(status.clock):%Y-%m-%d %H:%M %Z} (run {status.run_id})", "ok",
                   data={"state": status.state.value, "clock": status.clock, "run_id": status.run_id})


def resume_result(status: Any) -> Message:
    return Message(f"resumed (run {status.run_id})", "ok", data={"state": status.state.value, "run_id": status.run_id})


def stop_result(status: Any) -> Message:
    return Message(f"stopped (run {status.run_id}): {status.message}", "ok",
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
         args=(Arg("path", f"session-config JSON file (default {DEFAULT_CONFIG})", required=False,
                   complete="config", metavar="CONFIG"),
               Option("config", "the session-config file, as an option (instead of CONFIG)", complete="config",
                      metavar="FILE"),
               Option("speed", "replay speed: 0 = as fast as possible, N = N× real time", type=float),
               Option("wait", "run to the end, showing progress, then print the report", type=bool),
               Option("timeout", "with --wait: give up (and stop) after this many seconds", type=float)),
         json=True,
         examples=("system start config/example_session.json", "system start config/demo.json --speed 60",
                   "system start --config config/demo.json --wait --json"))
def start(ctx: AppContext, path: str | None = None, config: str | None = None, speed: float | None = None,
          wait: bool = False, timeout: float | None = None) -> Any:
    if path and config:
        raise UsageError("give the config file once: as CONFIG or as --config, not both")
    file = Path(path or config or DEFAULT_CONFIG)
    if timeout is not None and not wait:
        raise UsageError("--timeout needs --wait")
    if not wait:
        return start_result(ctx.session_host().start(file, speed))
    status = ctx.session.run(file, speed, progress_factory=ctx.progress, timeout=timeout)
    info, days = ctx.session.report(status.run_id)
    return report_result(info, days)


@command(GROUP, "pause", help="Pause the session: the clock freezes within one bar", examples=("system pause",))
def pause(ctx: AppContext) -> Message:
    return pause_result(ctx.session.pause(), ctx.time.to_exchange)


@command(GROUP, "resume", help="Resume a paused session", examples=("system resume",))
def resume(ctx: AppContext) -> Message:
    return resume_result(ctx.session.resume())


@command(GROUP, "stop", help="Stop the session between bars and join its threads",
         args=(Option("timeout", "seconds to wait for the threads", type=float, default=10.0),),
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
         args=(Option("limit", "how many runs", type=int, default=20),), json=True,
         examples=("system runs", "system runs --limit 5 --json"))
def runs(ctx: AppContext, limit: int = 20) -> Table:
    return runs_result(ctx.system.runs(limit))
