"""Ranking a sweep's points by a metric, and the heat map of the metric over two swept params.

A metric names a key of the run summary (`report.metrics`) and which way is better: a higher
Sharpe, return, win rate or final equity; a lower drawdown. Points without a value (a Sharpe of a
run that never traded, a failed point) rank last.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mismartera.errors import UsageError
from mismartera.suggest import suffix


@dataclass(frozen=True)
class Metric:
    name: str
    key: str            # in the run summary
    higher_is_better: bool
    label: str
    fmt: str


METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("sharpe", "sharpe", True, "Sharpe", "ratio"),
    Metric("return", "total_return_pct", True, "Return", "pct"),
    Metric("drawdown", "max_drawdown_pct", False, "Max drawdown", "pct"),
    Metric("win_rate", "win_rate_pct", True, "Win rate", "pct"),
    Metric("trades", "trades", True, "Trades", "int"),
    Metric("equity", "final_equity", True, "Final equity", "money"),
    Metric("exposure", "exposure_pct", True, "Exposure", "pct"),
)}


def metric(name: str) -> Metric:
    """The metric called `name` (UsageError with a did-you-mean otherwise)."""
    found = METRICS.get(name)
    if found is None:
        raise UsageError(f"--metric {name}: unknown metric{suffix(name, METRICS)} "
                         f"(expected one of: {', '.join(METRICS)})")
    return found


def value_of(summary: dict[str, Any] | None, chosen: Metric) -> float | None:
    if not summary:
        return None
    value = summary.get(chosen.key)
    return None if value is None else float(value)


def rank(points: Sequence[Any], chosen: Metric) -> list[Any]:
    """Points (anything with `.summary` and `.point`) best first; those without a value last."""
    def key(row: Any) -> tuple[int, float, int]:
        value = value_of(row.summary, chosen)
        if value is None:
            return (1, 0.0, row.point)
        return (0, -value if chosen.higher_is_better else value, row.point)

    return sorted(points, key=key)


def best(points: Sequence[Any], chosen: Metric) -> Any | None:
    ranked = [p for p in rank(points, chosen) if value_of(p.summary, chosen) is not None]
    return ranked[0] if ranked else None


@dataclass(frozen=True)
class HeatMapData:
    """The metric over two params: `cells[i][j]` for row value i and column value j (None: no run)."""

    row_param: str
    column_param: str
    rows: list[Any]
    columns: list[Any]
    cells: list[list[float | None]]
    metric: Metric


def heat_map(points: Sequence[Any], params: list[dict[str, Any]], chosen: Metric) -> HeatMapData | None:
    """For a sweep of exactly two params: the metric at each pair of values (the best point of a pair,
    should other values vary too). None otherwise."""
    if len(params) != 2:
        return None
    first, second = params[0], params[1]
    rows, columns = list(first["values"]), list(second["values"])
    cells: list[list[float | None]] = [[None] * len(columns) for _ in rows]
    for row in rank(points, chosen)[::-1]:   # worst first, so the best of a pair is written last
        value = value_of(row.summary, chosen)
        a, b = row.params.get(first["name"]), row.params.get(second["name"])
        if value is None or a not in rows or b not in columns:
            continue
        cells[rows.index(a)][columns.index(b)] = value
    return HeatMapData(first["name"], second["name"], rows, columns, cells, chosen)
