"""Immutable status snapshots. Workers and the SystemManager publish them by swapping a reference;
the toolbar, `system watch` and `system status` only read them (never call into a worker, never do
I/O while rendering).

Instants are UTC datetimes; `heartbeat` is wall-clock epoch seconds (display only).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

from mismartera.execution.account import AccountSnapshot, PositionSnapshot
from mismartera.system.state import SystemState


@dataclass(frozen=True, slots=True)
class WorkerStatus:
    name: str                 # "coordinator", "upkeep", "prefetch", …
    state: str                # "idle" | "running" | "paused" | "waiting" | "stopped" | "failed"
    heartbeat: float          # time.time() of the last beat
    items_done: int = 0
    rate: float = 0.0         # items per second, recent
    current: str = ""         # what it is on now, e.g. "2024-11-29 10:31 AAPL"
    last_error: str | None = None
    detail: str = ""          # worker-specific, e.g. "holds 2 days, last load 31 ms"


@dataclass(frozen=True, slots=True)
class OrderView:
    id: int
    symbol: str
    side: str                  # "buy" | "sell"
    quantity: float
    order_type: str            # "market" | "limit" | "stop"
    limit_price: float | None
    stop_price: float | None
    time_in_force: str         # "day" | "gtc"
    status: str                # "new" | "accepted" | "filled" | "cancelled" | "expired" | "rejected" | …
    filled_quantity: float
    average_fill_price: float | None
    created_at: datetime
    strategy: str | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class FillView:
    order_id: int
    symbol: str
    side: str
    quantity: float
    price: float
    commission: float
    filled_at: datetime


# The account and its positions are shown exactly as the brokers report them (one definition,
# in execution/account.py); these names are the status contract's.
AccountView = AccountSnapshot
PositionView = PositionSnapshot


@dataclass(frozen=True, slots=True)
class SystemStatus:
    state: SystemState
    mode: str | None = None             # "backtest" | "live"
    session_name: str | None = None
    run_id: int | None = None
    clock: datetime | None = None       # the session clock: simulated in a backtest, wall in live
    day: date | None = None             # the trading day being replayed
    day_index: int = 0                  # 1-based; 0 before the first day
    days_total: int = 0
    progress: float = 0.0               # 0..1 over the whole window
    bars_done: int = 0
    bars_per_second: float = 0.0
    account: AccountView | None = None
    open_orders: int = 0
    recent_orders: tuple[OrderView, ...] = ()
    recent_fills: tuple[FillView, ...] = ()
    workers: tuple[WorkerStatus, ...] = ()
    error: str | None = None
    error_worker: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    message: str = ""                   # e.g. "waiting for open 09:30 ET", "finished"
    extra: dict[str, Any] = field(default_factory=dict)
    owner_pid: int | None = None        # the process that owns the session and serves its control API
    owner_kind: str | None = None       # "shell", "script", "one-shot", "serve"
    api_url: str | None = None          # where that API listens (never the token)

    @property
    def owner(self) -> str | None:
        """`pid 4242 (shell)`, when the session's owner is known."""
        return f"pid {self.owner_pid} ({self.owner_kind})" if self.owner_pid is not None else None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["state"] = self.state.value
        return data
