"""Fidelity: the engine's trades and final equity equal an independent, plain reference loop.

The reference below shares no code with the engine: its own SMA (a plain mean), its own fill rule
(a market order placed on a bar fills at that symbol's next bar open, plus slippage), its own cash
arithmetic. Same synthetic bars in, same trades and equity (to the cent) out.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from synthetic_bars import synthetic_bars

from mismartera.commands.context import AppContext
from mismartera.config.session import parse_session_config
from mismartera.config.settings import load_settings

SYMBOLS = ["AAA", "BBB", "CCC"]
START, END = date(2024, 3, 4), date(2024, 3, 15)   # 10 trading days
FAST, SLOW, QUANTITY = 10, 30, 100
TOLERANCE = 1e-9


def reference(bars: dict[str, list[tuple]], symbols: list[str], cash: float, per_share: float, minimum: float,
              slippage_bps: float) -> tuple[list[tuple], float]:
    """The plain loop: returns the trades [(symbol, side, qty, price, ts)] and the final equity."""
    events = sorted((row[0], symbols.index(s), s, row) for s in symbols for row in bars[s])
    slip = slippage_bps / 10_000
    closes: dict[str, list[float]] = {s: [] for s in symbols}
    held = dict.fromkeys(symbols, 0.0)
    pending: dict[str, tuple[str, float] | None] = dict.fromkeys(symbols)
    last: dict[str, float] = {}
    trades = []
    for ts, _, symbol, row in events:
        _, o, _h, _l, c = row[:5]
        order = pending[symbol]
        if order is not None:
            side, qty = order
            price = o * (1 + slip) if side == "buy" else o * (1 - slip)
            fee = max(qty * per_share, minimum)
            signed = qty if side == "buy" else -qty
            cash -= signed * price + fee
            held[symbol] += signed
            trades.append((symbol, side, qty, price, ts))
            pending[symbol] = None
        last[symbol] = c
        closes[symbol].append(c)
        if len(closes[symbol]) < SLOW or pending[symbol] is not None:
            continue
        fast = sum(closes[symbol][-FAST:]) / FAST
        slow = sum(closes[symbol][-SLOW:]) / SLOW
        tolerance = TOLERANCE * max(abs(slow), 1.0)
        if held[symbol] == 0 and fast > slow + tolerance:
            pending[symbol] = ("buy", float(QUANTITY))
        elif held[symbol] > 0 and fast < slow - tolerance:
            pending[symbol] = ("sell", held[symbol])
    equity = cash + sum(held[s] * last[s] for s in symbols)
    return trades, equity


@pytest.fixture
def app(tmp_path: Path):
    ctx = AppContext(load_settings({"MISMARTERA_HOME": str(tmp_path / "home")}))
    yield ctx
    if ctx.has_system() and ctx.system.state.active:
        ctx.system.stop(5)
    ctx.close()


def run_engine(app: AppContext, per_share: float, minimum: float, slippage_bps: float) -> tuple[list[tuple], float]:
    config = parse_session_config({
        "session_name": "fidelity",
        "backtest_config": {"start_date": START.isoformat(), "end_date": END.isoformat(), "speed_multiplier": 0},
        "session_data_config": {"symbols": SYMBOLS},
        "strategies": [{"name": "sma_crossover", "params": {"fast": FAST, "slow": SLOW, "quantity": QUANTITY}}],
        "trading_config": {"initial_cash": 1_000_000, "commission_per_share": per_share,
                           "commission_min": minimum, "slippage_bps": slippage_bps},
    })
    status = app.system.run(config)
    _, fills = app.system.fills(status.run_id)
    _, account = app.system.account(status.run_id)
    trades = [(f.symbol, f.side, f.quantity, f.price, int(f.filled_at.timestamp())) for f in fills]
    return trades, account.equity


@pytest.mark.parametrize(("per_share", "minimum", "slippage_bps"), [(0.0, 0.0, 0.0), (0.005, 1.0, 2.0)],
                         ids=["no-costs", "commission-and-slippage"])
def test_engine_matches_the_reference_loop(app: AppContext, per_share: float, minimum: float,
                                           slippage_bps: float) -> None:
    bars = synthetic_bars(app.time, SYMBOLS, START, END)
    for symbol, rows in bars.items():
        app.bars.upsert(symbol, "1m", rows)
    expected_trades, expected_equity = reference(bars, SYMBOLS, 1_000_000.0, per_share, minimum, slippage_bps)
    trades, equity = run_engine(app, per_share, minimum, slippage_bps)
    assert len(expected_trades) > 20  # the data must actually trade, or the test proves nothing
    assert len(trades) == len(expected_trades)
    for got, want in zip(trades, expected_trades, strict=True):
        assert got[:3] == want[:3] and got[4] == want[4]
        assert got[3] == pytest.approx(want[3], abs=1e-9)
    assert round(equity, 2) == round(expected_equity, 2)
