"""RunRecorder on SQLite and PostgreSQL: orders written once or updated across batches, fills tied to
their order rows, instants stored as UTC."""

from __future__ import annotations

from datetime import UTC, datetime

from mismartera.data.database import Database
from mismartera.execution.orders import Fill, Order, OrderStatus, OrderType, Side, TimeInForce
from mismartera.system.recorder import RunRecorder
from mismartera.system.runs import RunHistory

T0 = datetime(2024, 3, 4, 14, 31, tzinfo=UTC)
T1 = datetime(2024, 3, 4, 14, 32, tzinfo=UTC)
T2 = datetime(2024, 3, 5, 14, 31, tzinfo=UTC)


def order(order_id: int, status: OrderStatus, *, filled: bool = False, at: datetime = T0) -> Order:
    return Order(order_id, f"sim-{order_id}", "AAPL", Side.BUY, 10.0, OrderType.LIMIT, TimeInForce.GTC, status,
                 T0, at, limit_price=100.0, filled_quantity=10.0 if filled else 0.0,
                 average_fill_price=99.5 if filled else None, strategy="s")


def test_orders_and_fills_are_stored_once_and_updated_across_batches(database: Database) -> None:
    database.ensure_schema()
    recorder = RunRecorder(database)
    run_id = recorder.open_run("rec", "backtest", {}, T0, 2)
    # batch 1: order 1 filled within the batch (one insert), order 2 still open (insert, updated later)
    recorder.collect([order(1, OrderStatus.FILLED, filled=True, at=T1), order(2, OrderStatus.NEW)],
                     [Fill(1, "AAPL", Side.BUY, 10.0, 99.5, 0.0, T1)])
    recorder.flush()
    assert recorder.pending == 0
    recorder.drain()
    history = RunHistory(database)
    assert [(o.id, o.status) for o in history.orders(run_id)] == [(1, "filled"), (2, "new")]
    # batch 2: order 2 fills on the next day; a second run's order with the same broker id stays apart
    recorder.collect([order(2, OrderStatus.FILLED, filled=True, at=T2)],
                     [Fill(2, "AAPL", Side.BUY, 10.0, 99.5, 0.5, T2)])
    recorder.flush()
    other = RunRecorder(database)
    other_id = other.open_run("other", "backtest", {}, T0, 1)
    other.collect([order(2, OrderStatus.FILLED, filled=True)], [Fill(2, "AAPL", Side.BUY, 10.0, 50.0, 0.0, T0)])
    other.flush()
    recorder.drain()
    other.drain()

    stored = history.orders(run_id)
    assert [(o.id, o.status, o.filled_quantity, o.average_fill_price) for o in stored] == [
        (1, "filled", 10.0, 99.5), (2, "filled", 10.0, 99.5)]
    assert stored[0].created_at == T0
    filled = history.fills(run_id)
    assert [(f.order_id, f.price, f.commission, f.filled_at) for f in filled] == [
        (1, 99.5, 0.0, T1), (2, 99.5, 0.5, T2)]
    assert [(f.order_id, f.price) for f in history.fills(other_id)] == [(2, 50.0)]
    assert recorder._client_ids == {} and recorder._stored_open == set()
    recorder.finish("finished")
    other.finish("finished")
