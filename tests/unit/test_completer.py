"""Tab completion from the registry: names, options, and values (choices, symbols, configs, dates)."""

from __future__ import annotations

import threading
import time
from datetime import date
from pathlib import Path

from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

from mismartera.cli.completer import CompletionData, ShellCompleter, Snapshot, load_from_store
from mismartera.commands import load_all
from mismartera.commands.registry import Arg, Command, Option, Registry


def complete(completer: ShellCompleter, text: str) -> list[str]:
    """The word under the cursor after applying each completion."""
    event = CompleteEvent(completion_requested=True)
    applied = [text[:len(text) + c.start_position] + c.text
               for c in completer.get_completions(Document(text, len(text)), event)]
    return [line.split(" ")[-1] for line in applied]


def private_registry() -> Registry:
    registry = Registry()
    registry.add_group("data", "bars")
    registry.add_group("", "general")
    noop = lambda ctx, **kw: None  # noqa: E731
    registry.add(Command("data", "show", "show bars", noop, json=True,
                         args=(Arg("symbol", "a symbol", complete="symbol"),
                               Option("interval", "bar interval", complete="interval", default="1m"),
                               Option("start", "first day", type=date),
                               Option("side", "side", choices=("buy", "sell")),
                               Option("raw", "no formatting", type=bool))))
    registry.add(Command("data", "import-file", "import", noop, args=(Arg("file", "csv", complete="file"),)))
    registry.add(Command("data", "run", "run a config", noop, args=(Arg("config", "cfg", complete="config"),)))
    registry.add(Command("", "help", "help", noop, args=(Arg("topic", "t", multiple=True, complete="command"),)))
    return registry


def test_first_word_offers_groups_and_general_commands() -> None:
    completer = ShellCompleter(load_all())
    assert complete(completer, "sys") == ["system"]
    assert "time" in complete(completer, "") and "help" in complete(completer, "")
    assert set(complete(completer, "q")) == {"quit"}


def test_commands_of_a_group() -> None:
    completer = ShellCompleter(load_all())
    assert complete(completer, "time se") == ["session"]
    assert set(complete(completer, "system st")) >= {"start", "stop", "status"}


def test_options_not_yet_used_and_json() -> None:
    completer = ShellCompleter(private_registry())
    assert complete(completer, "data show AAPL --") == ["--interval", "--start", "--side", "--raw", "--json"]
    assert complete(completer, "data show AAPL --raw --r") == []
    assert complete(completer, "data show AAPL --json --j") == []


def test_values_by_kind() -> None:
    data = CompletionData()
    data.current = Snapshot(("AAPL", "AMD", "MSFT"), date(2024, 11, 25), date(2024, 11, 29))
    completer = ShellCompleter(private_registry(), data, today=lambda: date(2024, 12, 4))
    assert complete(completer, "data show a") == ["AAPL", "AMD"]
    assert complete(completer, "data show AAPL --interval 1") == ["1m", "15m", "1h", "1d"]
    assert complete(completer, "data show AAPL --side S") == ["sell"]
    days = complete(completer, "data show AAPL --start 2024-11")
    assert days[:2] == ["2024-11-29", "2024-11-25"] and "2024-11-30" not in days  # weekends left out
    assert complete(completer, "data show AAPL --start 2024-12-0")[0] == "2024-12-04"
    # after an option's value, the next positional is completed again
    assert complete(completer, "data show --interval 5m M") == ["MSFT"]


def test_config_files_then_paths(tmp_path: Path) -> None:
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "example.json").write_text("{}")
    (folder / "notes.txt").write_text("")
    completer = ShellCompleter(private_registry(), config_dirs=[folder])
    assert complete(completer, "data run ") == [str(folder / "example.json")]
    (tmp_path / "bars.csv").write_text("")
    assert complete(completer, f"data import-file {tmp_path}/ba") == [f"{tmp_path}/bars.csv"]


def test_help_topics() -> None:
    completer = ShellCompleter(private_registry())
    assert complete(completer, "help d") == ["data"]
    assert complete(completer, "help data im") == ["import-file"]


def test_refresh_runs_in_a_named_background_thread_and_survives_errors() -> None:
    calls: list[str] = []

    def load() -> Snapshot:
        calls.append(threading.current_thread().name)
        if len(calls) == 1:
            raise RuntimeError("database is locked")
        return Snapshot(("SPY",))

    data = CompletionData(load)
    data.start(interval=60)
    data.request()  # the first load fails; the requested second one fills the cache
    deadline = time.monotonic() + 5
    while data.current.symbols != ("SPY",) and time.monotonic() < deadline:
        data.request()
        time.sleep(0.02)
    data.stop()
    assert data.current.symbols == ("SPY",)
    assert set(calls) == {"completion-refresh"}


