"""The session: SystemManager, its state machine, workers and status snapshots."""

from mismartera.system.state import SystemState, Trigger, legal_moves, next_state
from mismartera.system.status import AccountView, FillView, OrderView, PositionView, SystemStatus, WorkerStatus

__all__ = ["AccountView", "FillView", "OrderView", "PositionView", "SystemState", "SystemStatus", "Trigger",
           "WorkerStatus", "legal_moves", "next_state"]
