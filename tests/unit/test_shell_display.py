"""The toolbar line and the `system watch` dashboard, rendered from constructed SystemStatus
snapshots at a fixed width; secret masking for history, logs and script echo."""

from __future__ import annotations

import io
import logging
from datetime import UTC, date, datetime
from pathlib import Path

from rich.console import Console

from mismartera.cli.dashboard import dashboard
from mismartera.cli.history import MaskedFileHistory, read_history
from mismartera.cli.logs import RedactSecrets
from mismartera.cli.redact import Redactor
from mismartera.cli.toolbar import summary_line, summary_parts, toolbar_fragments
from mismartera.commands.context import AppContext
from mismartera.config.settings import load_settings
from mismartera.system.state import SystemState
from mismartera.system.status import AccountView, FillView, OrderView, PositionView, SystemStatus, WorkerStatus

NOW = 1_700_000_000.0
CLOCK = datetime(2024, 11, 27, 15, 31, tzinfo=UTC)  # 10:31 ET


def running_status(**changes) -> SystemStatus:
    account = AccountView(initial_cash=100_000, cash=80_000, equity=101_234.5, buying_power=80_000,
                          realized_pnl=900.0, unrealized_pnl=334.5,
                          positions=(PositionView("AAPL", 100, 230.0, 233.345, 23_334.5, 334.5, 0.0),))
    orders = (OrderView(7, "AAPL", "buy", 100, "market", None, None, "day", "filled", 100, 230.0, CLOCK),
              OrderView(8, "MSFT", "buy", 500, "market", None, None, "day", "rejected", 0, None, CLOCK,
                        reason="max_per_trade"))
    fills = (FillView(7, "AAPL", "buy", 100, 230.0, 1.0, CLOCK),)
    workers = (WorkerStatus("prefetch", "waiting", NOW - 2.0, 3, 0.5, "2024-11-28", detail="holds 1 day(s)"),
               WorkerStatus("coordinator", "running", NOW - 0.2, 1234, 8123.0, "2024-11-27 10:31 AAPL"),
               WorkerStatus("upkeep", "running", NOW - 0.4, 2, 1.0, "", last_error="gap at 10:05 MSFT"))
    values = dict(state=SystemState.RUNNING, mode="backtest", session_name="example", run_id=3, clock=CLOCK,
                  day=date(2024, 11, 27), day_index=3, days_total=4, progress=0.625, bars_done=1234,
                  bars_per_second=8123.0, account=account, open_orders=0, recent_orders=orders,
                  recent_fills=fills, workers=workers, message="replaying")
    values.update(changes)
    return SystemStatus(**values)


def render(renderable, width: int = 110) -> str:
    console = Console(file=io.StringIO(), width=width, color_system=None, force_terminal=False)
    console.print(renderable)
    return console.file.getvalue()


def test_toolbar_without_an_engine_says_stopped_and_creates_none() -> None:
    ctx = AppContext(load_settings({"MISMARTERA_HOME": "/nonexistent/mm"}))
    fragments = toolbar_fragments(ctx, width=100)
    assert fragments[0][1].strip() == "stopped"
    assert "no session" in fragments[1][1]
    assert not ctx.has_system()


def test_toolbar_summary_of_a_running_backtest() -> None:
    parts = summary_parts(running_status())
    assert parts == ["backtest example", "2024-11-27 10:31:00 ET", "day 3/4", "62%", "8,123 bars/s",
                     "equity 101,234.50 (+1,234.50)", "replaying"]
    assert summary_line(running_status()).startswith("running │ backtest example │")


def test_toolbar_shows_the_failure_and_fits_the_width() -> None:
    failed = running_status(state=SystemState.FAILED, error="ZeroDivisionError: boom", error_worker="coordinator")
    assert summary_parts(failed)[-1] == "error coordinator: ZeroDivisionError: boom"

    class Engine:
        def status(self) -> SystemStatus:
            return failed

    ctx = AppContext(load_settings({"MISMARTERA_HOME": "/nonexistent/mm"}))
    ctx.set_system(Engine())
    fragments = toolbar_fragments(ctx, width=60)
    assert fragments[0][1] == " failed " and "#af0000" in fragments[0][0]
    assert len(fragments[0][1] + fragments[1][1]) <= 60 and fragments[1][1].endswith("…")


def test_toolbar_survives_a_broken_engine() -> None:
    class Broken:
        def status(self) -> SystemStatus:
            raise RuntimeError("half-built")

    ctx = AppContext(load_settings({"MISMARTERA_HOME": "/nonexistent/mm"}))
    ctx.set_system(Broken())
    assert "status unavailable" in toolbar_fragments(ctx)[0][1]


def test_dashboard_shows_header_workers_account_orders_and_fills() -> None:
    text = render(dashboard(running_status(), now=NOW, footer="q to leave"))
    assert "running" in text and "backtest example" in text and "2024-11-27 10:31:00 ET" in text
    assert "day 3/4 (2024-11-27)" in text and "62.5%" in text and "8,123 bars/s" in text
    # one panel per worker, in pipeline order, with heartbeat age, rate, current item and last error
    assert text.index("coordinator") < text.index("upkeep") < text.index("prefetch")
    assert "0.2s ago" in text and "8,123.0/s" in text and "2024-11-27 10:31 AAPL" in text
    assert "gap at 10:05 MSFT" in text
    assert "101,234.50" in text and "+1,234.50" in text and "AAPL" in text and "233.34" in text
    assert "rejected (max_per_trade)" in text and "filled" in text
    assert "q to leave" in text
    assert max(len(line) for line in text.splitlines()) <= 110