def test_load_from_store_reads_symbols_and_the_stored_range(database) -> None:
    from mismartera.data.bar_store import BarStore

    store = BarStore(database)
    store.upsert("MSFT", "1m", [(1732545000, 1, 1, 1, 1, 1, 1, 1)])
    store.upsert("AAPL", "1m", [(1732890600, 1, 1, 1, 1, 1, 1, 1)])
    from datetime import UTC, datetime

    from mismartera.data.schema import runs

    with database.begin() as conn:
        for name in ("example", "demo"):
            conn.execute(runs.insert().values(session_name=name, mode="backtest", config={}, state="finished",
                                              started_at=datetime(2024, 12, 1, tzinfo=UTC)))
    snapshot = load_from_store(lambda: store)()
    assert snapshot.symbols == ("AAPL", "MSFT")
    assert (snapshot.first_day, snapshot.last_day) == (date(2024, 11, 25), date(2024, 11, 29))
    assert [meta for _, meta in snapshot.runs] == ["demo finished", "example finished"]  # newest first


def test_run_ids_and_open_orders() -> None:
    from datetime import UTC, datetime

    from mismartera.system.state import SystemState
    from mismartera.system.status import OrderView, SystemStatus

    registry = Registry()
    registry.add_group("order", "orders")
    registry.add_group("system", "session")
    noop = lambda ctx, **kw: None  # noqa: E731
    registry.add(Command("order", "cancel", "cancel", noop, args=(Arg("order_id", "id", type=int, complete="order"),)))
    registry.add(Command("system", "report", "report", noop, args=(Arg("run_id", "run", type=int, complete="run"),)))
    at = datetime(2024, 11, 29, 15, tzinfo=UTC)
    orders = (OrderView(12, "AAPL", "buy", 10, "limit", 180.0, None, "gtc", "new", 0, None, at),
              OrderView(13, "AAPL", "sell", 10, "market", None, None, "day", "filled", 10, 181.0, at),
              OrderView(21, "MSFT", "buy", 5, "stop", None, 420.0, "day", "partially_filled", 2, 419.0, at),
              OrderView(22, "MSFT", "buy", 5, "stop", None, 420.0, "day", "expired", 0, None, at))
    data = CompletionData()
    data.current = Snapshot(runs=(("12", "demo finished"), ("3", "example stopped")))
    completer = ShellCompleter(registry, data,
                               status=lambda: SystemStatus(SystemState.RUNNING, recent_orders=orders))
    assert complete(completer, "order cancel ") == ["12", "21"]  # open ones only
    assert complete(completer, "order cancel 2") == ["21"]
    assert complete(completer, "system report 1") == ["12"]
    assert complete(ShellCompleter(registry, data), "order cancel ") == []  # no session


def test_refresh_requests_are_throttled_unless_forced() -> None:
    loads: list[float] = []
    data = CompletionData(lambda: loads.append(time.monotonic()) or Snapshot(("SPY",)))
    data.start(interval=60)
    deadline = time.monotonic() + 5
    while not loads and time.monotonic() < deadline:
        time.sleep(0.01)
    data.request(older_than=60)  # fresh values: no reload
    time.sleep(0.2)
    assert len(loads) == 1
    data.request()  # forced (after a `data` command)
    while len(loads) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    data.stop()
    assert len(loads) == 2


def test_order_statuses_offered_are_those_account_orders_takes() -> None:
    """Issue 11: the completer and `account orders` read one list of statuses (execution/orders.py)."""
    from mismartera.execution.orders import OPEN_ORDER_STATUSES, ORDER_STATUS_FILTERS, OrderStatus

    completer = ShellCompleter(load_all(), CompletionData())
    offered = complete(completer, "account orders --status ")
    assert offered == list(ORDER_STATUS_FILTERS)
    assert set(offered) == {"open"} | {status.value for status in OrderStatus}
    assert set(OPEN_ORDER_STATUSES) == {"new", "partially_filled", "pending_new", "unknown"}


def test_gh12_strategy_names_complete_from_builtins_and_the_strategies_folder(tmp_path: Path,
                                                                             monkeypatch) -> None:
    (tmp_path / "strategies").mkdir()
    (tmp_path / "strategies" / "my_dip.py").write_text("raise SystemExit('completion must not import this')\n")
    monkeypatch.chdir(tmp_path)
    completer = ShellCompleter(load_all())
    assert complete(completer, "strategy show ") == ["sma_crossover", "rsi_reversion", "my_dip"]
    assert complete(completer, "strategy show r") == ["rsi_reversion"]
