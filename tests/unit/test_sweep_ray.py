"""Sweeps on Ray (issue 17, points 4, 5 and 6), on one local Ray instance with num_cpus=2 started once for
the session (Ray's start-up is slow): the same answers as `system start` and as the local engine, and a
worker that dies is retried once and then reported as a failed point."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sweep_support import DYING, App, config_tree, seeded_app, stored_equity, system_start_equity

from mismartera.config.session import SessionConfig
from mismartera.sweep.ray_engine import PACKAGE_ROOT
from mismartera.sweep.runner import SweepRunner
from mismartera.sweep.store import SweepStore
from mismartera.sweep.walk_forward import WalkForward

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'mismartera[cluster]')")


@pytest.fixture(scope="session")
def local_ray() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False,
             runtime_env={"env_vars": {"PYTHONPATH": PACKAGE_ROOT}})
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    made = seeded_app(tmp_path_factory.mktemp("sweep_ray") / "bars.db")
    yield made
    made.db.dispose()


def _cfg(tree: dict) -> SessionConfig:
    return SessionConfig.model_validate(tree)


def test_ray_points_equal_system_start_and_the_local_engine(local_ray: None, app: App) -> None:
    tree = config_tree()
    runner = SweepRunner(app)
    on_ray = runner.run(_cfg(tree), ["fast=5,10", "slow=20,30"], engine="ray")
    assert (on_ray.finished, on_ray.failed) == (4, 0)
    assert ray.is_initialized()   # a Ray the caller started is left running
    local = runner.run(_cfg(tree), ["fast=5,10", "slow=20,30"], engine="local", workers=2)
    store = SweepStore(app.db)
    assert store.get(on_ray.sweep_id).engine == "ray"
    for ray_point, local_point in zip(store.points(on_ray.sweep_id), store.points(local.sweep_id), strict=True):
        assert ray_point.params == local_point.params
        final, daily = stored_equity(app, ray_point.run_id)
        expected_final, expected_daily = system_start_equity(app, tree, ray_point.params)
        assert round(final, 2) == round(expected_final, 2) == round(stored_equity(app, local_point.run_id)[0], 2)
        assert daily == expected_daily


def test_a_dead_ray_worker_is_retried_once_then_a_failed_point(local_ray: None, app: App) -> None:
    tree = config_tree({"path": DYING, "params": {"die": 0, "quantity": 10}})
    outcome = SweepRunner(app).run(_cfg(tree), ["die=0,1"], engine="ray")
    points = {p.params["die"]: p for p in SweepStore(app.db).points(outcome.sweep_id)}
    assert points[1].state == "failed" and points[1].error == "the Ray worker died (retried once)"
    assert points[0].state == "finished"
    assert round(stored_equity(app, points[0].run_id)[0], 2) == round(system_start_equity(app, tree, {"die": 0})[0], 2)


def test_walk_forward_on_ray_equals_the_local_engine(local_ray: None, app: App) -> None:
    tree = config_tree(days=("2024-11-18", "2024-11-22"))
    walk = WalkForward(SweepRunner(app))
    on_ray = walk.run(_cfg(tree), ["fast=5,10", "slow=20"], train=3, test=1, engine="ray")
    local = walk.run(_cfg(tree), ["fast=5,10", "slow=20"], train=3, test=1, engine="local", workers=2)
    assert [w.chosen for w in on_ray.windows] == [w.chosen for w in local.windows]
    assert on_ray.curve == local.curve and len(on_ray.curve) == 2
    assert on_ray.total_return_pct == local.total_return_pct


def test_ray_engine_is_the_only_module_that_imports_ray() -> None:
    package = Path(PACKAGE_ROOT) / "mismartera"
    importers = sorted(str(p.relative_to(package)) for p in package.rglob("*.py")
                       if "import ray" in p.read_text(encoding="utf-8"))
    assert importers == ["sweep/ray_engine.py"]
