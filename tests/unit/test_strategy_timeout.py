"""Issue 14, point 5: a strategy callback that never returns fails the session after
`strategy_timeout_seconds`, naming the strategy and where it is stuck (file:line); its thread is
abandoned, stop returns at once, the finished days are stored, and the next session runs.

The stuck strategy spins until the test creates a release file, so no busy thread outlives the test."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from mismartera.commands.context import AppContext
from mismartera.config.session import parse_session_config
from mismartera.config.settings import load_settings
from mismartera.data.demo import seed_demo
from mismartera.errors import MismarteraError, StateError
from mismartera.system.state import SystemState
from mismartera.system.watchdog import StrategyWatchdog, call_sites

SYMBOLS = ["AAPL", "MSFT"]
START = date(2024, 11, 4)

STUCK = '''
import os
from mismartera.strategies import Strategy

RELEASE = {release!r}

class Spinner(Strategy):
    name = "spinner"
    def on_start(self, ctx):
        self.bars = 0
    def on_bar(self, ctx, bar):
        self.bars += 1
        if self.bars == {after}:
            while not os.path.exists(RELEASE):   # stuck here
                pass
'''


@pytest.fixture
def app(tmp_path: Path) -> Iterator[AppContext]:
    ctx = AppContext(load_settings({"MISMARTERA_HOME": str(tmp_path / "home")}))
    seed_demo(ctx.bars, ctx.time, SYMBOLS, START, 3, seed=3)
    yield ctx
    (tmp_path / "release").touch()
    if ctx.has_system() and ctx.system.state is not SystemState.STOPPED:
        try:
            ctx.system.stop(5)
        except StateError:
            pass
    ctx.close()


def config(strategies: list[dict], timeout: float = 1.0):
    return parse_session_config({
        "session_name": "stuck",
        "backtest_config": {"start_date": START.isoformat(), "end_date": "2024-11-06", "speed_multiplier": 0},
        "session_data_config": {"symbols": SYMBOLS, "streams": ["1m"]},
        "strategies": strategies,
        "trading_config": {"initial_cash": 100_000},
        "strategy_timeout_seconds": timeout,
    })


def test_a_stuck_on_bar_fails_the_session_naming_strategy_and_line(app: AppContext, tmp_path: Path) -> None:
    path = tmp_path / "spinner.py"
    source = STUCK.format(release=str(tmp_path / "release"), after=1000)
    path.write_text(source)
    line = next(n for n, text in enumerate(source.splitlines(), 1) if "# stuck here" in text)
    system = app.system
    began = time.monotonic()
    with pytest.raises(MismarteraError) as failure:
        system.run(config([{"path": str(path)},
                           {"name": "sma_crossover", "params": {"fast": 5, "slow": 20, "quantity": 10}}]))
    took = time.monotonic() - began
    message = str(failure.value)
    assert "strategy spinner did not return from on_bar within 1s" in message
    assert f"stuck at {path}:{line}" in message
    assert system.state is SystemState.FAILED and took < 30
    assert system.abandoned_threads == ["mismartera-coordinator"]
    assert system.stuck is not None and system.stuck.strategy == "spinner"
    stored = system.history().run(system.run_id)
    assert stored.state == "failed" and "did not return from on_bar" in stored.error
    # stop from failed does not wait for the abandoned thread
    began = time.monotonic()
    assert system.stop(5).state is SystemState.STOPPED
    assert time.monotonic() - began < 2
    # the report of the failed run is partial, from its stored days (the spinner stuck on day 2)
    info, days = system.report(stored.id)
    # (its days: the completed ones and the point where it stopped)
    assert info.partial and len(days) in (info.days_stored, info.days_stored + 1) and len(days) >= 1
    # the next session runs (the release lets the stuck thread see its stop and end)
    (tmp_path / "release").touch()
    final = system.run(config([{"name": "sma_crossover", "params": {"fast": 5, "slow": 20, "quantity": 10}}]))
    assert final.state is SystemState.STOPPED and final.message == "finished"


def test_a_slow_but_returning_strategy_is_not_stuck() -> None:
    """Many calls that each take a while never trip the watchdog: only one call running too long does."""
    def callback(n: int) -> None:
        time.sleep(0.05)

    def calls(stop: threading.Event) -> None:
        n = 0
        while not stop.is_set():
            callback(n)
            n += 1

    stop = threading.Event()
    worker = threading.Thread(target=calls, args=(stop,), name="test-calls")
    stuck = []
    worker.start()
    watchdog = StrategyWatchdog(worker, call_sites(calls), 0.3, stuck.append)
    watchdog.start()
    time.sleep(1.5)
    stop.set()
    worker.join(2)
    watchdog.join(2)
    assert stuck == []
