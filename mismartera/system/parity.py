"""Backtest/live parity: the same config over the same stored bars, as a backtest and as a live
session on the replay source, must give the same orders, fills and equity.

`replay_twin` turns a backtest config into its live twin (`mode: live`, `data_api: replay`, the
same window, the simulated broker); `RunRecord.of` reads what a finished run stored; `differences`
lists every way two records disagree (orders and fills field by field, daily and final equity to
the cent). `tests/unit/test_parity.py` and `benchmarks/parity.py` run them.
"""

from __future__ import annotations

from dataclasses import dataclass

from mismartera.config.session import ApiConfig, ReplayConfig, SessionConfig
from mismartera.errors import ConfigError
from mismartera.system.runs import RunHistory


def replay_twin(cfg: SessionConfig) -> SessionConfig:
    """`cfg` (a backtest) as a live session replaying the same days at full speed, simulated broker."""
    backtest = cfg.backtest_config
    if cfg.mode != "backtest" or backtest is None:
        raise ConfigError(f"{cfg.session_name}: parity needs a backtest config (found mode {cfg.mode})")
    return cfg.model_copy(update={
        "session_name": f"{cfg.session_name}-replay",
        "mode": "live",
        "backtest_config": None,
        "replay_config": ReplayConfig(start_date=backtest.start_date, end_date=backtest.end_date,
                                      speed_multiplier=0.0, minutes_before_open=5),
        "api_config": ApiConfig(data_api="replay", trade_api="simulated"),
    })


def _cents(value: float) -> int:
    return round(value * 100)


@dataclass(frozen=True)
class RunRecord:
    """What a run stored, in the terms parity compares."""

    orders: list[tuple]
    fills: list[tuple]
    daily: list[tuple]        # (day, equity in cents, cash in cents, fills that day)
    final_equity: int         # cents

    @classmethod
    def of(cls, history: RunHistory, run_id: int) -> RunRecord:
        orders = [(o.id, o.symbol, o.side, o.quantity, o.order_type, o.limit_price, o.stop_price, o.time_in_force,
                   o.status, o.filled_quantity, o.average_fill_price, o.created_at, o.strategy, o.reason)
                  for o in history.orders(run_id, None)]
        fills = [(f.order_id, f.symbol, f.side, f.quantity, f.price, f.commission, f.filled_at)
                 for f in history.fills(run_id)]
        daily = [(row.day, _cents(row.equity), _cents(row.cash), row.trades) for row in history.daily(run_id)]
        return cls(orders, fills, daily, _cents(history.account(run_id).equity))


def differences(backtest: RunRecord, live: RunRecord, limit: int = 5) -> list[str]:
    """Every disagreement between the two records (at most `limit` lines per kind); [] when at parity."""
    out: list[str] = []
    for kind in ("orders", "fills", "daily"):
        ours, theirs = getattr(backtest, kind), getattr(live, kind)
        if len(ours) != len(theirs):
            out.append(f"{kind}: {len(ours)} in the backtest, {len(theirs)} live")
        shown = 0
        for index, (a, b) in enumerate(zip(ours, theirs, strict=False)):
            if a != b and shown < limit:
                out.append(f"{kind}[{index}]: backtest {a} != live {b}")
                shown += 1
    if backtest.final_equity != live.final_equity:
        out.append(f"final equity: backtest {backtest.final_equity / 100:.2f} != live {live.final_equity / 100:.2f}")
    return out
