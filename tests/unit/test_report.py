"""Report metrics against numbers worked out by hand."""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime, timedelta

import pytest

from mismartera.config.session import TradingConfig
from mismartera.errors import DataError
from mismartera.execution import Fill, Side, SimulatedBroker
from mismartera.report import BacktestReport, compute_report, match_round_trips, pnl_by_symbol

START = datetime(2024, 11, 25, 15, 0, tzinfo=UTC)
DAYS = [date(2024, 11, 25), date(2024, 11, 26), date(2024, 11, 27)]


def fill(n: int, symbol: str, side: str, qty: float, price: float, commission: float = 0.0) -> Fill:
    return Fill(n, symbol, Side(side), qty, price, commission, START + timedelta(minutes=n))


FILLS = [
    fill(1, "AAPL", "buy", 100, 10.0, 1.0),
    fill(2, "AAPL", "buy", 100, 12.0, 1.0),
    fill(3, "AAPL", "sell", 150, 15.0, 1.5),   # closes 100 @10 (+500 - 2) and 50 @12 (+150 - 1)
    fill(4, "MSFT", "sell", 10, 100.0, 1.0),   # a short ...
    fill(5, "MSFT", "buy", 10, 90.0, 1.0),     # ... covered: +100 - 2
    fill(6, "AAPL", "sell", 50, 9.0, 0.5),     # closes the last 50 @12: -150 - 1
    fill(7, "MSFT", "buy", 5, 95.0, 1.0),      # left open
]


def test_hand_computed_report() -> None:
    daily = list(zip(DAYS, [10_500.0, 9_975.0, 10_972.5], strict=True))
    report = compute_report(10_000, daily, FILLS, bars_in_market=30, bars_total=120, marks={"MSFT": 97.0})
    assert report.final_equity == 10_972.5
    assert report.total_return_pct == pytest.approx(9.725)
    assert report.max_drawdown_pct == pytest.approx(5.0)          # 10500 -> 9975
    # Daily returns +5%, -5%, +10%: mean 1/30, sample variance 7/1200, so sqrt(4/21) * sqrt(252) = 4·√3.
    assert report.sharpe == pytest.approx(4 * math.sqrt(3))
    assert report.trades == 4
    assert report.win_rate_pct == pytest.approx(75.0)
    assert report.exposure_pct == 25.0
    assert report.per_symbol_pnl == {"AAPL": pytest.approx(498 + 149 - 151),
                                     "MSFT": pytest.approx(98 + 5 * 2 - 1)}  # the open 5 marked at 97
    assert report.total_commission == pytest.approx(7.0)
    assert report.equity_curve == daily and report.days == 3
    trips = [(t.symbol, t.direction, t.quantity, t.entry_price, t.exit_price, round(t.pnl, 6))
             for t in report.round_trips]
    assert trips == [("AAPL", "long", 100, 10.0, 15.0, 498.0), ("AAPL", "long", 50, 12.0, 15.0, 149.0),
                     ("MSFT", "short", 10, 100.0, 90.0, 98.0), ("AAPL", "long", 50, 12.0, 9.0, -151.0)]


def test_a_fill_through_zero_closes_and_opens() -> None:
    trips = match_round_trips([fill(1, "X", "buy", 100, 10.0), fill(2, "X", "sell", 150, 12.0),
                               fill(3, "X", "buy", 50, 11.0)])
    assert [(t.direction, t.quantity, t.pnl) for t in trips] == [("long", 100, 200.0), ("short", 50, 50.0)]
    assert pnl_by_symbol([fill(1, "X", "buy", 10, 10.0, 2.0)]) == {"X": -2.0}   # open, unmarked: its commission
    assert pnl_by_symbol([fill(1, "X", "buy", 10, 10.0, 2.0)], {"X": 11.0}) == {"X": 8.0}


def test_drawdown_starts_from_the_initial_cash_and_sharpe_needs_two_varying_days() -> None:
    report = compute_report(1_000, [(DAYS[0], 900.0)], [])
    assert report.max_drawdown_pct == pytest.approx(10.0)
    assert report.sharpe is None and report.trades == 0 and report.win_rate_pct is None
    flat = compute_report(1_000, [(DAYS[0], 1_000.0), (DAYS[1], 1_000.0)], [])
    assert flat.sharpe is None and flat.total_return_pct == 0.0 and flat.max_drawdown_pct == 0.0
    empty = compute_report(1_000, [], [])
    assert (empty.final_equity, empty.exposure_pct, empty.per_symbol_pnl) == (1_000.0, 0.0, {})


@pytest.mark.parametrize(("args", "message"), [
    ((0, [], []), "initial cash must be > 0 (got 0)"),
    ((100, [(DAYS[1], 1.0), (DAYS[0], 1.0)], []),
     "daily equity rows must be in date order, one per day (2024-11-25 follows 2024-11-26)"),
    ((100, [], [], 5, 4), "bars in market must be between 0 and the 4 bars replayed (got 5)"),
])
def test_bad_inputs_are_data_errors(args: tuple, message: str) -> None:
    with pytest.raises(DataError) as info:
        compute_report(*args)
    assert str(info.value) == message


def test_json_round_trip() -> None:
    report = compute_report(10_000, list(zip(DAYS, [10_100.0, 10_050.0, 10_200.0], strict=True)), FILLS, 3, 9)
    data = json.loads(json.dumps(report.to_json(round_trips=True)))
    assert data["equity_curve"][0] == {"date": "2024-11-25", "equity": 10_100.0}
    assert BacktestReport.from_json(data) == report
    compact = report.to_json()
    assert "round_trips" not in compact and compact["trades"] == 4
    assert BacktestReport.from_json(compact).round_trips == []
    with pytest.raises(DataError, match=r"^stored report summary is not readable \(KeyError: 'trades'\)$"):
        BacktestReport.from_json({k: v for k, v in data.items() if k != "trades"})


def test_per_symbol_pnl_adds_up_to_the_broker_equity() -> None:
    """The report's FIFO matching and the broker's average-price books must agree on the total."""
    clock_at = [START]

    class Clock:
        def now(self) -> datetime:
            return clock_at[0]

    broker = SimulatedBroker(TradingConfig(initial_cash=50_000, commission_per_share=0.01, commission_min=1.0,
                                           slippage_bps=5, allow_short=True), Clock())
    ts = int(START.timestamp())
    script = [("AAPL", "buy", 100, 50.0), ("MSFT", "sell", 30, 200.0), ("AAPL", "buy", 40, 52.0),
              ("AAPL", "sell", 170, 55.0), ("MSFT", "buy", 50, 190.0), ("AAPL", "buy", 30, 51.0)]
    for symbol in ("AAPL", "MSFT"):
        broker.process_bar(symbol, ts, 50, 50, 50, 50 if symbol == "AAPL" else 200)
    for i, (symbol, side, qty, price) in enumerate(script, start=1):
        clock_at[0] = START + timedelta(minutes=i)
        broker.submit(symbol, side, qty)
        broker.process_bar(symbol, ts + 60 * i, price, price, price, price + 1)
    account = broker.account()
    marks = {p.symbol: p.last_price for p in account.positions}
    report = compute_report(50_000, [(DAYS[0], account.equity)], broker.fills(), marks=marks)
    assert math.fsum(report.per_symbol_pnl.values()) == pytest.approx(account.equity - 50_000)
    assert report.trades == 4
