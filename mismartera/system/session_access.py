"""`SessionAccess`: what commands ask of a session besides its lifecycle — manual orders, the
account, orders and fills, and the reports of stored runs. A mixin of `SystemManager`.

While a session runs (or is paused), answers come from it: the account from its published
snapshot, orders through the coordinator's inbox (its broker is only touched on its own thread).
Otherwise they come from the database: the last run, or the run asked for.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mismartera.errors import MismarteraError, NotFound, StateError, UsageError
from mismartera.execution.orders import OPEN_ORDER_STATUSES
from mismartera.suggest import suffix
from mismartera.system.recorder import fill_view, order_view
from mismartera.system.runs import DailyRow, RunHistory, RunInfo, write_report_csv
from mismartera.system.state import SystemState
from mismartera.system.status import AccountView, FillView, OrderView
from mismartera.system.strategy_host import TIFS, EngineContext

MANUAL_ORDER_WAIT = 5.0   # seconds a manual live order waits for the broker's answer before it is shown

if TYPE_CHECKING:
    from mismartera.system.coordinator import Coordinator
    from mismartera.system.recorder import RunRecorder


class SessionAccess:
    """Orders, account and reports; relies on SystemManager's attributes declared below."""

    app: Any
    state: SystemState
    run_id: int | None
    coordinator: Coordinator | None
    recorder: RunRecorder | None
    run: Callable[..., Any]          # SystemManager.run: start a session and wait for its end

    @property
    def live(self) -> bool:
        """True while a session's broker can be asked (running or paused)."""
        coordinator = self.coordinator
        return (self.state in (SystemState.RUNNING, SystemState.PAUSED) and coordinator is not None
                and coordinator.is_alive())

    # ------------------------------------------------------------------ orders during a session
    def _require_live(self, what: str) -> Coordinator:
        coordinator = self.coordinator
        if not self.live or coordinator is None:
            raise StateError(f"cannot {what}: system is {self.state.value} (orders need a running or paused "
                             "session: system start CONFIG)")
        return coordinator

    def submit_order(self, symbol: str, side: str, quantity: float, limit: float | None = None,
                     stop: float | None = None, tif: str = "day") -> OrderView:
        """Place a manual order in the running session; it fills on a later bar like any other."""
        coordinator = self._require_live(f"{side}")
        symbol = symbol.upper()
        if symbol not in coordinator.symbols:
            raise UsageError(f"{symbol} is not in this session{suffix(symbol, coordinator.symbols)} "
                             f"(session symbols: {', '.join(coordinator.symbols)})")
        if not quantity > 0:
            raise UsageError(f"quantity {quantity:g} must be > 0")
        for name, value in (("--limit", limit), ("--stop", stop)):
            if value is not None and not value > 0:
                raise UsageError(f"{name} {value:g} must be a price > 0")
        if tif not in TIFS:
            raise UsageError(f"--tif {tif!r} is not valid (expected day or gtc)")
        if limit is not None and stop is not None:
            raise UsageError("give --limit or --stop, not both (stop-limit orders are not supported)")
        ctx = EngineContext("manual", coordinator.symbols, coordinator.data, coordinator.broker, coordinator.clock,
                            coordinator.held)
        order = coordinator.call(lambda: order_view(ctx.order(symbol, side, quantity, limit=limit, stop=stop,
                                                              tif=tif)))
        if order.status == "pending_new":
            order = self._answered(coordinator, order)
        if order.status == "rejected":
            reason = order.reason or "rejected"
            raise MismarteraError(f"order {order.id} " + (reason if reason.startswith("rejected") else
                                                          f"rejected: {reason}"))
        return order

    @staticmethod
    def _answered(coordinator: Coordinator, order: OrderView, timeout: float = MANUAL_ORDER_WAIT) -> OrderView:
        """A manual order sent by a live broker's gateway, once the broker answered (or as it
        stands after `timeout` seconds: still `pending_new`, or `unknown`). Waits on this thread,
        reading the broker's mirror (no I/O); the session goes on meanwhile."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [o for o in coordinator.broker.orders() if o.id == order.id]
            if found and found[0].status.value != "pending_new":
                return order_view(found[0])
            time.sleep(0.02)
        return order

    def cancel_order(self, order_id: int) -> OrderView:
        coordinator = self._require_live("cancel")

        def cancel() -> OrderView:
            known = {o.id: o for o in coordinator.broker.orders()}
            if order_id not in known:
                ids = ", ".join(str(i) for i in sorted(known)[-10:]) or "none"
                raise NotFound(f"order {order_id} not found in this session (recent ids: {ids})")
            if not known[order_id].status.open:
                raise StateError(f"cannot cancel order {order_id}: it is {known[order_id].status.value}")
            coordinator.broker.cancel(order_id)
            return order_view(known[order_id])

        return coordinator.call(cancel)

    # ------------------------------------------------------------------ account: the live session or a stored run
    def history(self) -> RunHistory:
        return RunHistory(self.app.db)

    def _stored_run(self, run_id: int | None) -> int:
        rid = self.history().run(run_id if run_id is not None else self.run_id).id
        recorder = self.recorder
        if rid == self.run_id and recorder is not None and self.state in (SystemState.RUNNING, SystemState.PAUSED):
            recorder.drain()   # the session's writes run on the recorder's thread: read them all
        return rid

    def account(self, run_id: int | None = None) -> tuple[int, AccountView]:
        coordinator = self.coordinator
        if run_id is None and self.live and coordinator is not None and coordinator.account is not None:
            return self.run_id or 0, coordinator.account
        rid = self._stored_run(run_id)
        return rid, self.history().account(rid)

    def orders(self, status: str | None = None, run_id: int | None = None) -> tuple[int, list[OrderView]]:
        coordinator = self.coordinator
        if run_id is None and self.live and coordinator is not None:
            views = coordinator.call(lambda: [order_view(o) for o in coordinator.broker.orders()])
            if status == "open":
                views = [v for v in views if v.status in OPEN_ORDER_STATUSES]
            elif status is not None:
                views = [v for v in views if v.status == status]
            return self.run_id or 0, views
        rid = self._stored_run(run_id)
        return rid, self.history().orders(rid, status)

    def fills(self, run_id: int | None = None) -> tuple[int, list[FillView]]:
        if run_id is None and self.live and self.recorder is not None:
            return self.run_id or 0, [fill_view(f) for f in list(self.recorder.all_fills)]
        rid = self._stored_run(run_id)
        return rid, self.history().fills(rid)

    # ------------------------------------------------------------------ reports of stored runs
    def runs(self, limit: int = 20) -> list[RunInfo]:
        """The latest runs, newest first."""
        if not 1 <= limit <= 1000:
            raise UsageError(f"--limit {limit} is out of range (expected 1 to 1000)")
        return self.history().recent(limit)

    def report(self, run_id: int | None = None) -> tuple[RunInfo, list[DailyRow]]:
        """A run's stored summary and daily equity (the latest run by default)."""
        history = self.history()
        info = history.run(run_id)
        if info.summary is None:
            if info.id == self.run_id and self.state.active:
                raise StateError(f"run {info.id} is still {self.state.value}; its report is written when it ends "
                                 "(system wait, or system stop)")
            raise NotFound(f"run {info.id} has no report (it ended {info.state}"
                           + (f": {info.error}" if info.error else "") + ")")
        return info, history.daily(info.id)

    def demo(self, progress_factory: Any = None) -> tuple[RunInfo, list[DailyRow], Any]:
        """Seed the demo bars if missing, run config/demo.json at speed 0 to the end, return its report."""
        from mismartera.system.demo import ensure_demo_data, load_demo_config

        config = load_demo_config()
        seeded = ensure_demo_data(self.app.bars, self.app.time, config, progress_factory)
        status = self.run(config, speed=0, progress_factory=progress_factory)
        info, days = self.report(status.run_id)
        return info, days, seeded

    def export_report_csv(self, path: str, run_id: int | None = None) -> tuple[RunInfo, int]:
        info, days = self.report(run_id)
        return info, write_report_csv(path, info, days)
