"""The recorder's writer thread on SQLite and PostgreSQL: batches written in order (fills after their
orders, the same rows as writing in the caller), a failed write raised on the producer's side,
`finish` draining the queue, and no thread left behind."""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from mismartera.data.database import Database
from mismartera.data.schema import fills, runs
from mismartera.execution.orders import Fill, Order, OrderStatus, OrderType, Side, TimeInForce
from mismartera.system.record_writer import THREAD_NAME, RecorderError, RecordWriter
from mismartera.system.recorder import RunRecorder
from mismartera.system.runs import RunHistory
from mismartera.system.status import AccountView, PositionView

T0 = datetime(2024, 3, 4, 14, 31, tzinfo=UTC)
DAY0 = date(2024, 3, 4)


def writer_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == THREAD_NAME]


def account(equity: float, symbol: str = "AAPL") -> AccountView:
    return AccountView(100_000.0, equity - 1000.0, equity, equity, 0.0, 0.0,
                       (PositionView(symbol, 10.0, 100.0, 100.0, 1000.0, 0.0, 0.0),))


def order(order_id: int, status: OrderStatus, at: datetime) -> Order:
    filled = status is OrderStatus.FILLED
    return Order(order_id, f"sim-{order_id}", "AAPL", Side.BUY, 10.0, OrderType.LIMIT, TimeInForce.GTC, status,
                 T0, at, limit_price=100.0, filled_quantity=10.0 if filled else 0.0,
                 average_fill_price=99.0 + order_id / 1000 if filled else None, strategy="s")


def replay(recorder: RunRecorder, days: int = 40, per_day: int = 30) -> None:
    """Orders placed each day; a third fill the same day, a third the next day (updated across
    batches), the rest are cancelled; mid-day flushes split the days into several batches."""
    next_id = 1
    open_yesterday: list[int] = []
    for day_index in range(days):
        at = T0 + timedelta(days=day_index)
        for number, oid in enumerate(open_yesterday):
            status = OrderStatus.FILLED if number % 2 == 0 else OrderStatus.CANCELLED
            filled = [Fill(oid, "AAPL", Side.BUY, 10.0, 99.0 + oid / 1000, 0.1, at)] if number % 2 == 0 else []
            recorder.collect([order(oid, status, at)], filled)
        open_yesterday = []
        for number in range(per_day):
            oid, next_id = next_id, next_id + 1
            if number % 3 == 0:
                recorder.collect([order(oid, OrderStatus.FILLED, at)],
                                 [Fill(oid, "AAPL", Side.BUY, 10.0, 99.0 + oid / 1000, 0.0, at)])
            else:
                recorder.collect([order(oid, OrderStatus.NEW, at)], [])
                open_yesterday.append(oid)
            if number == per_day // 2:
                recorder.flush()
        recorder.end_day(DAY0 + timedelta(days=day_index), account(100_000.0 + day_index), per_day, 0.5,
                         day_index + 1, at)


def stored(database: Database, run_id: int) -> tuple[list, list, list]:
    history = RunHistory(database)
    orders = [(o.id, o.status, o.filled_quantity, o.average_fill_price) for o in history.orders(run_id)]
    filled = [(f.order_id, f.price, f.commission, f.filled_at) for f in history.fills(run_id)]
    return orders, filled, [(d.day, d.equity) for d in history.daily(run_id)]


def test_batches_are_written_in_order_and_match_writing_in_the_caller(database: Database) -> None:
    database.ensure_schema()
    threaded = RunRecorder(database)
    threaded.writer = RecordWriter("threaded", max_jobs=2)   # a short queue: the producer waits on it
    threaded_id = threaded.open_run("threaded", "backtest", {}, T0, 40)
    replay(threaded)
    assert len(writer_threads()) == 1
    threaded.finish("finished", account=account(1.0))
    assert writer_threads() == []

    inline = RunRecorder(database)
    inline_id = inline.open_run("inline", "backtest", {}, T0, 40)
    inline.writer.close()           # a closed writer runs each job in the caller, as before the thread
    replay(inline)
    inline.finish("finished", account=account(1.0))

    result = stored(database, threaded_id)
    assert result == stored(database, inline_id)
    orders, filled, days = result
    assert len(orders) == 40 * 30 and len(days) == 40
    assert len(filled) == 40 * 10 + 39 * 10    # same-day fills, and next-day fills of half the rest
    assert {status for _, status, _, _ in orders} == {"filled", "cancelled", "new"}
    with database.connect() as conn:   # every fill found its order's row (written in an earlier statement)
        assert conn.execute(select(func.count()).select_from(fills).where(fills.c.order_id.is_(None))).scalar() == 0
    assert threaded._client_ids.keys() == inline._client_ids.keys()


