"""Shared set-up of the sweep tests: a database with a few days of demo bars, an app over it, and the
oracle — `system start` (a `SystemManager` run) of the same config with a point's params."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from mismartera.config.session import SessionConfig
from mismartera.config.settings import Settings, load_settings
from mismartera.data.bar_store import BarStore
from mismartera.data.database import Database
from mismartera.data.demo import seed_demo
from mismartera.sweep.params import parse_params, point_config
from mismartera.system.manager import SystemManager
from mismartera.system.runs import RunHistory
from mismartera.timekeeping.calendar import TimeManager

SYMBOLS = ["AAPL", "MSFT"]
FIRST_DAY = date(2024, 11, 18)
DAYS = 5   # 2024-11-18 .. 2024-11-22
DYING = str(Path(__file__).resolve().parent / "sweep_strategies" / "dying.py")


@dataclass
class App:
    """What SystemManager and SweepRunner need of an AppContext."""

    db: Database
    bars: BarStore
    time: TimeManager
    settings: Settings

    def open_bar_cache(self) -> None:
        return None   # replays read the database, as with --no-cache


def seeded_app(path: Path) -> App:
    db = Database(f"sqlite:///{path}")
    tm = TimeManager()
    seed_demo(BarStore(db), tm, SYMBOLS, FIRST_DAY, DAYS, 11)
    return App(db, BarStore(db), tm, load_settings({"MISMARTERA_HOME": str(path.parent / "home")}))


def config_tree(strategy: dict[str, Any] | None = None, days: tuple[str, str] = ("2024-11-18", "2024-11-21")
                ) -> dict[str, Any]:
    return {
        "session_name": "sweep-test",
        "backtest_config": {"start_date": days[0], "end_date": days[1], "speed_multiplier": 0, "prefetch_days": 1},
        "session_data_config": {"symbols": SYMBOLS, "streams": ["1m", "5m"]},
        "strategies": [strategy or {"name": "sma_crossover", "params": {"fast": 10, "slow": 30, "quantity": 100}}],
        "trading_config": {"initial_cash": 100000, "commission_per_share": 0.005, "commission_min": 1.0,
                           "slippage_bps": 1},
    }


def write_config(path: Path, tree: dict[str, Any]) -> Path:
    path.write_text(json.dumps(tree), encoding="utf-8")
    return path


def system_start_equity(app: App, tree: dict[str, Any], point: dict[str, Any]) -> tuple[float, list[float]]:
    """Final equity and daily equity of `system start` with the point's params set in the config."""
    cfg = SessionConfig.model_validate(tree)
    params = parse_params([f"{k}={v}" for k, v in point.items()], cfg)
    full = SessionConfig.model_validate(point_config(tree, params, point))
    manager = SystemManager(app)
    status = manager.run(full)
    info, days = manager.report(status.run_id)
    return info.summary["final_equity"], [d.equity for d in days]


def stored_equity(app: App, run_id: int) -> tuple[float, list[float]]:
    history = RunHistory(app.db)
    return history.run(run_id).summary["final_equity"], [d.equity for d in history.daily(run_id)]
