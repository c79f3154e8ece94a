"""`sweep …`: parameter sweeps and walk-forward over a session config, their list and reports."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mismartera.commands.context import AppContext
from mismartera.commands.registry import Arg, Option, command, group
from mismartera.commands.results import Chart, Column, Group, HeatMap, Message, Record, Table
from mismartera.errors import UsageError
from mismartera.sweep import ENGINES
from mismartera.sweep.leaderboard import METRICS, Metric, heat_map, metric, rank

if TYPE_CHECKING:   # the runner pulls in the engine (numpy, SQLAlchemy): imported when a command runs
    from mismartera.sweep.runner import SweepOutcome
    from mismartera.sweep.store import PointRow, SweepInfo
    from mismartera.sweep.walk_forward import WalkForwardReport

GROUP = group("sweep", "Parameter sweeps and walk-forward: many backtests of one config, on all cores or on Ray")

DEFAULT_TOP = 10
LEADERBOARD_KEYS = (("total_return_pct", "Return", "pct"), ("max_drawdown_pct", "Max DD", "pct"),
                    ("sharpe", "Sharpe", "ratio"), ("trades", "Trades", "int"), ("win_rate_pct", "Win rate", "pct"),
                    ("final_equity", "Final equity", "money"))
SHOWN_KEYS = LEADERBOARD_KEYS[:5]   # the terminal table; JSON and CSV have final equity too

ENGINE_ARGS = (
    Option("workers", "worker processes (default: all cores; Ray: as many as the cluster has)", type=int),
    Option("engine", "local (a process pool, the default) or ray", choices=ENGINES),
    Option("address", "with --engine ray: ray://HOST:10001 or auto (default: start a local Ray instance)"),
    Option("metric", f"rank points by: {', '.join(METRICS)} (default sharpe)"),
    Option("random", "run K points drawn at random from the grid", type=int, metavar="K"),
    Option("seed", "the random draw's seed", type=int),
    Option("yes", "allow more than 10,000 points", type=bool),
)


def _params_text(params: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in params.items())


def leaderboard(info: SweepInfo, rows: list[PointRow], chosen: Metric, top: int | None) -> Table:
    """Finished points best first (then failed ones), `top` of them."""
    names = [p["name"] for p in info.grid.get("params", [])]
    ranked = rank([r for r in rows if r.role in (None, "train")], chosen)
    shown = ranked[:top] if top else ranked
    failures = any(row.state != "finished" for row in shown)
    columns = (Column("#", "rank", "int"), *(Column(n, n, "qty") for n in names),
               *(Column(label, key, fmt) for key, label, fmt in SHOWN_KEYS), Column("Run", "run_id", "int"),
               *([Column("State", "state")] if failures else []))
    table_rows, data = [], []
    for position, row in enumerate(shown, 1):
        summary = row.summary or {}
        values = [summary.get(key) for key, _, _ in SHOWN_KEYS]
        state = [row.state if row.state == "finished" else f"failed: {row.error}"] if failures else []
        table_rows.append((position, *(row.params.get(n) for n in names), *values, row.run_id, *state))
        data.append({"rank": position, "point": row.point, "params": row.params, "run_id": row.run_id,
                     "state": row.state, "error": row.error,
                     **{key: summary.get(key) for key, _, _ in LEADERBOARD_KEYS}})
    caption = f"{len(shown)} of {len(ranked)} point(s), sorted by {chosen.name}"
    return Table(f"Sweep {info.id}: {info.session_name}", columns, table_rows, data=data, caption=caption)


def heat_map_result(info: SweepInfo, rows: list[PointRow], chosen: Metric) -> HeatMap | None:
    data = heat_map([r for r in rows if r.role in (None, "train")], info.grid.get("params", []), chosen)
    if data is None:
        return None
    return HeatMap(f"{chosen.label} by {data.row_param} and {data.column_param}", data.row_param, data.column_param,
                   data.rows, data.columns, data.cells, chosen.fmt, chosen.higher_is_better)


def sweep_report(ctx: AppContext, sweep_id: int, top: int | None, metric_name: str | None) -> Group:
    from mismartera.sweep.runner import SweepRunner
    from mismartera.sweep.store import SweepStore
    from mismartera.sweep.walk_forward import WalkForward

    store = SweepStore(ctx.db)
    info = store.get(sweep_id)
    chosen = metric(metric_name or info.metric)
    rows = store.points(sweep_id)
    if info.kind == "walk-forward":
        report = WalkForward(SweepRunner(ctx)).report(sweep_id)
        return walk_forward_result(report)
    finished = sum(1 for r in rows if r.state == "finished")
    parts: list[Any] = [Message(f"sweep {info.id} ({info.state}, engine {info.engine}): {finished} of "
                                f"{info.points_total} point(s) finished, {len(rows) - finished} failed", "ok")]
    board = leaderboard(info, rows, chosen, top)
    parts.append(board)
    heat = heat_map_result(info, rows, chosen)
    if heat is not None:
        parts.append(heat)
    data = {"sweep": {"id": info.id, "session_name": info.session_name, "state": info.state, "engine": info.engine,
                      "metric": chosen.name, "points_total": info.points_total, "finished": finished,
                      "params": info.grid.get("params", [])},
            "leaderboard": board.data, "heat_map": heat.to_json() if heat is not None else None}
    return Group(parts, data=data)


def _outcome_message(outcome: SweepOutcome) -> Message:
    text = (f"sweep {outcome.sweep_id}: {outcome.finished} point(s) finished, {outcome.failed} failed, "
            f"in {outcome.seconds:.1f}s on {outcome.engine}")
    return Message(text, "ok" if not outcome.failed else "warn")


def _check_top(top: int | None) -> None:
    if top is not None and top < 1:
        raise UsageError(f"--top {top}: expected 1 or more")


@command(GROUP, "run", help="Run a config over a grid of parameters; each point is a full backtest",
         args=(Arg("path", "the session-config file (not with --resume)", required=False, complete="config",
                   metavar="CONFIG"),
               Option("param", "NAME=VALUES: a list (fast=5,10,20) or a range (slow=30:90:10); repeatable",
                      multiple=True, metavar="NAME=VALUES"),
               *ENGINE_ARGS,
               Option("resume", "run only the points of this sweep that have no finished run", type=int,
                      metavar="SWEEP_ID"),
               Option("top", "leaderboard rows to show", type=int)),
         json=True,
         examples=("sweep run config/demo.json --param fast=5,10,20 --param slow=30:90:10",
                   "sweep run config/demo.json --param fast=5:20:5 --engine ray --address auto",
                   "sweep run --resume 3"))
def run(ctx: AppContext, path: str | None = None, param: list[str] | None = None, workers: int | None = None,
        engine: str | None = None, address: str | None = None, metric: str | None = None, random: int | None = None,
        seed: int = 0, yes: bool = False, resume: int | None = None, top: int = DEFAULT_TOP) -> Group:
    from mismartera.sweep.runner import SweepRunner

    _check_top(top)
    runner = SweepRunner(ctx, progress_factory=ctx.progress)
    if resume is not None:
        if path or param or random is not None:
            raise UsageError("--resume runs the stored grid: give no CONFIG, --param or --random with it")
        outcome = runner.resume(resume, engine=engine, workers=workers, address=address, metric_name=metric)
    else:
        if not path:
            raise UsageError("missing CONFIG (the session-config file to sweep), or --resume SWEEP_ID")
        outcome = runner.run(Path(path), param or [], engine=engine or "local", workers=workers, address=address,
                             metric_name=metric or "sharpe", sample=random, seed=seed, allow_large=yes)
    report = sweep_report(ctx, outcome.sweep_id, top, metric)
    parts = [_outcome_message(outcome), *report.parts[1:]]
    data = {**report.data, "run": {"seconds": outcome.seconds, "engine": outcome.engine, "ran": outcome.ran,
                                   "finished": outcome.finished, "failed": outcome.failed}}
    return Group(parts, data=data)


@command(GROUP, "list", help="The latest sweeps: config, engine, points, state",
         args=(Option("limit", "how many sweeps", type=int),), json=True,
         examples=("sweep list", "sweep list --json"))
def list_sweeps(ctx: AppContext, limit: int = 20) -> Table:
    from mismartera.sweep.store import SweepStore

    if not 1 <= limit <= 1000:
        raise UsageError(f"--limit {limit} is out of range (expected 1 to 1000)")
    rows = []
    for info, finished, failed in SweepStore(ctx.db).recent(limit):
        names = ", ".join(p["name"] for p in info.grid.get("params", []))
        rows.append((info.id, info.kind, info.session_name, names, info.engine,
                     f"{finished}/{info.points_total}", failed, info.state, info.created_at))
    return Table("Sweeps", (Column("Sweep", "id", "int"), Column("Kind", "kind"), Column("Session", "session_name"),
                            Column("Params", "params"), Column("Engine", "engine"),
                            Column("Done", "done", "date"), Column("Failed", "failed", "int"),
                            Column("State", "state", "date"), Column("Created", "created_at", "minute")),
                 rows, caption=None if rows else "no sweeps yet")


@command(GROUP, "report", help="A sweep's leaderboard (and heat map for two params), or a walk-forward's result",
         args=(Arg("sweep_id", "the sweep", type=int, metavar="SWEEP_ID"),
               Option("top", "leaderboard rows to show (0 for all)", type=int),
               Option("metric", f"rank by: {', '.join(METRICS)} (default: the sweep's)"),
               Option("csv", "also write every point (params and metrics) to this CSV file", complete="file",
                      metavar="FILE")),
         json=True, examples=("sweep report 3", "sweep report 3 --top 5 --json", "sweep report 3 --csv points.csv"))
def report(ctx: AppContext, sweep_id: int, top: int = DEFAULT_TOP, metric: str | None = None,
           csv: str | None = None) -> Group:
    if top is not None and top < 0:
        raise UsageError(f"--top {top}: expected 0 (all) or more")
    result = sweep_report(ctx, sweep_id, top or None, metric)
    if csv:
        count = write_points_csv(ctx, sweep_id, csv)
        return Group([*result.parts, Message(f"wrote {count} point(s) to {csv}", "ok")], data=result.data)
    return result


def write_points_csv(ctx: AppContext, sweep_id: int, path: str) -> int:
    from mismartera.sweep.store import SweepStore

    store = SweepStore(ctx.db)
    info = store.get(sweep_id)
    names = [p["name"] for p in info.grid.get("params", [])]
    rows = store.points(sweep_id)
    try:
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["point", *names, "window", "role", "state", "run_id",
                             *(key for key, _, _ in LEADERBOARD_KEYS), "error"])
            for row in rows:
                summary = row.summary or {}
                writer.writerow([row.point, *(row.params.get(n) for n in names), row.window, row.role, row.state,
                                 row.run_id, *(summary.get(key) for key, _, _ in LEADERBOARD_KEYS), row.error or ""])
    except OSError as exc:
        raise UsageError(f"--csv {path}: cannot write ({exc.strerror or exc})") from None
    return len(rows)


def _span(days: tuple[Any, Any]) -> str:
    first, last = days
    return f"{first:%Y-%m-%d}…{last:%m-%d}" if first.year == last.year else f"{first}…{last}"


def walk_forward_result(report: WalkForwardReport) -> Group:
    fields: list[tuple[str, Any]] = [("Sweep", report.sweep_id), ("Windows", len(report.windows)),
                                     ("Chosen by", report.metric.name), ("Initial cash", report.initial_cash),
                                     ("Final equity", report.final_equity),
                                     ("Out-of-sample return", report.total_return_pct),
                                     ("Max drawdown", report.max_drawdown_pct), ("Sharpe", report.sharpe),
                                     ("Trades", report.trades)]
    if report.engine:
        fields.append(("Engine", report.engine))
    formats = {"Initial cash": "money", "Final equity": "money", "Out-of-sample return": "pct",
               "Max drawdown": "pct", "Sharpe": "ratio", "Trades": "int"}
    rows, data_windows = [], []
    for result in report.windows:
        window = result.window
        test = result.test
        summary = (test.summary or {}) if test else {}
        rows.append((window.index + 1, _span(window.train), _span(window.test),
                     _params_text(result.chosen or {}) or "—", result.train_value, summary.get("total_return_pct"),
                     test.run_id if test else None))
        data_windows.append({"window": window.index + 1, "train": [window.train[0], window.train[1]],
                             "test": [window.test[0], window.test[1]], "params": result.chosen,
                             "train_metric": result.train_value, "test_return_pct": summary.get("total_return_pct"),
                             "test_final_equity": summary.get("final_equity"),
                             "test_run_id": test.run_id if test else None,
                             "error": test.error if test and test.state != "finished" else None})
    parts: list[Any] = [Record("Walk-forward (out of sample)", fields, formats=formats),
                        Table("Windows", (Column("#", "window", "int"), Column("Train", "train", "date"),
                                          Column("Test", "test", "date"),
                                          Column("Chosen params", "params"),
                                          Column(f"Train {report.metric.name}", "train_metric", report.metric.fmt),
                                          Column("Test return", "test_return_pct", "pct"),
                                          Column("Test run", "test_run_id", "int")), rows, data=data_windows)]
    parts.extend(Message(line, "warn") for line in report.failed)
    parts.append(Chart(f"Out-of-sample equity, sweep {report.sweep_id}",
                       [(day.isoformat(), equity) for day, equity in report.curve], "equity"))
    data = {"sweep_id": report.sweep_id, "metric": report.metric.name, "initial_cash": report.initial_cash,
            "final_equity": report.final_equity, "total_return_pct": report.total_return_pct,
            "max_drawdown_pct": report.max_drawdown_pct, "sharpe": report.sharpe, "trades": report.trades,
            "windows": data_windows, "equity": [{"day": d, "equity": e} for d, e in report.curve]}
    return Group(parts, data=data)


@command(GROUP, "walk-forward", help="Sweep on train windows, trade each window's best on the days after, "
                                     "join the out-of-sample runs",
         args=(Arg("path", "the session-config file", complete="config", metavar="CONFIG"),
               Option("param", "NAME=VALUES: a list (fast=5,10,20) or a range (slow=30:90:10); repeatable",
                      multiple=True, metavar="NAME=VALUES"),
               Option("train", "trading days each window optimises on", type=int, required=True, metavar="DAYS"),
               Option("test", "trading days each window's best point then trades", type=int, required=True,
                      metavar="DAYS"),
               *ENGINE_ARGS),
         json=True,
         examples=("sweep walk-forward config/demo.json --param fast=5,10 --param slow=20,30 --train 10 --test 5",))
def walk_forward(ctx: AppContext, path: str, param: list[str] | None = None, train: int = 0, test: int = 0,
                 workers: int | None = None, engine: str | None = None, address: str | None = None,
                 metric: str | None = None, random: int | None = None, seed: int = 0, yes: bool = False) -> Group:
    from mismartera.sweep.runner import SweepRunner
    from mismartera.sweep.walk_forward import WalkForward

    runner = SweepRunner(ctx, progress_factory=ctx.progress)
    result = WalkForward(runner).run(Path(path), param or [], train=train, test=test, engine=engine or "local",
                                     workers=workers, address=address, metric_name=metric or "sharpe",
                                     sample=random, seed=seed, allow_large=yes)
    return walk_forward_result(result)
