"""Sweeps on the local engine (issue 17, points 1, 3, 5 and 6): every point is the backtest `system start`
runs, to the cent; the parent writes the runs; a dead worker fails its point only; resume runs only
the missing points; walk-forward joins its test runs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import delete, select
from sweep_support import (
    DYING,
    FIRST_DAY,
    SYMBOLS,
    App,
    config_tree,
    seeded_app,
    stored_equity,
    system_start_equity,
)

from mismartera.config.session import SessionConfig
from mismartera.config.settings import load_settings
from mismartera.data.bar_store import BarStore
from mismartera.data.database import Database
from mismartera.data.demo import seed_demo
from mismartera.data.schema import daily_equity, fills, orders, positions, runs, sweep_points
from mismartera.sweep.columns import BarColumns, ColumnBarSource, ranges_for
from mismartera.sweep.point import PointTask, run_point
from mismartera.sweep.runner import SweepRunner
from mismartera.sweep.store import SweepStore
from mismartera.sweep.walk_forward import WalkForward, make_windows
from mismartera.timekeeping.calendar import TimeManager


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    made = seeded_app(tmp_path_factory.mktemp("sweep") / "bars.db")
    yield made
    made.db.dispose()


def test_columns_answer_exactly_like_the_database(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'c.db'}")
    store = BarStore(db)
    rows = [(60 * i, 10.0 + i, 11.5 + i, 9.25, 10.5, 1000.0 + i, None if i % 3 == 0 else i, None if i % 4 == 0
             else 10.125) for i in range(50)]
    store.upsert("AAPL", "1m", rows)
    store.upsert("MSFT", "1m", [(60 * i, 1.0, 2.0, 0.5, 1.5, 7.0, 3, 1.25) for i in range(10, 20)])
    columns = BarColumns.load(store, [("AAPL", "1m", 0, 3000), ("MSFT", "1m", 0, 3000), ("SPY", "1m", 0, 3000)])
    source = ColumnBarSource(columns, BarStore(Database(f"sqlite:///{tmp_path / 'scratch.db'}")))
    for start, end in ((0, 3000), (120, 1260), (600, 601), (2900, 5000), (700, 650)):
        expected = store.read_many(["AAPL", "MSFT", "SPY"], "1m", start, end)
        got = source.read_many(["AAPL", "MSFT", "SPY"], "1m", start, end)
        assert got == expected
        assert [[tuple(map(type, row)) for row in rows] for rows in got.values()] == \
            [[tuple(map(type, row)) for row in rows] for rows in expected.values()]
        assert source.count("AAPL", "1m", start, end) == store.count("AAPL", "1m", start, end)
    db.dispose()


def test_every_point_equals_system_start_and_is_linked_to_its_sweep(app: App, tmp_path: Path) -> None:
    tree = config_tree()
    outcome = SweepRunner(app).run(_cfg(tree), ["fast=5,10", "slow=20,30"], engine="local", workers=2)
    assert (outcome.finished, outcome.failed) == (4, 0)
    store = SweepStore(app.db)
    points = store.points(outcome.sweep_id)
    assert [p.params for p in points] == [{"fast": 5, "slow": 20}, {"fast": 5, "slow": 30},
                                          {"fast": 10, "slow": 20}, {"fast": 10, "slow": 30}]
    finals = set()
    for point in points:
        final, daily = stored_equity(app, point.run_id)
        expected_final, expected_daily = system_start_equity(app, tree, point.params)
        assert round(final, 2) == round(expected_final, 2)
        assert daily == expected_daily
        finals.add(round(final, 2))
        with app.db.connect() as conn:
            assert conn.execute(select(runs.c.sweep_id).where(runs.c.id == point.run_id)).scalar_one() == \
                outcome.sweep_id
    assert len(finals) > 1   # the params matter: the points are different backtests
    info = store.get(outcome.sweep_id)
    assert (info.state, info.engine, info.points_total) == ("finished", "local", 4)


def test_a_dead_worker_fails_its_point_not_the_sweep(app: App) -> None:
    tree = config_tree({"path": DYING, "params": {"die": 0, "quantity": 10}})
    outcome = SweepRunner(app).run(_cfg(tree), ["die=0,1,2"], engine="local", workers=2)
    points = {p.params["die"]: p for p in SweepStore(app.db).points(outcome.sweep_id)}
    assert points[1].state == "failed" and points[1].error == "the worker process died (retried once)"
    assert points[0].state == points[2].state == "finished"
    for die in (0, 2):
        assert round(stored_equity(app, points[die].run_id)[0], 2) == \
            round(system_start_equity(app, tree, {"die": die})[0], 2)


def test_resume_runs_only_the_missing_points(app: App) -> None:
    tree = config_tree()
    runner = SweepRunner(app)
    first = runner.run(_cfg(tree), ["fast=5,10", "slow=30"], engine="local", workers=1)
    store = SweepStore(app.db)
    kept, lost = store.points(first.sweep_id)
    with app.db.begin() as conn:   # as if the sweep had stopped before its second point
        conn.execute(delete(sweep_points).where(sweep_points.c.sweep_id == first.sweep_id,
                                                sweep_points.c.point == lost.point))
        conn.execute(delete(runs).where(runs.c.id == lost.run_id))
    again = runner.resume(first.sweep_id, workers=1)
    assert (again.ran, again.finished) == (1, 1)
    after = store.points(first.sweep_id)
    assert after[0].run_id == kept.run_id and after[1].state == "finished"
    assert round(stored_equity(app, after[1].run_id)[0], 2) == round(system_start_equity(app, tree, lost.params)[0], 2)
    assert runner.resume(first.sweep_id, workers=1).ran == 0


def test_walk_forward_tiles_the_window_and_joins_its_test_runs(app: App) -> None:
    tree = config_tree(days=("2024-11-18", "2024-11-22"))
    days = app.time.trading_days(*(date_of(d) for d in ("2024-11-18", "2024-11-22")))
    windows = make_windows(days, 2, 1)
    assert [(w.train, w.test) for w in windows] == [((days[0], days[1]), (days[2], days[2])),
                                                    ((days[1], days[2]), (days[3], days[3])),
                                                    ((days[2], days[3]), (days[4], days[4]))]
    report = WalkForward(SweepRunner(app)).run(_cfg(tree), ["fast=5,10", "slow=20"], train=2, test=1,
                                               engine="local", workers=2, metric_name="return")
    assert len(report.windows) == 3 and not report.failed
    level = 100000.0
    for result in report.windows:
        train_rows = [p for p in SweepStore(app.db).points(report.sweep_id)
                      if p.window == result.window.index and p.role == "train"]
        best = max(train_rows, key=lambda p: p.summary["total_return_pct"])
        assert result.chosen == best.params
        window_tree = config_tree(days=(result.window.test[0].isoformat(), result.window.test[1].isoformat()))
        final, _ = system_start_equity(app, window_tree, result.chosen)
        assert round(result.test.summary["final_equity"], 2) == round(final, 2)
        level = level * final / 100000.0
    assert round(report.final_equity, 6) == round(level, 6)
    assert [d for d, _ in report.curve] == days[2:]


def date_of(text: str) -> date:
    return date.fromisoformat(text)


def _cfg(tree: dict) -> SessionConfig:
    return SessionConfig.model_validate(tree)


def test_typed_and_stored_rows_write_the_same_run(app: App, tmp_path: Path) -> None:
    """SQLite to SQLite, rows travel as stored; to any other database, as typed values. Both give the
    same rows (PostgreSQL takes the typed path; here both are written to SQLite to compare them)."""
    cfg = _cfg(config_tree())
    columns = BarColumns.load(app.bars, ranges_for(cfg, app.time))
    tree = cfg.model_dump(mode="json")
    typed = run_point(PointTask(0, {"fast": 10}, tree, None, False), columns)
    stored = run_point(PointTask(0, {"fast": 10}, tree, None, True), columns)
    assert typed.stored is None and stored.stored is not None and len(typed.fills) == len(stored.stored["fills"]) > 0
    target = SweepStore(Database(f"sqlite:///{tmp_path / 'target.db'}"))
    sweep = target.create(kind="grid", session_name="t", config={}, grid={}, engine="local", metric="sharpe",
                          points_total=2)
    first = target.write_point(sweep, typed)
    stored.index = 1
    second = target.write_point(sweep, stored)

    def rows(run_id: int) -> list[list[tuple]]:
        out = []
        with target.db.connect() as conn:
            for table, skip in ((orders, {"id", "run_id", "client_order_id"}), (fills, {"id", "run_id", "order_id"}),
                                (positions, {"run_id", "updated_at"}), (daily_equity, {"run_id"})):
                keep = [c for c in table.c if c.name not in skip]
                out.append([tuple(r) for r in conn.execute(select(*keep).where(table.c.run_id == run_id))])
            out.append([tuple(r) for r in conn.execute(
                select(orders.c.client_order_id, fills.c.quantity).join(fills, fills.c.order_id == orders.c.id)
                .where(orders.c.run_id == run_id).order_by(fills.c.id))])
        return out

    a, b = rows(first), rows(second)
    assert a[:4] == b[:4]
    assert [(c.replace(f"run{first}-", ""), q) for c, q in a[4]] == \
        [(c.replace(f"run{second}-", ""), q) for c, q in b[4]]
    target.db.dispose()


@pytest.mark.postgres
def test_a_sweep_on_postgresql_equals_system_start(postgres_url: str, tmp_path: Path) -> None:
    """Bars in PostgreSQL: read once into columns, runs written back by the parent as typed rows."""
    db = Database(postgres_url)
    try:
        tm = TimeManager()
        seed_demo(BarStore(db), tm, SYMBOLS, FIRST_DAY, 4, 11)
        on_pg = App(db, BarStore(db), tm, load_settings({"MISMARTERA_HOME": str(tmp_path / "home")}))
        tree = config_tree()
        outcome = SweepRunner(on_pg).run(_cfg(tree), ["fast=5,10", "slow=30"], engine="local", workers=2)
        assert (outcome.finished, outcome.failed) == (2, 0)
        for point in SweepStore(db).points(outcome.sweep_id):
            assert stored_equity(on_pg, point.run_id) == system_start_equity(on_pg, tree, point.params)
    finally:
        db.dispose()
