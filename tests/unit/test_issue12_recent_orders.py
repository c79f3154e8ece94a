"""Issue 12, point 7: the `system watch` orders panel shows each order once, with its latest status."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from mismartera.cli.dashboard import orders_panel
from mismartera.data.database import Database
from mismartera.execution.orders import Order, OrderStatus, OrderType, Side, TimeInForce
from mismartera.system.recorder import RunRecorder

AT = datetime(2024, 11, 25, 14, 31, tzinfo=UTC)


def order(order_id: int, status: OrderStatus) -> Order:
    return Order(order_id, f"c{order_id}", "AAPL", Side.BUY, 10, OrderType.MARKET, TimeInForce.DAY, status, AT, AT)


def test_gh12_an_order_changed_twice_is_shown_once_with_its_latest_status(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'r.db'}")
    try:
        recorder = RunRecorder(db)
        recorder.run_id = 1
        recorder.collect([order(1, OrderStatus.NEW)], [])
        recorder.collect([order(2, OrderStatus.NEW)], [])
        recorder.collect([order(1, OrderStatus.FILLED)], [])
        views = recorder.recent_orders
        assert [(v.id, v.status) for v in views] == [(2, "new"), (1, "filled")]
        console = Console(width=100, record=True, color_system=None)
        console.print(orders_panel(views, ()))
        text = console.export_text()
        assert text.count(" filled") == 1 and " new" in text
        assert sum(1 for line in text.splitlines() if "buy 10 AAPL" in line) == 2
    finally:
        db.dispose()
