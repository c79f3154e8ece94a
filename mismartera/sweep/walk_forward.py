"""`sweep walk-forward`: optimise on a window of days, trade the winner on the days after, roll on.

The config's backtest window is cut into consecutive windows of `train` trading days followed by
`test` trading days; the next window starts `test` days later, so the test periods tile the window
without overlap. All windows' train points run as one batch on the engine (they are independent),
then each window's best point by the metric runs on its test days, again as one batch. The test
runs are joined into one out-of-sample equity curve: each window's daily equity, scaled so it starts
where the previous window ended (returns compound, as if the account carried over).

Everything is stored as one sweep of kind "walk-forward": train points first (window by window),
then one test point per window; each point's params carry its window and role.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from mismartera.config.session import SessionConfig, load_session_config
from mismartera.errors import UsageError
from mismartera.report.metrics import max_drawdown_pct, sharpe_ratio
from mismartera.sweep.grid import build_points, point_configs
from mismartera.sweep.leaderboard import Metric, best, metric
from mismartera.sweep.params import SweptParam, parse_params, point_config
from mismartera.sweep.point import FINISHED, PointResult
from mismartera.sweep.runner import Progress, SweepOutcome, SweepRunner, backtest_base, make_engine
from mismartera.sweep.store import PointRow
from mismartera.system.runs import RunHistory

TRAIN, TEST = "train", "test"


@dataclass(frozen=True)
class Window:
    index: int
    train: tuple[date, date]
    test: tuple[date, date]


def make_windows(days: list[date], train: int, test: int) -> list[Window]:
    """Consecutive (train, test) windows over `days`; the last test period may be shorter."""
    if train < 1 or test < 1:
        raise UsageError(f"--train {train} --test {test}: both must be 1 or more trading days")
    if len(days) < train + 1:
        raise UsageError(f"the backtest window has {len(days)} trading day(s); --train {train} needs at least "
                         f"{train + 1} (train days plus one test day)")
    windows: list[Window] = []
    start = 0
    while start + train < len(days):
        train_days = days[start:start + train]
        test_days = days[start + train:start + train + test]
        windows.append(Window(len(windows), (train_days[0], train_days[-1]), (test_days[0], test_days[-1])))
        start += test
    return windows


def _with_window(base: dict[str, Any], first: date, last: date) -> dict[str, Any]:
    tree = dict(base)
    tree["backtest_config"] = {**base["backtest_config"], "start_date": first.isoformat(),
                               "end_date": last.isoformat()}
    return tree


@dataclass
class WindowResult:
    window: Window
    chosen: dict[str, Any] | None
    train_value: float | None
    test: PointRow | None


@dataclass
class WalkForwardReport:
    """The joined out-of-sample result of a walk-forward sweep."""

    sweep_id: int
    metric: Metric
    initial_cash: float
    windows: list[WindowResult]
    curve: list[tuple[date, float]]
    trades: int
    seconds: float = 0.0
    engine: str = ""
    failed: list[str] = field(default_factory=list)

    @property
    def final_equity(self) -> float:
        return self.curve[-1][1] if self.curve else self.initial_cash

    @property
    def total_return_pct(self) -> float:
        return (self.final_equity / self.initial_cash - 1.0) * 100.0

    @property
    def max_drawdown_pct(self) -> float:
        return max_drawdown_pct(self.initial_cash, [e for _, e in self.curve])

    @property
    def sharpe(self) -> float | None:
        return sharpe_ratio(self.initial_cash, [e for _, e in self.curve])


class WalkForward:
    """Runs and reports walk-forward sweeps through a `SweepRunner` (same engines, same writer)."""

    def __init__(self, runner: SweepRunner) -> None:
        self.runner = runner
        self.store = runner.store

    def run(self, config: SessionConfig | str | Path, specs: list[str], *, train: int, test: int,
            engine: str = "local", workers: int | None = None, address: str | None = None,
            metric_name: str = "sharpe", sample: int | None = None, seed: int = 0,
            allow_large: bool = False) -> WalkForwardReport:
        cfg = config if isinstance(config, SessionConfig) else load_session_config(config)
        chosen = metric(metric_name)
        base = backtest_base(cfg)
        params = parse_params(specs, cfg)
        points = build_points(params, sample, seed, allow_large)
        backtest = cfg.backtest_config
        assert backtest is not None
        days = self.runner.app.time.trading_days(backtest.start_date, backtest.end_date)
        windows = make_windows(days, train, test)
        per_window = len(points)
        indexes, configs, extras = [], [], {}
        for window in windows:
            window_base = _with_window(base, *window.train)
            for offset, config_or_error in enumerate(point_configs(window_base, params, points)):
                index = window.index * per_window + offset
                indexes.append(index)
                configs.append(config_or_error)
                extras[index] = {"_window": window.index, "_role": TRAIN}
        all_points = [points[i % per_window] for i in range(len(windows) * per_window)]
        tasks, invalid = self.runner.tasks_for(configs, all_points, indexes)
        # The test configs use the same bars as the train ones plus the days after: read them all once.
        whole = [*tasks, *self.runner.tasks_for([_with_window(base, days[0], days[-1])], [{}], [0])[0]]
        columns = self.runner.load_columns(whole)
        runner = make_engine(engine, workers, address)
        grid = {"params": [p.to_json() for p in params], "points": points, "sample": sample, "seed": seed,
                "train": train, "test": test,
                "windows": [{"train": [w.train[0].isoformat(), w.train[1].isoformat()],
                             "test": [w.test[0].isoformat(), w.test[1].isoformat()]} for w in windows]}
        total = len(windows) * (per_window + 1)
        began = time.perf_counter()
        runner.open()
        try:
            sweep_id = self.store.create(kind="walk-forward", session_name=cfg.session_name, config=base, grid=grid,
                                         engine=runner.name, metric=chosen.name, points_total=total)
            outcome = SweepOutcome(sweep_id, runner.describe(), total)
            progress = Progress(self.runner.progress_factory, total, chosen)
            try:
                self.runner.run_phase(runner, outcome, tasks, invalid, columns, progress, extras)
                test_tasks, test_invalid, test_extras = self._test_points(base, params, points, windows, outcome,
                                                                          chosen)
                self.runner.run_phase(runner, outcome, test_tasks, test_invalid, columns, progress, test_extras)
            finally:
                progress.close()
        finally:
            runner.close()
        self.store.update(sweep_id, state="finished")
        report = self.report(sweep_id)
        report.seconds = time.perf_counter() - began
        report.engine = runner.describe()
        return report

    def _test_points(self, base: dict[str, Any], params: list[SweptParam], grid: list[dict[str, Any]],
                     windows: list[Window], outcome: SweepOutcome, chosen: Metric
                     ) -> tuple[list[Any], list[PointResult], dict[int, Any]]:
        """Each window's best train point, set up to run on the window's test days."""
        per_window = len(grid)
        configs: list[Any] = []
        points: list[dict[str, Any]] = []
        indexes: list[int] = []
        extras: dict[int, Any] = {}
        missing: list[PointResult] = []
        first_test = len(windows) * per_window
        for window in windows:
            index = first_test + window.index
            extras[index] = {"_window": window.index, "_role": TEST}
            rows = [PointRow(i, {}, FINISHED, None, None, None, outcome.summaries.get(i))
                    for i in range(window.index * per_window, (window.index + 1) * per_window)]
            winner = best(rows, chosen)
            if winner is None:
                missing.append(PointResult(index, {}, "failed", f"window {window.index + 1}: no train point has "
                                           f"a {chosen.name} to choose by"))
                continue
            params_of = grid[winner.point % per_window]
            configs.append(point_config(_with_window(base, *window.test), params, params_of))
            points.append(params_of)
            indexes.append(index)
        by_index = dict(zip(indexes, points, strict=True))
        tasks, invalid = self.runner.tasks_for(configs, [by_index.get(i, {}) for i in range(first_test + len(windows))],
                                               indexes)
        return tasks, [*missing, *invalid], extras

    # ------------------------------------------------------------------ the report
    def report(self, sweep_id: int) -> WalkForwardReport:
        """The joined out-of-sample report of a stored walk-forward sweep."""
        info = self.store.get(sweep_id)
        if info.kind != "walk-forward":
            raise UsageError(f"sweep {sweep_id} is a {info.kind} sweep, not a walk-forward")
        chosen = metric(info.metric)
        initial_cash = float(info.config["trading_config"]["initial_cash"])
        rows = self.store.points(sweep_id)
        history = RunHistory(self.store.db)
        windows: list[WindowResult] = []
        curve, trades, failed = [], 0, []
        level = initial_cash
        for spec in info.grid["windows"]:
            index = len(windows)
            window = Window(index, tuple(date.fromisoformat(d) for d in spec["train"]),   # type: ignore[arg-type]
                            tuple(date.fromisoformat(d) for d in spec["test"]))        # type: ignore[arg-type]
            train_rows = [r for r in rows if r.window == index and r.role == TRAIN]
            test_row = next((r for r in rows if r.window == index and r.role == TEST), None)
            winner = best(train_rows, chosen)
            train_value = None if winner is None else (winner.summary or {}).get(chosen.key)
            if test_row is not None and test_row.state == FINISHED and test_row.run_id is not None:
                days = history.daily(test_row.run_id)
                for day in days:
                    curve.append((day.day, level * day.equity / initial_cash))
                if days:
                    level = curve[-1][1]
                trades += int((test_row.summary or {}).get("trades") or 0)
            elif test_row is not None:
                failed.append(f"window {index + 1}: {test_row.error}")
            windows.append(WindowResult(window, test_row.params if test_row else None, train_value, test_row))
        return WalkForwardReport(sweep_id, chosen, initial_cash, windows, curve, trades, failed=failed)
