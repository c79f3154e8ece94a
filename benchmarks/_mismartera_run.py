"""One mismartera run of the reference strategy, in a process of its own (started by compare.py).

It runs the full engine exactly as `system start --wait` does — SystemManager, prefetch, upkeep and
coordinator threads, SessionData, indicators, the built-in `sma_crossover`, SimulatedBroker, orders
and fills recorded in the database — at speed 0, then reads the stored report back. It prints one
JSON line: the bars replayed, the end-to-end seconds (from `start`, whose first job is reading the
database, until the final report, account and fills are read back), the replay-only seconds, the
peak RSS of this process, the final equity and the fills.

    python benchmarks/_mismartera_run.py HOME FIRST_DAY LAST_DAY SYMBOL,SYMBOL,... [--api] [--poll] [--dashboard]

With `--api` the process also serves the session's control API, as a shell or `serve` does (the
server thread, the discovery and token files); with `--poll` as well, a client thread asks it for
`/system/status` once a second while the backtest runs, as a dashboard in another terminal would
(the first request makes the server import FastAPI and uvicorn).

With `--dashboard` the process serves the control API and headless Chromium (Debian's, through
Selenium and tests/dashboard_browser.py) has the web dashboard open on it for the whole run: the
page is loaded and showing the idle session before `start`, and must show the finished run after.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from _peak_memory import peak_rss_mb
from sqlalchemy import func, select

from mismartera.commands.context import AppContext
from mismartera.config.session import parse_session_config
from mismartera.config.settings import load_settings
from mismartera.data import schema

FAST, SLOW, QUANTITY, CASH = 10, 30, 100, 100_000
TESTS = Path(__file__).resolve().parents[1] / "tests"


def session_config(first: str, last: str, symbols: list[str]) -> dict:
    """The reference run as a session config: SMA(10/30) crossover, 100 shares, no costs."""
    return {
        "session_name": "compare",
        "backtest_config": {"start_date": first, "end_date": last, "speed_multiplier": 0},
        "session_data_config": {"symbols": symbols, "streams": ["1m"]},
        "strategies": [{"name": "sma_crossover", "params": {"fast": FAST, "slow": SLOW, "quantity": QUANTITY}}],
        "trading_config": {"initial_cash": CASH, "commission_per_share": 0, "commission_min": 0,
                           "slippage_bps": 0, "allow_short": False},
    }


def stored_counts(ctx: AppContext, run_id: int) -> tuple[int, int]:
    """(fills, rejected orders) the run stored, counted in SQL: reading tens of thousands of rows back
    as objects would add their memory to this process's peak, which is the engine's figure."""
    with ctx.db.connect() as conn:
        fills = conn.execute(select(func.count()).select_from(schema.fills).where(schema.fills.c.run_id == run_id))
        rejected = conn.execute(select(func.count()).select_from(schema.orders).where(
            schema.orders.c.run_id == run_id, schema.orders.c.status == "rejected"))
        return fills.scalar_one(), rejected.scalar_one()


def poll_status(ctx: AppContext, done: threading.Event, polls: list[int]) -> None:
    """Ask the session's own API for its status once a second until `done`."""
    from mismartera.api.remote import RemoteSystem
    from mismartera.system import discovery

    record = discovery.read_record(ctx.settings.state_dir)
    assert record is not None, "the control API is not up"
    remote = RemoteSystem(ctx, record)
    while not done.wait(1.0):
        remote.status()
        polls.append(1)


def open_dashboard(ctx: AppContext, stack: ExitStack) -> tuple[object, Any, dict]:
    """Serve the API now and open the dashboard on it in headless Chromium; (host, driver, figures)."""
    sys.path.insert(0, str(TESTS))
    import dashboard_browser as browser

    from mismartera.api.host import SessionHost
    from mismartera.system.dashboard_link import dashboard_url

    host = SessionHost(ctx, ctx.system, "benchmark").attach()
    stack.callback(host.close)
    record = host.open()
    driver = stack.enter_context(browser.chromium())
    began = time.perf_counter()
    driver.get(dashboard_url(str(record.api_url), host.token))
    browser.wait_until(lambda: browser.text_of(driver, "state") not in ("", "—"), "the dashboard's first status")
    return host, driver, {"first_paint_ms": browser.first_paint_ms(driver),
                          "page_ready_seconds": time.perf_counter() - began}


def saw_run(driver: Any, run_id: int) -> bool:
    """The page shows the finished run (its id and state), within 10 s of the end."""
    sys.path.insert(0, str(TESTS))
    import dashboard_browser as browser

    try:
        browser.wait_until(lambda: browser.text_of(driver, "run") == f"run {run_id}"
                           and browser.text_of(driver, "state") == "STOPPED", "the finished run", timeout=10)
    except AssertionError:
        return False
    return True


def main(argv: list[str]) -> int:
    api, poll, dashboard = "--api" in argv, "--poll" in argv, "--dashboard" in argv
    home, first, last, names = [a for a in argv if a not in ("--api", "--poll", "--dashboard")]
    symbols = names.split(",")
    config = parse_session_config(session_config(first, last, symbols))
    ctx = AppContext(load_settings({"MISMARTERA_HOME": home}))
    host, done, polls = None, threading.Event(), []
    poller = threading.Thread(target=poll_status, args=(ctx, done, polls), name="status-poller", daemon=True)
    stack = ExitStack()
    driver, page, seen = None, {}, None
    load = os.getloadavg()[0]
    try:
        if dashboard:
            _host, driver, page = open_dashboard(ctx, stack)
        began, cpu_began = time.perf_counter(), time.process_time()
        if api:
            from mismartera.api.host import SessionHost

            host = SessionHost(ctx, ctx.system, "benchmark").attach()
        ctx.system.start(config)
        if api and poll:
            poller.start()
        status = ctx.system.wait()
        info, _days = ctx.system.report(status.run_id)
        _, account = ctx.system.account(status.run_id)
        ended, cpu_ended = time.perf_counter(), time.process_time()
        replay = ctx.system.coordinator.run_seconds
        fills, rejected = stored_counts(ctx, status.run_id)
        if driver is not None:
            seen = saw_run(driver, status.run_id)
    finally:
        stack.close()
        done.set()
        if poller.is_alive():
            poller.join(5.0)
        if host is not None:
            host.close()
        ctx.close()
    print(json.dumps({
        "bars": status.bars_done,
        "seconds": ended - began,
        "cpu_seconds": cpu_ended - cpu_began,   # every thread's: steadier than wall time on a busy machine
        "run_seconds": replay,
        "rss_mb": peak_rss_mb(),
        "equity": account.equity,
        "report_equity": info.summary.get("final_equity") if info.summary else None,
        "fills": fills,
        "rejected": rejected,
        "state": status.state.value,
        "api": api,
        "status_polls": len(polls),
        "dashboard": dashboard,
        "dashboard_saw_run": seen,
        "load": load,
        **page,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