def test_dashboard_of_a_fresh_system_and_a_narrow_terminal() -> None:
    text = render(dashboard(SystemStatus(state=SystemState.STOPPED), now=NOW), width=60)
    assert "stopped" in text and "no session" in text and "no workers running" in text
    assert "no account yet" in text and "no orders yet" in text
    assert max(len(line) for line in text.splitlines()) <= 60


def test_dashboard_error_line_in_the_header() -> None:
    failed = running_status(state=SystemState.FAILED, error="boom", error_worker="coordinator")
    assert "error: coordinator: boom" in render(dashboard(failed, now=NOW))


def test_redactor_masks_shapes_and_known_values() -> None:
    redact = Redactor(["PKSECRETVALUE1", "abc"])
    assert redact("alpaca login --api-key PKX123 --secret-key=S3cr3t") == \
        "alpaca login --api-key *** --secret-key=***"
    assert redact("ALPACA_SECRET_KEY=hunter2 TOKEN: xyz") == "ALPACA_SECRET_KEY=*** TOKEN: ***"
    assert redact("key is PKSECRETVALUE1 ok") == "key is *** ok"
    assert redact("postgresql+psycopg://me:pw@db/x") == "postgresql+psycopg://me:***@db/x"
    assert redact("system start config/example_session.json --speed 60") == \
        "system start config/example_session.json --speed 60"
    assert redact("abc stays (too short to be a key)") == "abc stays (too short to be a key)"


def test_history_file_never_holds_a_secret(tmp_path: Path) -> None:
    path = tmp_path / "state" / "history"
    history = MaskedFileHistory(path, Redactor(["PKLIVEKEY999"]).mask)
    history.append_string("config show")
    history.append_string("data fetch AAPL --api-key=PKLIVEKEY999")
    history.append_string("echo PKLIVEKEY999 password=swordfish")
    text = path.read_text()
    assert "PKLIVEKEY999" not in text and "swordfish" not in text
    assert read_history(path) == ["config show", "data fetch AAPL --api-key=***", "echo *** password=***"]
    assert list(history.get_strings())[-1] == "echo *** password=***"  # what Up-arrow and Ctrl-R find


def test_log_records_are_masked(tmp_path: Path) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactSecrets(["PKLIVEKEY999"]))
    logger = logging.getLogger("mismartera.test.redact")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("connecting with %s and secret_key=%s", "PKLIVEKEY999", "zzz")
    finally:
        logger.removeHandler(handler)
    assert stream.getvalue().strip() == "connecting with *** and secret_key=***"


def test_toolbar_reads_the_status_at_most_every_max_age() -> None:
    from mismartera.cli.toolbar import Toolbar

    class Counting:
        calls = 0

        def status(self) -> SystemStatus:
            Counting.calls += 1
            return running_status()

    ctx = AppContext(load_settings({"MISMARTERA_HOME": "/nonexistent/mm"}))
    ctx.set_system(Counting())
    toolbar = Toolbar(ctx, max_age=60)
    for _ in range(50):  # fifty keystrokes, fifty redraws
        fragments = toolbar()
    assert Counting.calls == 1 and fragments[0][1] == " running "
    assert Toolbar(ctx, max_age=0)()[0][1] == " running " and Counting.calls == 2


def test_only_warnings_reach_the_screen_one_line_each(capsys) -> None:
    from mismartera.cli.logs import ConsoleHandler

    logger = logging.getLogger("mismartera.test.console")
    logger.propagate = False
    handler = ConsoleHandler()
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        logger.info("routine")
        logger.warning("prefetch is behind\nsecond line stays in the file")
        logger.error("internal error with traceback", extra={"console": False})
    finally:
        logger.removeHandler(handler)
    assert capsys.readouterr().err == "warning: prefetch is behind\n"


def test_alpaca_pys_own_log_lines_stay_in_the_file(capsys) -> None:
    """Issue 20, point 6: alpaca-py logs its websocket errors (with tracebacks) itself; only the
    adapter's one line reaches the screen."""
    from mismartera.cli.logs import ConsoleHandler

    handler = ConsoleHandler()
    for name in ("alpaca.data.live.websocket", "alpaca", "mismartera.integrations.alpaca.stream"):
        record = logging.LogRecord(name, logging.ERROR, __file__, 1, "error: auth failed (402)", None, None)
        handler.emit(record)
    assert capsys.readouterr().err == "error: error: auth failed (402)\n"


def test_ratio_format_has_two_decimals() -> None:
    from mismartera.cli.render import format_value

    assert format_value(-14.314612, "ratio") == "-14.31"


def test_gh12_toolbar_at_80_columns_drops_the_least_important_fields_first() -> None:
    class Engine:
        def __init__(self, status: SystemStatus) -> None:
            self.snapshot = status

        def status(self) -> SystemStatus:
            return self.snapshot

    ctx = AppContext(load_settings({"MISMARTERA_HOME": "/nonexistent/mm"}))
    ctx.set_system(Engine(running_status()))
    state, text = (part for _, part in toolbar_fragments(ctx, width=80))
    line = state + text
    assert len(line) <= 80 and "…" not in line
    assert "equity 101,234.50 (+1,234.50)" in line and "2024-11-27 10:31:00 ET" in line and "day 3/4" in line
    assert "bars/s" not in line and "backtest example" not in line and "replaying" not in line
    wide = "".join(part for _, part in toolbar_fragments(ctx, width=200))
    assert "8,123 bars/s" in wide and "backtest example" in wide
    narrow = "".join(part for _, part in toolbar_fragments(ctx, width=45))
    assert len(narrow) <= 45 and "equity 101,234.50 (+1,234.50)" in narrow
