"""The parts every session is built from, whether it replays stored bars or runs live.

`SystemManager` builds a backtest and `system/live.py` builds a live session; both load the
strategies, make the `SessionData`, wire one `StrategySlot` per strategy and open the runs row the
same way, through these helpers, and both hand back an `Assembled` session that the manager starts
with `SystemManager._launch`. The two builders differ only where the modes do: the calendar
window, the clock, the broker, where bars come from.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from mismartera.config.session import SessionConfig
from mismartera.data.database import Database
from mismartera.errors import ConfigError
from mismartera.execution.broker import Broker
from mismartera.indicators import make_indicator
from mismartera.strategies.base import Strategy
from mismartera.strategies.loader import load_strategy
from mismartera.system.coordinator import Coordinator
from mismartera.system.recorder import RunRecorder
from mismartera.system.session_data import SessionData
from mismartera.system.strategy_host import EngineContext, StrategySlot
from mismartera.system.worker import Worker
from mismartera.timekeeping.calendar import TimeManager, TradingSession
from mismartera.timekeeping.clock import Clock


@dataclass(frozen=True)
class Hooks:
    """What the workers report back to the session owner (called on the workers' threads)."""

    on_failure: Callable[[Worker, BaseException], None]   # a worker raised
    on_finished: Callable[[Coordinator, bool], None]      # the coordinator ended (finished or stopped)
    on_message: Callable[[str], None]                  # what a live session is doing now, for status


@dataclass(frozen=True)
class StrategySpec:
    """A loaded strategy and the config entry's choices for it."""

    strategy: Strategy
    symbols: list[str]
    on_error: str


@dataclass
class Assembled:
    """A built session, ready for `SystemManager._launch` to start.

    Attributes:
        workers: in start order (prefetch, upkeep, coordinator).
        clock: installed as the TimeManager's clock while the session runs.
        message: the manager's message once the session is running ("replaying", "live", …).
        summary: the log line saying what started.
    """

    config: SessionConfig
    run_id: int
    recorder: RunRecorder
    data: SessionData
    coordinator: Coordinator
    workers: list[Worker]
    clock: Clock
    started_at: datetime
    message: str
    summary: str


def load_strategies(cfg: SessionConfig) -> list[StrategySpec]:
    """Every strategy of the config, loaded (a bad name or path raises before anything starts)."""
    symbols = cfg.symbols
    specs = []
    for index, entry in enumerate(cfg.strategies):
        chosen = entry.symbols or symbols
        unknown = [s for s in chosen if s not in symbols]
        if unknown:
            raise ConfigError(f"strategies[{index}].symbols: {', '.join(unknown)} not in "
                              f"session_data_config.symbols ({', '.join(symbols)})")
        strategy = load_strategy(entry.name, entry.path, entry.params, list(chosen), entry.label)
        specs.append(StrategySpec(strategy, list(chosen), entry.on_error))
    return specs


def session_data(cfg: SessionConfig) -> SessionData:
    """The session's bar series and indicators for every configured stream."""
    trailing = cfg.session_data_config.historical.trailing_days
    return SessionData(cfg.symbols, cfg.session_data_config.streams, keep_days=max(1, trailing),
                       make_indicator=make_indicator)


def strategy_slots(specs: list[StrategySpec], data: SessionData, broker: Broker, clock: Clock,
                   held: dict[str, float]) -> list[StrategySlot]:
    """One slot per strategy; a label used twice gets `#2`, `#3`, … so logs and errors tell them apart."""
    slots = []
    labels: dict[str, int] = {}
    for spec in specs:
        label = spec.strategy.label
        labels[label] = labels.get(label, 0) + 1
        if labels[label] > 1:
            label = f"{label}#{labels[label]}"
        ctx = EngineContext(label, spec.symbols, data, broker, clock, held)
        slots.append(StrategySlot(spec.strategy, ctx, spec.symbols, spec.on_error))
    return slots


def history_sessions(tm: TimeManager, first_day: date, trailing_days: int) -> list[TradingSession]:
    """The `trailing_days` trading sessions before `first_day` (none for 0)."""
    if not trailing_days:
        return []
    first = tm.previous_trading_day(first_day, trailing_days)
    return tm.sessions(first, tm.previous_trading_day(first_day))


def open_run(db: Database, cfg: SessionConfig, started_at: datetime, days: int) -> tuple[RunRecorder, int]:
    """The recorder of a new run and its id (the runs row exists from here on)."""
    recorder = RunRecorder(db)
    run_id = recorder.open_run(cfg.session_name, cfg.mode, cfg.model_dump(mode="json"), started_at, days)
    return recorder, run_id
