"""SystemManager lifecycle: start → pause → resume → stop quickly from each state, illegal moves,
failures (a strategy that raises, a worker that raises), manual orders, and no threads left behind."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from mismartera.commands.context import AppContext
from mismartera.config.session import parse_session_config
from mismartera.config.settings import load_settings
from mismartera.data.bar_store import BarStore
from mismartera.data.demo import seed_demo
from mismartera.errors import ConfigError, MismarteraError, NotFound, StateError, UsageError, WaitTimeout
from mismartera.system.state import SystemState

SYMBOLS = ["AAPL", "MSFT"]
START = date(2024, 11, 4)


def engine_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("mismartera-")]


@pytest.fixture
def app(tmp_path: Path) -> Iterator[AppContext]:
    ctx = AppContext(load_settings({"MISMARTERA_HOME": str(tmp_path / "home")}))
    seed_demo(ctx.bars, ctx.time, SYMBOLS, START, 3, seed=3)
    yield ctx
    if ctx.has_system() and ctx.system.state is not SystemState.STOPPED:
        try:
            ctx.system.stop(5)
        except StateError:
            pass
    ctx.close()


def config(speed: float = 0, strategies: list[dict] | None = None, end: str = "2024-11-06", **trading: Any):
    return parse_session_config({
        "session_name": "lifecycle",
        "backtest_config": {"start_date": START.isoformat(), "end_date": end, "speed_multiplier": speed},
        "session_data_config": {"symbols": SYMBOLS, "streams": ["1m", "5m"]},
        "strategies": strategies if strategies is not None else
        [{"name": "sma_crossover", "params": {"fast": 5, "slow": 20, "quantity": 10}}],
        "trading_config": {"initial_cash": 100_000, **trading},
    })


def timed(fn, *args: Any) -> Any:
    began = time.monotonic()
    result = fn(*args)
    assert time.monotonic() - began < 2.0, f"{fn.__name__} took too long"
    return result


def wait_for(predicate, timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "condition not reached in time"
        time.sleep(0.02)


def test_start_pause_resume_stop_each_within_two_seconds(app: AppContext) -> None:
    system = app.system
    status = timed(system.start, config(speed=1200))   # 20 simulated minutes per second
    assert status.state is SystemState.RUNNING and status.run_id is not None
    assert sorted(engine_threads()) == ["mismartera-coordinator", "mismartera-prefetch", "mismartera-recorder",
                                        "mismartera-upkeep", "mismartera-watchdog"]
    wait_for(lambda: system.status().bars_done > 4)
    timed(system.pause)
    frozen = system.status()
    time.sleep(0.3)
    later = system.status()
    assert later.state is SystemState.PAUSED
    assert later.clock == frozen.clock and later.bars_done == frozen.bars_done
    assert {w.name: w.state for w in later.workers}["coordinator"] == "paused"
    row = system.history().run(later.run_id)
    assert row.state == "paused" and row.heartbeat_at is not None and row.progress < 1.0
    timed(system.resume)
    wait_for(lambda: system.status().bars_done > later.bars_done)
    assert app.time.clock.simulated  # `time now` follows the session clock while it runs
    stopped = timed(system.stop, 5.0)
    assert stopped.state is SystemState.STOPPED and stopped.message == "stopped"
    assert engine_threads() == []
    assert not app.time.clock.simulated
    run = system.history().run(stopped.run_id)
    assert run.state == "stopped" and run.summary is not None and run.summary["finished"] is False


def test_speed_paces_the_clock_at_n_times_real_time(app: AppContext) -> None:
    system = app.system
    system.start(config(speed=3000))   # 50 simulated minutes per real second
    wait_for(lambda: system.status().bars_done > 0)
    first_wall, first_clock = time.monotonic(), system.status().clock
    time.sleep(0.8)
    elapsed = time.monotonic() - first_wall
    minutes = (system.status().clock - first_clock).total_seconds() / 60
    system.stop()
    assert minutes <= 50 * elapsed + 1          # never ahead of the pace
    assert minutes >= 0.3 * 50 * elapsed        # and not far behind it (slack for a loaded machine)


def test_stop_from_paused_and_a_finished_run(app: AppContext) -> None:
    system = app.system
    system.start(config(speed=1200))
    wait_for(lambda: system.status().bars_done > 0)
    system.pause()
    assert timed(system.stop, 5.0).state is SystemState.STOPPED
    assert engine_threads() == []
    final = system.run(config())
    assert final.state is SystemState.STOPPED and final.message == "finished"
    assert final.days_total == 3 and final.progress == 1.0
    workers = {w.name: w for w in final.workers}
    assert workers["coordinator"].items_done == final.bars_done == 3 * 2 * 390
    assert workers["prefetch"].items_done == 3 and workers["upkeep"].items_done == 3
    assert all(w.state == "stopped" for w in final.workers)
    assert system.history().run(final.run_id).state == "finished"
    assert engine_threads() == []


def test_illegal_moves_name_the_state_and_the_legal_moves(app: AppContext) -> None:
    system = app.system
    with pytest.raises(StateError, match=r"^cannot pause: system is stopped \(start it first\)$"):
        system.pause()
    with pytest.raises(StateError, match=r"^cannot stop: system is stopped \(start it first\)$"):
        system.stop()
    system.start(config(speed=1200))
    with pytest.raises(StateError, match=r"^cannot resume: system is running \(you can: pause, stop\)$"):
        system.resume()
    with pytest.raises(StateError, match=r"^cannot start: system is running \(you can: pause, stop\)$"):
        system.start(config())
    system.pause()
    with pytest.raises(StateError, match=r"^cannot pause: system is paused \(you can: resume, stop\)$"):
        system.pause()
    system.stop()


SLOW_STOP = '''
import time
from mismartera.strategies import Strategy

class SlowStop(Strategy):
    name = "slow_stop"
    def on_stop(self, ctx):
        time.sleep(0.5)
'''


def test_stop_while_stopping_waits_for_the_first_stop(app: AppContext, tmp_path: Path) -> None:
    path = tmp_path / "slow_stop.py"
    path.write_text(SLOW_STOP)
    system = app.system
    system.start(config(speed=1200, strategies=[{"path": str(path)}]))
    first = threading.Thread(target=system.stop, name="test-first-stop")
    first.start()
    wait_for(lambda: system.state is SystemState.STOPPING)
    assert timed(system.stop, 5.0).state is SystemState.STOPPED
    first.join(5)
    assert engine_threads() == []


SLOW_START = '''
import time
from mismartera.strategies import Strategy

class SlowStart(Strategy):
    name = "slow_start"
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        time.sleep(0.6)
'''


def test_stop_while_starting_stops_what_start_built(app: AppContext, tmp_path: Path) -> None:
    path = tmp_path / "slow_start.py"
    path.write_text(SLOW_START)
    system = app.system
    outcome: list[Any] = []
    starter = threading.Thread(target=lambda: outcome.append(system.start(config(speed=1200, strategies=[
        {"path": str(path)}]))), name="test-starter")
    starter.start()
    wait_for(lambda: system.state is SystemState.STARTING)
    stopped = timed(system.stop, 5.0)
    starter.join(5)
    assert stopped.state is SystemState.STOPPED and outcome and outcome[0].state is not SystemState.RUNNING
    assert engine_threads() == []
    assert system.history().run(stopped.run_id).state in ("stopped", "finished")
    assert not app.time.clock.simulated


def test_wait_times_out_with_exit_code_5(app: AppContext) -> None:
    system = app.system
    system.start(config(speed=60))
    with pytest.raises(WaitTimeout, match=r"session still running after 0.2s") as info:
        system.wait(0.2)
    assert int(info.value.exit_code) == 5
    system.stop()


def test_bad_configs_fail_start_cleanly(app: AppContext, tmp_path: Path) -> None:
    system = app.system
    with pytest.raises(ConfigError, match=r"unknown strategy 'sma_crossovr' — did you mean 'sma_crossover'\?"):
        system.start(config(strategies=[{"name": "sma_crossovr"}]))
    assert system.state is SystemState.STOPPED and engine_threads() == []
    with pytest.raises(NotFound, match=r"^no 1m bars for AAPL, MSFT between 2023-01-03 and 2023-01-03"):
        system.start(parse_session_config({
            "session_name": "x", "backtest_config": {"start_date": "2023-01-03", "end_date": "2023-01-03"},
            "session_data_config": {"symbols": SYMBOLS}}))
    with pytest.raises(ConfigError, match=r"config file not found"):
        system.start(tmp_path / "missing.json")
    with pytest.raises(ConfigError, match=r"no trading days between 2024-11-28 and 2024-11-28"):
        system.start(parse_session_config({
            "session_name": "x", "backtest_config": {"start_date": "2024-11-28", "end_date": "2024-11-28"},
            "session_data_config": {"symbols": SYMBOLS}}))
    assert system.state is SystemState.STOPPED


RAISING = '''
from mismartera.strategies import Strategy

class Raiser(Strategy):
    name = "raiser"
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls = 0
    def on_bar(self, ctx, bar):
        self.calls += 1
        if self.calls == 3:
            raise ZeroDivisionError("boom on purpose")
'''


def test_a_strategy_that_raises_is_disabled_and_the_session_goes_on(app: AppContext, tmp_path: Path) -> None:
    path = tmp_path / "raiser.py"
    path.write_text(RAISING)
    system = app.system
    final = system.run(config(strategies=[{"path": str(path), "symbols": ["AAPL"]},
                                          {"name": "sma_crossover", "params": {"fast": 5, "slow": 20}}]))
    assert final.state is SystemState.STOPPED and final.message == "finished"
    raiser = system.coordinator.slots[0]
    assert raiser.strategy.calls == 3 and not raiser.enabled
    assert "strategy raiser raised in on_bar on AAPL bar 2024-11-04T14:32:00+00:00: ZeroDivisionError: boom" \
        in raiser.error
    summary = system.history().run(final.run_id).summary
    assert "raiser" in summary["strategy_errors"] and summary["days"] == 3


def test_on_error_stop_fails_the_session_with_the_message(app: AppContext, tmp_path: Path) -> None:
    path = tmp_path / "raiser.py"
    path.write_text(RAISING)
    system = app.system
    with pytest.raises(MismarteraError, match=r"session failed in coordinator: strategy raiser raised in on_bar"):
        system.run(config(strategies=[{"path": str(path), "on_error": "stop"}]))
    status = system.status()
    assert status.state is SystemState.FAILED and status.error_worker == "coordinator"
    assert "ZeroDivisionError: boom on purpose" in status.error
    assert system.history().run(status.run_id).state == "failed"
    assert system.stop().state is SystemState.STOPPED
    assert engine_threads() == []


def test_a_worker_that_raises_puts_the_system_in_failed(app: AppContext, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise OSError("disk on fire")

    monkeypatch.setattr(BarStore, "read_many", broken)
    system = app.system
    system.start(config())
    wait_for(lambda: system.state is SystemState.FAILED)
    status = system.status()
    assert status.error_worker == "prefetch" and status.error == "OSError: disk on fire"
    prefetch = {w.name: w for w in status.workers}["prefetch"]
    assert prefetch.state == "failed" and prefetch.last_error == "OSError: disk on fire"
    with pytest.raises(MismarteraError, match=r"^session failed in prefetch: OSError: disk on fire"):
        system.wait(2)
    with pytest.raises(StateError, match=r"cannot start: system is failed \(stop it first\)"):
        system.start(config())
    assert system.stop().state is SystemState.STOPPED
    assert engine_threads() == []


def test_manual_orders_fill_at_the_next_open_and_can_be_cancelled(app: AppContext) -> None:
    system = app.system
    with pytest.raises(StateError, match=r"^cannot buy: system is stopped"):
        system.submit_order("AAPL", "buy", 10)
    system.start(config(speed=1200, strategies=[]))
    wait_for(lambda: system.status().bars_done > 2)
    system.pause()
    paused_at = system.status().clock
    with pytest.raises(UsageError, match=r"AAPX is not in this session — did you mean 'AAPL'\?"):
        system.submit_order("AAPX", "buy", 10)
    placed = system.submit_order("aapl", "buy", 10)
    assert placed.status == "new" and placed.symbol == "AAPL"
    resting = system.submit_order("MSFT", "buy", 5, limit=1.0, tif="gtc")
    assert [o.id for o in system.orders("open")[1]] == [placed.id, resting.id]
    cancelled = system.cancel_order(resting.id)
    assert cancelled.id == resting.id
    with pytest.raises(StateError, match=rf"cannot cancel order {resting.id}: it is cancelled"):
        system.cancel_order(resting.id)
    system.resume()
    wait_for(lambda: system.fills()[1] != [])
    fill = system.fills()[1][0]
    assert fill.order_id == placed.id and fill.filled_at == paused_at  # the next bar starts where the clock stood
    bar = app.bars.read("AAPL", "1m", int(paused_at.timestamp()), int(paused_at.timestamp()) + 60)[0]
    assert fill.price == bar[1]
    system.stop()
    _, stored = system.orders()
    assert [o.status for o in stored] == ["filled", "cancelled"]


def test_session_start_freezes_long_lived_objects_and_thaws_the_previous_session() -> None:
    """Full collections during a replay must not re-scan the whole heap (keystroke stalls in the shell)."""
    import gc

    from mismartera.system.manager import prepare_garbage_collector

    try:
        prepare_garbage_collector()
        frozen = gc.get_freeze_count()
        assert frozen > 1000
        leftover = [[i] for i in range(5000)]
        leftover.append(leftover)  # a cycle
        del leftover
        prepare_garbage_collector()
        assert gc.get_freeze_count() < frozen + 1000  # the cycle was collected, not frozen
    finally:
        gc.unfreeze()


def test_session_start_collects_the_young_generation_less_often_but_never_more() -> None:
    import gc

    from mismartera.system.manager import YOUNG_GC_THRESHOLD, prepare_garbage_collector

    saved = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        prepare_garbage_collector()
        assert gc.get_threshold() == (YOUNG_GC_THRESHOLD, 10, 10)
        gc.set_threshold(50_000, 5, 5)
        prepare_garbage_collector()
        assert gc.get_threshold() == (50_000, 5, 5)
    finally:
        gc.set_threshold(*saved)
        gc.unfreeze()


def test_a_failed_database_write_fails_the_session_with_the_recorder_error(
        app: AppContext, monkeypatch: pytest.MonkeyPatch) -> None:
    from mismartera.system.recorder import RunRecorder

    def failing_positions(self: RunRecorder, conn: Any, *args: Any) -> None:
        conn.exec_driver_sql("INSERT INTO no_such_table VALUES (1)")   # on the recorder's writer thread

    monkeypatch.setattr(RunRecorder, "_write_positions", failing_positions)
    system = app.system
    with pytest.raises(MismarteraError, match=r"session failed in coordinator: recorder of run \d+: database write "
                                              r"failed: OperationalError: no such table: no_such_table"):
        system.run(config())
    status = system.status()
    assert status.state is SystemState.FAILED and status.error_worker == "coordinator"
    assert status.error == f"recorder of run {status.run_id}: database write failed: OperationalError: " \
        "no such table: no_such_table"
    run = system.history().run(status.run_id)
    assert run.state == "failed" and "no such table: no_such_table" in run.error
    assert system.stop().state is SystemState.STOPPED
    assert engine_threads() == []
