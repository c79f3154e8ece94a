"""Backtest results: round trips matched from fills, and the report metrics."""

from mismartera.report.metrics import (
    BacktestReport,
    RunningReport,
    compute_report,
    max_drawdown_pct,
    sharpe_ratio,
)
from mismartera.report.round_trips import RoundTrip, match_round_trips, pnl_by_symbol

__all__ = [
    "BacktestReport",
    "RoundTrip",
    "RunningReport",
    "compute_report",
    "match_round_trips",
    "max_drawdown_pct",
    "pnl_by_symbol",
    "sharpe_ratio",
]
