"""RunningReport (issue 7): built fill by fill without keeping the fills or the round trips, it
equals compute_report over the same run, to the last bit."""

from __future__ import annotations

import math
import random
from datetime import UTC, date, datetime, timedelta

import pytest

from mismartera.errors import DataError
from mismartera.execution import Fill, Side
from mismartera.report import RunningReport, compute_report
from mismartera.report.metrics import _ExactSum

START = datetime(2024, 3, 4, 14, 30, tzinfo=UTC)


def random_run(seed: int, n: int = 600) -> tuple[list[tuple[date, float]], list[Fill]]:
    rng = random.Random(seed)
    fills = []
    for k in range(n):
        symbol = rng.choice(("AAA", "BBB", "CCC"))
        commission = rng.choice((0.0, 1.0, 0.005 * rng.randint(1, 500), rng.random() * 1e-3, 1e6 * rng.random()))
        fills.append(Fill(k + 1, symbol, rng.choice((Side.BUY, Side.SELL)), float(rng.randint(1, 300)),
                          round(rng.uniform(5, 500), 2), commission, START + timedelta(minutes=k)))
    daily = [(date(2024, 3, 4) + timedelta(days=d), 100_000 * (1 + rng.gauss(0, 0.01))) for d in range(40)]
    return daily, fills


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_equals_compute_report_without_keeping_trades(seed: int) -> None:
    daily, fills = random_run(seed)
    running = RunningReport()
    for fill in fills:
        running.add_fill(fill)
    for day, equity in daily:
        running.add_day(day, equity)
    marks = {"AAA": 100.0, "BBB": 50.0}
    got = running.report(100_000, bars_in_market=70, bars_total=200, marks=marks)
    want = compute_report(100_000, daily, fills, bars_in_market=70, bars_total=200, marks=marks)
    assert want.trades > 100 and want.round_trips   # the run did close trades
    assert running.ledger.trades == [] and got.round_trips == []
    assert got.to_json() == want.to_json()          # every figure, bit for bit
    assert running.fills == len(fills)


def test_exact_sum_matches_fsum_where_plain_addition_drifts() -> None:
    rng = random.Random(5)
    values = [rng.choice((1e16, -1e16, 1.0, 1e-3, rng.random())) for _ in range(5000)]
    exact = _ExactSum()
    for value in values:
        exact.add(value)
    assert exact.total == math.fsum(values)
    assert sum(values) != math.fsum(values)   # the case is one where the naive sum is off


def test_bad_inputs_are_data_errors() -> None:
    running = RunningReport()
    with pytest.raises(DataError, match="initial cash must be > 0"):
        running.report(0)
    running.add_day(date(2024, 3, 5), 1000.0)
    with pytest.raises(DataError, match="in date order"):
        running.add_day(date(2024, 3, 5), 1001.0)
    with pytest.raises(DataError, match="bars in market"):
        running.report(1000, bars_in_market=5, bars_total=4)