def test_finish_writes_everything_queued_behind_a_slow_writer(database: Database) -> None:
    database.ensure_schema()
    recorder = RunRecorder(database)
    run_id = recorder.open_run("slow", "backtest", {}, T0, 5)
    write_day = recorder._write_day

    def slow_day(*args: object) -> None:
        time.sleep(0.05)
        write_day(*args)

    recorder._write_day = slow_day   # type: ignore[method-assign]
    began = time.monotonic()
    replay(recorder, days=5, per_day=6)
    assert time.monotonic() - began < 0.2    # end_day queued the days and returned
    recorder.finish("finished", account=account(1.0), summary={"days": 5})
    assert writer_threads() == []
    orders, _, days = stored(database, run_id)
    assert len(orders) == 30 and len(days) == 5
    info = RunHistory(database).run(run_id)
    assert info.state == "finished" and info.summary == {"days": 5} and info.days_done == 5


def test_a_failed_write_is_raised_by_the_next_call_and_recorded_at_finish(database: Database) -> None:
    database.ensure_schema()
    recorder = RunRecorder(database)
    run_id = recorder.open_run("broken", "backtest", {}, T0, 3)

    def failing_positions(conn, *args: object) -> None:
        conn.exec_driver_sql("INSERT INTO no_such_table VALUES (1)")

    recorder._write_positions = failing_positions   # type: ignore[method-assign]
    recorder.collect([order(1, OrderStatus.NEW, T0)], [])
    recorder.end_day(DAY0, account(1.0), 0, 0.3, 1, T0)
    with pytest.raises(RecorderError, match=rf"^recorder of run {run_id}: database write failed: \w+: .*no_such_table"):
        recorder.drain()
    with pytest.raises(RecorderError, match="database write failed"):
        recorder.end_day(DAY0, account(1.0), 0, 0.6, 2, T0)
    with pytest.raises(RecorderError, match="database write failed"):
        recorder.flush()
    recorder.finish("failed", error="coordinator: it broke")   # raised before: not raised again
    assert writer_threads() == []
    info = RunHistory(database).run(run_id)
    assert info.state == "failed" and info.error == "coordinator: it broke"
    assert stored(database, run_id) == ([], [], [])   # the failed day's transaction was rolled back


def test_finish_raises_a_failure_nobody_saw_and_marks_the_run_failed(database: Database) -> None:
    database.ensure_schema()
    recorder = RunRecorder(database)
    run_id = recorder.open_run("unseen", "backtest", {}, T0, 1)

    def failing_day(*args: object) -> None:
        with database.begin() as conn:
            conn.exec_driver_sql("INSERT INTO no_such_table VALUES (1)")

    recorder._write_day = failing_day   # type: ignore[method-assign]
    recorder.end_day(DAY0, account(1.0), 0, 1.0, 1, T0)
    with pytest.raises(RecorderError, match=rf"^recorder of run {run_id}: database write failed"):
        recorder.finish("finished")
    assert writer_threads() == []
    info = RunHistory(database).run(run_id)
    assert info.state == "failed" and "no_such_table" in info.error


def test_drain_and_finish_give_up_after_their_deadline(database: Database) -> None:
    database.ensure_schema()
    recorder = RunRecorder(database)
    recorder.open_run("stuck", "backtest", {}, T0, 1)
    release = threading.Event()
    recorder.writer.submit(lambda: release.wait(5))
    with pytest.raises(RecorderError, match=r"queued writes not done after 0.2s"):
        recorder.drain(0.2)
    recorder.writer._stop.set()
    began = time.monotonic()
    with pytest.raises(RecorderError, match=r"did not finish within 0.2s"):
        recorder.writer.close(0.2)
    assert time.monotonic() - began < 1.0
    release.set()
    for thread in writer_threads():
        thread.join(2)
    assert writer_threads() == []


def test_state_changes_are_written_before_update_run_returns(database: Database) -> None:
    database.ensure_schema()
    recorder = RunRecorder(database)
    run_id = recorder.open_run("state", "backtest", {}, T0, 1)
    recorder.update_run(state="paused")
    with database.connect() as conn:
        assert conn.execute(select(runs.c.state).where(runs.c.id == run_id)).scalar() == "paused"
    recorder.update_run(progress=0.5)   # a heartbeat: queued, written by the next drain
    recorder.drain()
    assert RunHistory(database).run(run_id).progress == 0.5
    recorder.finish("stopped")
    assert writer_threads() == []
