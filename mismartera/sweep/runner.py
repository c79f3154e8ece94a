"""`sweep run`: parse the grid, read the bars once, run the points on an engine, write each result.

    SweepRunner(app).run(config, ["fast=5,10", "slow=30:60:10"], engine="local")
    SweepRunner(app).resume(sweep_id)          # only the points without a finished run

The parent is the only writer: each `PointResult` an engine hands back is written (its run linked
to the sweep) as soon as it arrives, so Ctrl-C loses only the points still running.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from mismartera.config.session import SessionConfig, load_session_config
from mismartera.errors import ConfigError, Interrupted, NotFound, UsageError
from mismartera.suggest import suffix
from mismartera.sweep import ENGINES
from mismartera.sweep.columns import BarColumns, ranges_for
from mismartera.sweep.grid import build_points, point_configs
from mismartera.sweep.leaderboard import Metric, metric, value_of
from mismartera.sweep.local import LocalEngine
from mismartera.sweep.params import SweptParam, parse_params
from mismartera.sweep.point import FINISHED, PointResult, PointTask
from mismartera.sweep.ray_engine import RayEngine  # imports Ray itself only when the engine is made
from mismartera.sweep.store import SweepStore


class Engine(Protocol):
    name: str

    def describe(self) -> str: ...

    def open(self) -> None: ...

    def close(self) -> None: ...

    def run(self, tasks: list[PointTask], columns: BarColumns, on_result: Callable[[PointResult], None]) -> None: ...


def make_engine(name: str, workers: int | None = None, address: str | None = None) -> Engine:
    """The engine called `name`; Ray is imported only when its engine is made."""
    if workers is not None and workers < 1:
        raise UsageError(f"--workers {workers}: expected 1 or more")
    if name == "local":
        if address:
            raise UsageError("--address is for --engine ray (the local engine runs on this machine)")
        return LocalEngine(workers)
    if name == "ray":
        return RayEngine(workers, address)
    raise UsageError(f"--engine {name}: unknown engine{suffix(name, ENGINES)} (expected local or ray)")


@dataclass
class SweepOutcome:
    """What a finished (or interrupted) sweep reports."""

    sweep_id: int
    engine: str
    points_total: int
    ran: int = 0
    finished: int = 0
    failed: int = 0
    seconds: float = 0.0
    best: PointResult | None = None
    failures: list[PointResult] = field(default_factory=list)
    summaries: dict[int, dict[str, Any] | None] = field(default_factory=dict)   # by point index


def backtest_base(cfg: SessionConfig) -> dict[str, Any]:
    """The config a sweep starts from, as JSON: a backtest at full speed (speed changes no result)."""
    if cfg.mode != "backtest" or cfg.backtest_config is None:
        raise ConfigError(f"{cfg.session_name}: a sweep runs backtests (mode is {cfg.mode}, expected backtest)")
    base = cfg.model_dump(mode="json")
    base["backtest_config"]["speed_multiplier"] = 0
    return base


class Progress:
    """The progress bar's text: points done, and the best so far by the metric."""

    def __init__(self, factory: Any, total: int, chosen: Metric, done: int = 0) -> None:
        self.chosen = chosen
        self.best: PointResult | None = None
        self.best_value: float | None = None
        self.bar = factory("sweep", total, "points") if factory is not None else None
        if self.bar is not None and done:
            self.bar.update(completed=done)

    def add(self, result: PointResult) -> None:
        value = value_of(result.summary, self.chosen) if result.state == FINISHED else None
        if value is not None and (self.best_value is None or (value > self.best_value if self.chosen.higher_is_better
                                                              else value < self.best_value)):
            self.best, self.best_value = result.light(), value
        if self.bar is not None:
            text = "sweep"
            if self.best is not None:
                params = " ".join(f"{k}={v}" for k, v in self.best.params.items())
                text = f"sweep · best {self.chosen.name} {self.best_value:.4g} ({params})"
            self.bar.update(description=text)
            self.bar.advance(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class SweepRunner:
    """Runs sweeps for an app (anything with `.db`, `.bars` and `.time`, like the AppContext)."""

    def __init__(self, app: Any, progress_factory: Any = None) -> None:
        self.app = app
        self.store = SweepStore(app.db)
        self.progress_factory = progress_factory

    # ------------------------------------------------------------------ entry points
    def run(self, config: SessionConfig | str | Path, specs: Sequence[str], *, engine: str = "local",
            workers: int | None = None, address: str | None = None, metric_name: str = "sharpe",
            sample: int | None = None, seed: int = 0, allow_large: bool = False) -> SweepOutcome:
        cfg = config if isinstance(config, SessionConfig) else load_session_config(config)
        chosen = metric(metric_name)
        base = backtest_base(cfg)
        params = parse_params(list(specs), cfg)
        points = build_points(params, sample, seed, allow_large)
        runner = make_engine(engine, workers, address)
        grid = {"params": [p.to_json() for p in params], "points": points, "sample": sample, "seed": seed}
        return self._execute(runner, cfg.session_name, base, params, points, list(range(len(points))), chosen,
                             grid=grid, sweep_id=None)

    def resume(self, sweep_id: int, *, engine: str | None = None, workers: int | None = None,
               address: str | None = None, metric_name: str | None = None) -> SweepOutcome:
        info = self.store.get(sweep_id)
        if info.kind != "grid":
            raise UsageError(f"sweep {sweep_id} is a {info.kind}; only `sweep run` sweeps can be resumed")
        chosen = metric(metric_name or info.metric)
        params = [SweptParam.from_json(p) for p in info.grid["params"]]
        points = info.points
        done = self.store.finished_points(sweep_id)
        missing = [i for i in range(len(points)) if i not in done]
        runner = make_engine(engine or info.engine, workers, address)
        return self._execute(runner, info.session_name, info.config, params, points, missing, chosen,
                             grid=info.grid, sweep_id=sweep_id)

    # ------------------------------------------------------------------ the work
    def tasks_for(self, configs: list[dict[str, Any] | ConfigError], points: list[dict[str, Any]],
                  indexes: list[int]) -> tuple[list[PointTask], list[PointResult]]:
        """Tasks for the valid configs; a failed PointResult for each invalid one."""
        cache = getattr(getattr(self.app, "time", None), "cache_path", None)
        stored = self.app.db.dialect == "sqlite"   # rows travel as stored, SQLite to SQLite
        tasks, invalid = [], []
        for index, config in zip(indexes, configs, strict=True):
            if isinstance(config, ConfigError):
                invalid.append(PointResult(index, points[index], "failed", str(config).replace("\n", "; ")))
            else:
                tasks.append(PointTask(index, points[index], config, str(cache) if cache else None, stored))
        return tasks, invalid

    def load_columns(self, tasks: list[PointTask]) -> BarColumns:
        """Every bar the tasks replay, read once; NotFound when a symbol has none in a window."""
        wanted: set[tuple[str, str, int, int]] = set()
        windows: dict[tuple[str, str], SessionConfig] = {}
        for task in tasks:
            cfg = SessionConfig.model_validate(task.config)
            assert cfg.backtest_config is not None
            key = (cfg.backtest_config.start_date.isoformat(), cfg.backtest_config.end_date.isoformat())
            windows.setdefault(key, cfg)
            wanted.update(ranges_for(cfg, self.app.time))
        columns = BarColumns.load(self.app.bars, sorted(wanted))
        for (start, end), cfg in windows.items():
            backtest = cfg.backtest_config
            assert backtest is not None   # sweeps take backtest configs only (checked when the grid is built)
            sessions = self.app.time.sessions(backtest.start_date, backtest.end_date)
            if not sessions:
                raise ConfigError(f"{cfg.session_name}: no trading days between {start} and {end}")
            first, last = int(sessions[0].open.timestamp()), int(sessions[-1].close.timestamp())
            missing = [s for s in cfg.symbols if columns.count(s, "1m", first, last) == 0]
            if missing:
                raise NotFound(f"no 1m bars for {', '.join(missing)} between {start} and {end} "
                               "(load them first: data import-file, data import, or data demo)")
        return columns

    def _execute(self, runner: Engine, session_name: str, base: dict[str, Any], params: list[SweptParam],
                 points: list[dict[str, Any]], indexes: list[int], chosen: Metric, *, grid: dict[str, Any],
                 sweep_id: int | None) -> SweepOutcome:
        configs = point_configs(base, params, [points[i] for i in indexes])
        tasks, invalid = self.tasks_for(configs, points, indexes)
        if indexes and not tasks:
            raise ConfigError(f"every point is invalid; the first: {invalid[0].error}")
        columns = self.load_columns(tasks) if tasks else BarColumns()
        runner.open()
        try:
            if sweep_id is None:
                sweep_id = self.store.create(kind="grid", session_name=session_name, config=base, grid=grid,
                                             engine=runner.name, metric=chosen.name, points_total=len(points))
            else:
                self.store.update(sweep_id, state="running", engine=runner.name, ended_at=None, error=None)
            return self._run_tasks(runner, sweep_id, tasks, invalid, columns, chosen, len(points),
                                   len(points) - len(indexes))
        finally:
            runner.close()

    def _run_tasks(self, runner: Engine, sweep_id: int, tasks: list[PointTask], invalid: list[PointResult],
                   columns: BarColumns, chosen: Metric, total: int, already: int) -> SweepOutcome:
        outcome = SweepOutcome(sweep_id, runner.describe(), total)
        progress = Progress(self.progress_factory, total, chosen, already)
        began = time.perf_counter()
        try:
            self.run_phase(runner, outcome, tasks, invalid, columns, progress)
        finally:
            progress.close()
        outcome.seconds = time.perf_counter() - began
        outcome.best = progress.best
        self.store.update(sweep_id, state="finished")
        return outcome

    def run_phase(self, runner: Engine, outcome: SweepOutcome, tasks: list[PointTask], invalid: list[PointResult],
                  columns: BarColumns, progress: Progress, extras: dict[int, dict[str, Any]] | None = None) -> None:
        """Run tasks on the engine, writing each result as it arrives (with `extras[index]` merged into
        its stored params). Ctrl-C marks the sweep interrupted and raises Interrupted (exit 130)."""
        sweep_id = outcome.sweep_id

        def on_result(result: PointResult) -> None:
            self.store.write_point(sweep_id, result, (extras or {}).get(result.index))
            outcome.ran += 1
            outcome.summaries[result.index] = result.summary if result.state == FINISHED else None
            if result.state == FINISHED:
                outcome.finished += 1
            else:
                outcome.failed += 1
                outcome.failures.append(result.light())
            progress.add(result)

        try:
            for result in invalid:
                on_result(result)
            runner.run(tasks, columns, on_result)
        except KeyboardInterrupt:
            self.store.update(sweep_id, state="interrupted")
            done = len(self.store.finished_points(sweep_id))
            resume = (f"; run the rest with: sweep run --resume {sweep_id}"
                      if self.store.get(sweep_id).kind == "grid" else "")
            raise Interrupted(f"interrupted: sweep {sweep_id} stopped with {done} of {outcome.points_total} "
                              f"point(s) finished{resume}") from None
        except BaseException as exc:
            self.store.update(sweep_id, state="failed", error=str(exc) or type(exc).__name__)
            raise
