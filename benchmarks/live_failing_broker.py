"""A live paper session against a broker that hangs, at the issue's real timings (issue 20): the
delay of bars to the strategy and the latency of orders, against a healthy broker in the same
process; then `system stop` with an order in flight, and the next start's reconcile.

    python benchmarks/live_failing_broker.py [--minutes 6] [--hang 20] [--pace 1.0]

The fakes of tests/fake_alpaca serve Alpaca on 127.0.0.1; the session runs through SystemManager on a
scripted wall clock inside a real session (2024-11-29), one minute pushed every `--pace` seconds. The
broker's HTTP policy is the default one (10 s timeout). Every POST is carried out but its answer held
`--hang` seconds; with trade updates silent, only the look-ups by client id tell the truth.
Printed, for a healthy broker and a hung one (trade updates on, and silent): bar delay (push ->
strategy, median and worst, and its ratio to the healthy run) and order latency (placed -> filled
in the session); then the stop's duration and the order's recorded and reconciled states.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))   # the fakes of the tests
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))             # the package (not installed)

from fake_alpaca.brokerage import FakeBrokerage
from fake_alpaca.live import STRATEGY_FILE, LiveFakes
from fake_alpaca.server import API_KEY, SECRET_KEY, FakeAlpaca
from fake_alpaca.stream_server import FakeDataStream, FakeTradingStream
from fake_alpaca.trading_routes import attach
from fake_alpaca.waiting import wait_until

from mismartera.commands.context import AppContext
from mismartera.config.session import parse_session_config
from mismartera.config.settings import load_settings
from mismartera.system.manager import SystemManager
from mismartera.timekeeping.calendar import TimeManager

SYMBOLS = ["AAPL", "MSFT"]
SESSION = TimeManager().session(date(2024, 11, 29))
assert SESSION is not None
OPEN = int(SESSION.open.timestamp())


@dataclass
class Clock:
    t: float = OPEN + 61

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.t, UTC)


def config(quantity: int) -> Any:
    return parse_session_config({
        "session_name": "failing_broker", "mode": "live",
        "session_data_config": {"symbols": SYMBOLS},
        "strategies": [{"path": str(STRATEGY_FILE), "params": {"quantity": quantity}}],
        "trading_config": {"initial_cash": 10_000},
        "api_config": {"data_api": "alpaca", "trade_api": "alpaca_paper"},
    }, "failing_broker.json")


class Run:
    def __init__(self, fakes: LiveFakes, home: Path) -> None:
        self.fakes = fakes
        self.clock = Clock()
        self.manager = SystemManager(AppContext(load_settings(fakes.env(home))), live_now=self.clock.now)

    def seen(self) -> int:
        coordinator = self.manager.coordinator
        return len(getattr(coordinator.slots[0].strategy, "seen", [])) if coordinator is not None else 0

    def push(self, minute: int) -> float:
        self.clock.t = OPEN + 60 * (minute + 1) + 1
        pushed = time.monotonic()
        for symbol in SYMBOLS:
            self.fakes.brokerage.prices[symbol] = 100.0 + minute
            self.fakes.data_ws.push_bar(symbol, OPEN + 60 * minute, 100.0 + minute, 100.5 + minute, 99.5 + minute,
                                        100.0 + minute, 100.0)
        return pushed


def fakes_started(trade_updates: bool) -> tuple[LiveFakes, list[Any]]:
    keys = {(API_KEY, SECRET_KEY)}
    rest, data_ws, trade_ws = FakeAlpaca().start(), FakeDataStream(keys).start(), FakeTradingStream(keys).start()
    brokerage = attach(rest, FakeBrokerage(cash=50_000.0, stream=trade_ws if trade_updates else None))
    return LiveFakes(rest, brokerage, data_ws, trade_ws), [rest, data_ws, trade_ws]


def session_run(minutes: int, hang: float, pace: float, trade_updates: bool) -> tuple[list[float], list[float]]:
    """Bar delays (s) and order latencies (s, placed -> filled in the session) of one session;
    `hang` 0 is the healthy broker."""
    fakes, servers = fakes_started(trade_updates)
    try:
        if hang:
            fakes.rest.hang_route("POST", "/v2/orders", hang, times=1000)
        run = Run(fakes, Path(tempfile.mkdtemp(prefix="mm-bench-")))
        run.manager.start(config(quantity=5))
        assert fakes.data_ws.wait_listening(1, 10)
        filled: dict[str, float] = {}
        watching = threading.Event()

        def watch() -> None:   # when each order shows filled in the session
            while not watching.is_set() and len(filled) < len(SYMBOLS):
                for order in run.manager.orders()[1]:
                    if order.status == "filled":
                        filled.setdefault(order.symbol, time.monotonic())
                time.sleep(0.005)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        delays: list[float] = []
        placed = 0.0
        for minute in range(minutes):
            pushed = run.push(minute)
            expected = 2 * (minute + 1)
            while run.seen() < expected and time.monotonic() - pushed < 30:
                time.sleep(0.001)
            delays.append(time.monotonic() - pushed)
            if minute == 0:
                placed = time.monotonic()   # the strategy buys each symbol on its first bar
            time.sleep(max(0.0, pace - (time.monotonic() - pushed)))
        watcher.join(4 * (hang + 15))
        watching.set()
        run.manager.stop()
        return delays, [filled[s] - placed for s in SYMBOLS if s in filled]
    finally:
        for server in servers:
            server.stop()


def stop_in_flight(hang: float) -> tuple[float, str, str, float]:
    """Stop seconds, the order's recorded state, its state after the next start's reconcile, and
    the AAPL position the next session holds."""
    fakes, servers = fakes_started(trade_updates=False)
    try:
        fakes.rest.hang_route("POST", "/v2/orders", hang)
        fakes.rest.hang_route("GET", "/v2/orders", hang, times=1000)
        run = Run(fakes, Path(tempfile.mkdtemp(prefix="mm-bench-")))
        status = run.manager.start(config(quantity=5))
        assert fakes.data_ws.wait_listening(1, 10)
        run.push(0)
        assert wait_until(lambda: any(r.method == "POST" for r in fakes.rest.requests), 10)
        started = time.monotonic()
        run.manager.stop()
        took = time.monotonic() - started
        recorded = {o.symbol: o.status for o in run.manager.orders(run_id=status.run_id)[1]}
        fakes.rest.stop_faults()
        run.manager.start(config(quantity=0))
        wait_until(lambda: run.manager.status().account is not None, 10)
        reconciled = {o.symbol: o.status for o in run.manager.orders(run_id=status.run_id)[1]}
        held = {p.symbol: p.quantity for p in run.manager.status().account.positions}
        run.manager.stop()
        return took, f"AAPL {recorded.get('AAPL')}, MSFT {recorded.get('MSFT')}", \
            f"AAPL {reconciled.get('AAPL')}, MSFT {reconciled.get('MSFT')}", held.get("AAPL", 0.0)
    finally:
        for server in servers:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, default=6)
    parser.add_argument("--hang", type=float, default=20.0)
    parser.add_argument("--pace", type=float, default=1.0)
    args = parser.parse_args()
    runs = {
        "healthy broker": session_run(args.minutes, 0.0, args.pace, trade_updates=True),
        f"POST hung {args.hang:g} s, trade updates on": session_run(args.minutes, args.hang, args.pace, True),
        f"POST hung {args.hang:g} s, trade updates silent": session_run(args.minutes, args.hang, args.pace, False),
    }
    base = statistics.median(runs["healthy broker"][0])
    for name, (delays, latencies) in runs.items():
        print(f"{name}: bar delay median {statistics.median(delays) * 1000:.1f} ms, worst "
              f"{max(delays) * 1000:.1f} ms (median {statistics.median(delays) / base:.2f}x healthy); "
              f"order latency {', '.join(f'{x:.2f} s' for x in latencies)}")
    took, recorded, reconciled, held = stop_in_flight(args.hang)
    print(f"system stop with an order in flight (grace 10 s): {took:.2f} s; recorded: {recorded}; "
          f"after the next start's reconcile: {reconciled}; AAPL held {held:g}")


if __name__ == "__main__":
    main()
