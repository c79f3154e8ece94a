"""Sweep grids: `NAME=VALUES` parsing against a config, the product and random samples, the leaderboard
and heat map (issue 17, points 1, 2 and 7). No processes run here."""

from __future__ import annotations

from itertools import product
from pathlib import Path

import pytest

from mismartera.config.session import SessionConfig, load_session_config
from mismartera.errors import ConfigError, UsageError
from mismartera.sweep.grid import MAX_POINTS, build_points, grid_size, point_configs
from mismartera.sweep.leaderboard import heat_map, metric, rank
from mismartera.sweep.params import parse_params, point_config
from mismartera.sweep.store import PointRow

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cfg() -> SessionConfig:
    return load_session_config(ROOT / "config" / "example_session.json")


def test_lists_and_ranges_with_both_ends(cfg: SessionConfig) -> None:
    fast, slow = parse_params(["fast=5,10,20", "slow=30:90:10"], cfg)
    assert (fast.path, fast.values) == ("strategies.0.params.fast", (5, 10, 20))
    assert (slow.path, slow.values) == ("strategies.0.params.slow", (30, 40, 50, 60, 70, 80, 90))
    assert parse_params(["slow=30:35"], cfg)[0].values == (30, 31, 32, 33, 34, 35)
    (bps,) = parse_params(["trading_config.slippage_bps=0:1:0.25"], cfg)
    assert bps.values == (0.0, 0.25, 0.5, 0.75, 1.0) and all(isinstance(v, float) for v in bps.values)
    (full,) = parse_params(["strategies.0.params.quantity=50,100"], cfg)
    assert full.values == (50, 100)
    (flag,) = parse_params(["trading_config.close_positions_at_end_of_day=true,false"], cfg)
    assert flag.values == (True, False)


def test_a_default_parameter_can_be_swept_by_its_short_name(cfg: SessionConfig) -> None:
    tree = cfg.model_dump(mode="json")
    tree["strategies"][0]["params"] = {}
    bare = SessionConfig.model_validate(tree)
    (fast,) = parse_params(["fast=3,4"], bare)
    assert fast.path == "strategies.0.params.fast"
    assert point_config(tree, [fast], {"fast": 3})["strategies"][0]["params"] == {"fast": 3}


@pytest.mark.parametrize(("spec", "message"), [
    ("fsat=5,10", "--param fsat: unknown parameter — did you mean 'fast'?"),
    ("trading_config.slipage_bps=1", "--param trading_config.slipage_bps: unknown parameter — did you mean "
                                     "'trading_config.slippage_bps'?"),
    ("slow=90:30:10", "--param slow=90:30:10: empty range (END 30 is below START 90)"),
    ("slow=30:90:0", "--param slow=30:90:0: the step must be above 0"),
    ("fast=abc", "--param fast: 'abc' is not a whole number (strategies.0.params.fast is 10)"),
    ("fast=5.5", "--param fast: '5.5' is not a whole number (strategies.0.params.fast is 10)"),
    ("trading_config.slippage_bps=x", "--param trading_config.slippage_bps: 'x' is not a number "
                                      "(trading_config.slippage_bps is 1)"),
    ("fast", "--param fast: expected NAME=VALUES (e.g. fast=5,10,20 or slow=30:90:10)"),
    ("fast=", "--param fast: no values (expected a list like 5,10,20 or a range like 30:90:10)"),
    ("slow=a:b", "--param slow=a:b: 'a' is not a number (expected START:END:STEP)"),
])
def test_bad_params_are_one_clear_line(cfg: SessionConfig, spec: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_params([spec], cfg)
    assert str(caught.value) == message
    assert caught.value.exit_code == 2


def test_the_same_path_twice_and_no_param_are_usage_errors(cfg: SessionConfig) -> None:
    with pytest.raises(UsageError, match=r"strategies\.0\.params\.fast is swept twice"):
        parse_params(["fast=5", "strategies.0.params.fast=6"], cfg)
    with pytest.raises(UsageError, match="no --param given"):
        parse_params([], cfg)


def test_the_grid_is_the_product_in_order(cfg: SessionConfig) -> None:
    params = parse_params(["fast=5,10", "slow=30:50:10"], cfg)
    points = build_points(params)
    assert [(p["fast"], p["slow"]) for p in points] == list(product((5, 10), (30, 40, 50)))


def test_random_samples_are_distinct_reproducible_grid_points(cfg: SessionConfig) -> None:
    params = parse_params(["fast=1:20", "slow=30:80"], cfg)
    everything = build_points(params)
    sample = build_points(params, sample=25, seed=7)
    assert len(sample) == 25 and len({tuple(p.values()) for p in sample}) == 25
    assert all(p in everything for p in sample)
    assert sample == build_points(params, sample=25, seed=7)
    assert sample != build_points(params, sample=25, seed=8)
    assert build_points(params, sample=10_000) == everything   # a sample as large as the grid is the grid


def test_more_than_ten_thousand_points_need_yes(cfg: SessionConfig) -> None:
    params = parse_params(["fast=1:101", "slow=200:300"], cfg)
    assert grid_size(params) == 10_201 > MAX_POINTS
    with pytest.raises(UsageError) as caught:
        build_points(params)
    assert str(caught.value) == ("the sweep has 10,201 points, more than 10,000; narrow the grid, sample it with "
                                 "--random K, or confirm with --yes")
    assert len(build_points(params, allow_large=True)) == 10_201
    assert len(build_points(params, sample=500)) == 500


def test_invalid_points_get_their_config_error_and_the_rest_run(cfg: SessionConfig) -> None:
    params = parse_params(["fast=10,40", "slow=30"], cfg)
    good, bad = point_configs(cfg.model_dump(mode="json"), params, build_points(params))
    assert isinstance(good, dict) and good["strategies"][0]["params"]["fast"] == 10
    assert isinstance(bad, ConfigError)
    assert str(bad) == "strategy sma_crossover: params.fast 40 must be below params.slow 30"
    (neg,) = parse_params(["trading_config.initial_cash=-5"], cfg)
    (error,) = point_configs(cfg.model_dump(mode="json"), [neg], build_points([neg]))
    assert isinstance(error, ConfigError) and "trading_config.initial_cash" in str(error)


def _row(point: int, params: dict, sharpe: float | None, drawdown: float) -> PointRow:
    summary = {"sharpe": sharpe, "max_drawdown_pct": drawdown}
    return PointRow(point, params, "finished", point + 1, None, 1.0, summary)


def test_rank_and_heat_map_follow_the_metric() -> None:
    rows = [_row(0, {"fast": 5, "slow": 30}, 1.0, 3.0), _row(1, {"fast": 5, "slow": 40}, None, 1.0),
            _row(2, {"fast": 10, "slow": 30}, 2.5, 2.0), _row(3, {"fast": 10, "slow": 40}, -1.0, 4.0)]
    assert [r.point for r in rank(rows, metric("sharpe"))] == [2, 0, 3, 1]     # no Sharpe ranks last
    assert [r.point for r in rank(rows, metric("drawdown"))] == [1, 2, 0, 3]   # lower is better
    params = [{"name": "fast", "values": [5, 10]}, {"name": "slow", "values": [30, 40]}]
    heat = heat_map(rows, params, metric("sharpe"))
    assert heat is not None and heat.cells == [[1.0, None], [2.5, -1.0]]
    assert heat_map(rows, params[:1], metric("sharpe")) is None
    with pytest.raises(UsageError, match="--metric sharp: unknown metric — did you mean 'sharpe'"):
        metric("sharp")
