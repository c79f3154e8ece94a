"""Backtest metrics: return, drawdown, Sharpe, trades, win rate, exposure, per-symbol P&L.

`compute_report` is a pure function of the daily equity rows and the fills, so the report of a
finished run can be rebuilt from the database at any time and gives the same numbers.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from mismartera.errors import DataError
from mismartera.execution.orders import Fill
from mismartera.report.round_trips import Ledger, RoundTrip

TRADING_DAYS_PER_YEAR = 252


@dataclass(frozen=True)
class BacktestReport:
    initial_cash: float
    final_equity: float
    total_return_pct: float
    max_drawdown_pct: float          # largest fall from a peak, as a positive % of that peak
    sharpe: float | None             # daily returns, annualised by sqrt(252), risk-free rate 0
    trades: int                      # closed round trips
    win_rate_pct: float | None       # None without trades
    exposure_pct: float              # share of bars with a position open
    per_symbol_pnl: dict[str, float]
    equity_curve: list[tuple[date, float]]
    total_commission: float = 0.0
    round_trips: list[RoundTrip] = field(default_factory=list)

    @property
    def days(self) -> int:
        return len(self.equity_curve)

    def to_json(self, round_trips: bool = False) -> dict[str, Any]:
        """Plain JSON types (dates as ISO strings), e.g. for the runs table's summary column.

        The round trips are left out unless asked for: a year of minute bars can close tens of
        thousands of them, and they can always be rebuilt from the stored fills.
        """
        data = {
            "initial_cash": self.initial_cash,
            "final_equity": self.final_equity,
            "total_return_pct": self.total_return_pct,
            "max_drawdown_pct": self.max_drawdown_pct,
            "sharpe": self.sharpe,
            "trades": self.trades,
            "win_rate_pct": self.win_rate_pct,
            "exposure_pct": self.exposure_pct,
            "total_commission": self.total_commission,
            "per_symbol_pnl": dict(self.per_symbol_pnl),
            "equity_curve": [{"date": day.isoformat(), "equity": equity} for day, equity in self.equity_curve],
        }
        if round_trips:
            data["round_trips"] = [
                {"symbol": t.symbol, "direction": t.direction, "quantity": t.quantity,
                 "entry_price": t.entry_price, "exit_price": t.exit_price, "entry_at": t.entry_at.isoformat(),
                 "exit_at": t.exit_at.isoformat(), "commission": t.commission, "pnl": t.pnl}
                for t in self.round_trips
            ]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BacktestReport:
        """The inverse of `to_json` (a stored run summary back into a report; extra keys are ignored)."""
        try:
            return cls(
                initial_cash=float(data["initial_cash"]),
                final_equity=float(data["final_equity"]),
                total_return_pct=float(data["total_return_pct"]),
                max_drawdown_pct=float(data["max_drawdown_pct"]),
                sharpe=None if data.get("sharpe") is None else float(data["sharpe"]),
                trades=int(data["trades"]),
                win_rate_pct=None if data.get("win_rate_pct") is None else float(data["win_rate_pct"]),
                exposure_pct=float(data["exposure_pct"]),
                per_symbol_pnl={str(k): float(v) for k, v in data.get("per_symbol_pnl", {}).items()},
                equity_curve=[(date.fromisoformat(row["date"]), float(row["equity"]))
                              for row in data.get("equity_curve", [])],
                total_commission=float(data.get("total_commission", 0.0)),
                round_trips=[RoundTrip(
                    symbol=t["symbol"], direction=t["direction"], quantity=float(t["quantity"]),
                    entry_price=float(t["entry_price"]), exit_price=float(t["exit_price"]),
                    entry_at=datetime.fromisoformat(t["entry_at"]), exit_at=datetime.fromisoformat(t["exit_at"]),
                    commission=float(t["commission"]), pnl=float(t["pnl"]),
                ) for t in data.get("round_trips", [])],
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"stored report summary is not readable ({type(exc).__name__}: {exc})") from None


def compute_report(initial_cash: float, daily: Sequence[tuple[date, float]], fills: Sequence[Fill],
                   bars_in_market: int = 0, bars_total: int = 0,
                   marks: Mapping[str, float] | None = None) -> BacktestReport:
    """Build the report of a run.

    Args:
        initial_cash: the account's starting cash.
        daily: (trading day, equity at its close), oldest first.
        fills: every fill of the run, in the order they happened.
        bars_in_market, bars_total: bars replayed with a position open, and all bars replayed.
        marks: last price per symbol, to value positions still open in `per_symbol_pnl` (without
            it an open position counts only the commission paid to open it).
    """
    _check_initial_cash(initial_cash)
    running = RunningReport(keep_round_trips=True)
    for day, equity in daily:
        running.add_day(day, equity)
    for fill in fills:
        running.add_fill(fill)
    return running.report(initial_cash, bars_in_market, bars_total, marks)


def _check_initial_cash(initial_cash: float) -> None:
    if not math.isfinite(initial_cash) or initial_cash <= 0:
        raise DataError(f"initial cash must be > 0 (got {initial_cash:g})")


class _ExactSum:
    """A sum of floats kept exactly, as non-overlapping partials (Shewchuk's algorithm, the one
    `math.fsum` uses), so that adding values one at a time ends at the same correctly rounded
    total as `math.fsum` over all of them, without keeping them."""

    __slots__ = ("_partials",)

    def __init__(self) -> None:
        self._partials: list[float] = []

    def add(self, value: float) -> None:
        partials = self._partials
        kept = 0
        for other in partials:
            if abs(value) < abs(other):
                value, other = other, value
            high = value + other
            low = other - (high - value)   # the rounding error of high, exactly
            if low:
                partials[kept] = low
                kept += 1
            value = high
        partials[kept:] = [value]

    @property
    def total(self) -> float:
        return math.fsum(self._partials)


class RunningReport:
    """The report built as the run goes: fed each fill and each day's closing equity, it keeps
    aggregates (trade count, wins, P&L per symbol, open lots, commission) and one equity row a day,
    so its memory does not grow with the number of fills. `report()` gives what `compute_report`
    gives for the same fills and days; the round trips themselves are kept only when asked for.
    The starting cash is asked for only by `report()`: a live account learns it from the broker.
    """

    def __init__(self, keep_round_trips: bool = False) -> None:
        self.ledger = Ledger(keep_trades=keep_round_trips)
        self.curve: list[tuple[date, float]] = []
        self.fills = 0
        self._commission = _ExactSum()

    def add_fill(self, fill: Fill) -> None:
        """A fill, in the order they happened."""
        self.ledger.add(fill)
        self._commission.add(fill.commission)
        self.fills += 1

    def add_day(self, day: date, equity: float) -> None:
        """A trading day's equity at its close; days must come in date order, one each."""
        if self.curve and day <= self.curve[-1][0]:
            raise DataError(f"daily equity rows must be in date order, one per day ({day} follows {self.curve[-1][0]})")
        self.curve.append((day, float(equity)))

    def report(self, initial_cash: float, bars_in_market: int = 0, bars_total: int = 0,
               marks: Mapping[str, float] | None = None) -> BacktestReport:
        """The report so far (see `compute_report` for the arguments)."""
        _check_initial_cash(initial_cash)
        if not 0 <= bars_in_market <= max(bars_total, 0):
            raise DataError(f"bars in market must be between 0 and the {bars_total} bars replayed "
                            f"(got {bars_in_market})")
        initial, curve, ledger = float(initial_cash), list(self.curve), self.ledger
        final = curve[-1][1] if curve else initial
        equities = [equity for _, equity in curve]
        return BacktestReport(
            initial_cash=initial,
            final_equity=final,
            total_return_pct=(final / initial - 1.0) * 100.0,
            max_drawdown_pct=max_drawdown_pct(initial, equities),
            sharpe=sharpe_ratio(initial, equities),
            trades=ledger.count,
            win_rate_pct=ledger.wins / ledger.count * 100.0 if ledger.count else None,
            exposure_pct=bars_in_market / bars_total * 100.0 if bars_total > 0 else 0.0,
            per_symbol_pnl=ledger.pnl_by_symbol(marks),
            equity_curve=curve,
            total_commission=self._commission.total,
            round_trips=list(ledger.trades),
        )


def max_drawdown_pct(initial_cash: float, equities: Sequence[float]) -> float:
    """The largest peak-to-trough fall, in % of the peak; the starting cash is the first peak."""
    peak, worst = initial_cash, 0.0
    for equity in equities:
        peak = max(peak, equity)
        if peak > 0:
            worst = max(worst, (peak - equity) / peak)
    return worst * 100.0


def sharpe_ratio(initial_cash: float, equities: Sequence[float]) -> float | None:
    """Mean over sample standard deviation of the daily returns (the first from the starting
    cash), times sqrt(252). None with fewer than two days or returns that never vary."""
    if len(equities) < 2:
        return None
    previous = [initial_cash, *equities[:-1]]
    returns = [equity / before - 1.0 for before, equity in zip(previous, equities, strict=True)]
    spread = statistics.stdev(returns)
    if spread == 0.0 or not math.isfinite(spread):
        return None
    return statistics.fmean(returns) / spread * math.sqrt(TRADING_DAYS_PER_YEAR)
