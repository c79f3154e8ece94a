"""The interactive shell, driven in a pseudo-terminal: pexpect runs the real program, pyte keeps the
screen as a terminal would show it, and the assertions read that screen."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pexpect
import pyte
import pytest

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
PROMPT = "system@mismartera>"


class Terminal:
    """The real `mismartera` in a pty of fixed size, with its screen emulated."""

    def __init__(self, home: Path, *, rows: int = 30, cols: int = 120, env: dict[str, str] | None = None,
                 cwd: Path = ROOT) -> None:
        self.rows, self.cols = rows, cols
        self.screen = pyte.Screen(cols, rows)
        self.stream = pyte.Stream(self.screen)
        self.raw: list[str] = []
        full_env = {k: v for k, v in os.environ.items() if not k.startswith(("ALPACA_", "MISMARTERA_"))}
        full_env.update({"MISMARTERA_HOME": str(home), "PROMPT_TOOLKIT_NO_CPR": "1", "TERM": "xterm",
                         "LINES": str(rows), "COLUMNS": str(cols)})
        full_env.pop("NO_COLOR", None)
        full_env.update(env or {})
        self.child = pexpect.spawn(sys.executable, ["-m", "mismartera"], env=full_env, cwd=str(cwd),
                                   dimensions=(rows, cols), encoding="utf-8", codec_errors="replace")

    # ------------------------------------------------------------------ reading the screen
    def pump(self, wait: float = 0.05) -> None:
        while True:
            try:
                data = self.child.read_nonblocking(65536, timeout=wait)
            except pexpect.TIMEOUT:
                return
            except pexpect.EOF:
                return
            self.raw.append(data)
            self.stream.feed(data)
            wait = 0.01

    @property
    def text(self) -> str:
        return "\n".join(line.rstrip() for line in self.screen.display)

    def wait_for(self, what: str | Callable[[str], bool], timeout: float = 15.0) -> str:
        check = what if callable(what) else (lambda text: what in text)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.pump()
            if check(self.text):
                return self.text
            if not self.child.isalive():
                self.pump()
                if check(self.text):
                    return self.text
                break
        raise AssertionError(f"expected {what!r} on the screen within {timeout}s\n"
                             f"--- screen\n{self.text}\n--- raw tail\n{''.join(self.raw)[-1500:]!r}")

    def prompt_line(self) -> str:
        """The last screen line holding the prompt."""
        lines = [line for line in self.text.splitlines() if line.startswith(PROMPT)]
        return lines[-1] if lines else ""

    def wait_prompt(self, timeout: float = 15.0) -> None:
        self.wait_for(lambda text: self.prompt_line().rstrip() == PROMPT, timeout)

    # ------------------------------------------------------------------ typing
    def send(self, text: str) -> None:
        self.child.send(text)

    def line(self, text: str) -> None:
        self.child.send(text + "\r")

    def control(self, key: str) -> None:
        self.child.sendcontrol(key)

    def wait_exit(self, timeout: float = 20.0) -> int:
        deadline = time.monotonic() + timeout
        while self.child.isalive() and time.monotonic() < deadline:
            self.pump(0.1)
        self.pump()
        assert not self.child.isalive(), f"still running\n{self.text}"
        self.child.close()
        return self.child.exitstatus if self.child.exitstatus is not None else 128 + (self.child.signalstatus or 0)

    def close(self) -> None:
        if self.child.isalive():
            self.child.terminate(force=True)


@pytest.fixture
def terminal(cli_home: Path) -> Iterator[Callable[..., Terminal]]:
    started: list[Terminal] = []

    def start(**kwargs) -> Terminal:
        term = Terminal(cli_home, **kwargs)
        started.append(term)
        term.wait_prompt()
        return term

    yield start
    for term in started:
        term.close()


def seed_bar(home: Path, symbol: str) -> None:
    """One stored bar, written through BarStore into the test's home database."""
    from mismartera.data.bar_store import BarStore
    from mismartera.data.database import Database

    db = Database(f"sqlite:///{home / 'data' / 'mismartera.db'}")
    (home / "data").mkdir(parents=True, exist_ok=True)
    try:
        BarStore(db).upsert(symbol, "1m", [(1732890600, 1.0, 2.0, 0.5, 1.5, 100.0, 3, 1.2)])
    finally:
        db.dispose()


def test_prompt_and_toolbar_appear(terminal) -> None:
    term = terminal()
    assert term.prompt_line().rstrip() == PROMPT
    term.wait_for("stopped")
    assert "no session" in term.text


def test_tab_completes_a_group_a_command_and_a_stored_symbol(terminal, cli_home: Path) -> None:
    seed_bar(cli_home, "ZZTOP")
    term = terminal()
    term.send("sys\t")
    term.wait_for(lambda text: term.prompt_line().startswith(f"{PROMPT} system"))
    term.send(" wat\t")
    term.wait_for(lambda text: term.prompt_line().startswith(f"{PROMPT} system watch"))
    term.control("c")
    term.wait_prompt()
    term.send("time sess\t")
    term.wait_for(lambda text: term.prompt_line().startswith(f"{PROMPT} time session"))
    term.control("c")
    term.wait_prompt()
    # a command whose argument completes symbols: find one in the registry rather than assume its name
    from mismartera.commands import load_all

    with_symbol = [c for c in load_all().unique()
                   if [a.complete for a in c.args if a.positional][:1] == ["symbol"]]
    if not with_symbol:
        pytest.skip("no command takes a symbol yet")
    path = with_symbol[0].path
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the symbol cache fills in a background thread
        term.send(f"{path} ZZ\t")
        try:
            term.wait_for(lambda text: "ZZTOP" in term.prompt_line(), timeout=1.5)
            break
        except AssertionError:
            term.control("c")
            term.wait_prompt()
    assert "ZZTOP" in term.prompt_line()
    term.control("c")


def test_ctrl_c_on_an_empty_line_does_not_exit(terminal) -> None:
    term = terminal()
    term.control("c")
    term.control("c")
    term.line("help time")
    term.wait_for("time days")
    assert term.child.isalive()


def test_unknown_command_suggests_and_does_not_run(terminal) -> None:
    term = terminal()
    term.line("tme sesion 2024-11-29")
    term.wait_for("unknown command 'tme sesion' — did you mean 'time session'?")
    assert "early close" not in term.text
    term.wait_prompt()


def test_history_survives_a_restart_and_exit_leaves(terminal) -> None:
    first = terminal()
    first.line("time session 2024-11-29")
    first.wait_for("early close")
    first.wait_prompt()
    first.line("exit")
    assert first.wait_exit() == 0
    second = terminal()
    second.control("p")  # previous history entries: `exit`, then the command
    second.wait_for(lambda text: second.prompt_line().startswith(f"{PROMPT} exit"))
    second.control("p")
    second.wait_for(lambda text: second.prompt_line().startswith(f"{PROMPT} time session 2024-11-29"))
    second.control("c")
    second.line("history 5")
    second.wait_for(lambda text: "history 5" in text and "exit" in text and second.prompt_line().rstrip() == PROMPT)
    second.control("d")
    assert second.wait_exit() == 0


def test_ctrl_r_searches_history(terminal) -> None:
    first = terminal()
    first.line("time holidays 2025")
    first.wait_for("Thanksgiving")
    first.line("quit")
    first.wait_exit()
    second = terminal()
    second.control("r")
    second.send("holid")
    second.wait_for("time holidays 2025")
    second.send("\r")  # accept the match
    second.send("\r")  # run it
    second.wait_for("Thanksgiving")
    second.wait_prompt()
    second.control("d")
    assert second.wait_exit() == 0


def test_running_session_in_the_toolbar_then_exit_asks_and_stops_it(terminal, example_bars: Path) -> None:
    term = terminal()
    term.line("system start config/example_session.json --speed 60")
    term.wait_for("session example started")
    # The toolbar says running (its first refresh may come before day 1 begins, so wait for that too)
    term.wait_for(lambda text: any(line.lstrip().startswith("running") and "day 1/4" in line
                                   for line in text.splitlines()))
    term.line("exit")
    term.wait_for("A session 'example' is running. Stop it and leave? [y/N]")
    term.line("n")
    term.wait_for("the session keeps running")
    term.wait_prompt()
    term.line("quit")
    term.wait_for(lambda text: text.count("Stop it and leave?") == 2)
    term.line("y")
    assert term.wait_exit() == 0
    assert "session stopped │ backtest example" in term.text


def test_watch_shows_panels_and_q_restores_the_terminal(terminal, example_bars: Path) -> None:
    term = terminal()
    term.line("system start config/example_session.json --speed 60")
    term.wait_for("session example started")
    term.wait_prompt()
    term.line("system watch")
    term.wait_for(lambda text: all(name in text for name in ("coordinator", "upkeep", "prefetch", "account",
                                                             "orders and fills", "q, Esc or Ctrl-C")))
    assert term.screen.cursor.hidden
    term.send("q")
    term.wait_prompt()
    assert not term.screen.cursor.hidden
    assert "╭─ coordinator" not in term.text and "q, Esc or Ctrl-C" not in term.text  # no leftover frame
    term.line("time session 2024-11-29")  # the prompt still works
    term.wait_for("early close")
    term.wait_prompt()
    term.line("system watch")  # Esc leaves too
    term.wait_for("q, Esc or Ctrl-C")
    term.send("\x1b")
    term.wait_prompt()
    term.line("system watch")  # and Ctrl-C, without leaving the shell
    term.wait_for("q, Esc or Ctrl-C")
    term.control("c")
    term.wait_prompt()
    assert term.child.isalive() and not term.screen.cursor.hidden
    term.line("system stop")
    term.wait_for("stopped (run")


def test_watch_keeps_the_final_frame_when_the_session_ends(terminal, example_bars: Path) -> None:
    term = terminal(rows=40)
    term.line("system start config/example_session.json --speed 30000")
    term.wait_for("session example started")
    term.wait_prompt()
    term.line("system watch")
    term.wait_for("'system report' shows the results", timeout=60)
    term.wait_prompt()
    assert "╭─ coordinator" in term.text and "day 4/4" in term.text
    assert "q, Esc or Ctrl-C" not in term.text


def test_ctrl_c_interrupts_a_blocking_command_without_leaving(terminal, example_bars: Path) -> None:
    term = terminal()
    term.line("system start config/example_session.json --speed 60")
    term.wait_for("session example started")
    term.wait_prompt()
    term.line("system wait")
    time.sleep(1.0)
    term.control("c")
    term.wait_for("Error: interrupted")
    term.wait_prompt()
    term.line("system status")
    term.wait_for("Open orders")
    term.wait_prompt()
    term.line("system stop")
    term.wait_for("stopped (run")


def test_secrets_stay_out_of_the_history_file_and_the_screen(terminal, cli_home: Path) -> None:
    key = "PKSHELLKEY4242"
    term = terminal(env={"ALPACA_API_KEY": key, "ALPACA_SECRET_KEY": "shellsecret77"})
    term.line(f"log-level {key}")
    term.wait_for("is not one of")
    term.wait_prompt()
    term.line("time session 2024-11-29 --secret-key=shellsecret77")
    term.wait_for("unknown option")
    term.wait_prompt()
    term.line("quit")
    assert term.wait_exit() == 0
    history = (cli_home / "state" / "history").read_text()
    assert "log-level ***" in history and "--secret-key=***" in history
    # what is on the screen (the typed lines are redrawn masked), in the history file and in the log
    shown = term.text + history + (cli_home / "state" / "mismartera.log").read_text()
    assert "system@mismartera> log-level ***" in term.text
    assert key not in shown and "shellsecret77" not in shown


def test_sigterm_leaves_the_shell_and_stops_the_session(terminal, example_bars: Path) -> None:
    term = terminal()
    term.line("system start config/example_session.json --speed 60")
    term.wait_for("session example started")
    term.wait_prompt()
    term.child.kill(15)
    assert term.wait_exit() == 130
    assert "session stopped" in term.text


def test_prompt_appears_before_pandas_exchange_calendars_or_alpaca_load(cli_home: Path, tmp_path: Path) -> None:
    """Traced with -X importtime (stderr to a file): nothing heavy is imported by the time the prompt
    is drawn (nor the control API's FastAPI and uvicorn, which a server imports when its first client
    comes); the calendar loads in the background afterwards."""
    trace = tmp_path / "imports.txt"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALPACA_", "MISMARTERA_"))}
    env.update({"MISMARTERA_HOME": str(cli_home), "PROMPT_TOOLKIT_NO_CPR": "1", "TERM": "xterm"})
    child = pexpect.spawn("/bin/sh", ["-c", f"exec {sys.executable} -X importtime -m mismartera 2>{trace}"],
                          env=env, cwd=str(ROOT), dimensions=(30, 120), encoding="utf-8", timeout=20)
    try:
        child.expect_exact(PROMPT)
        imported = trace.read_text()
        child.sendcontrol("d")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    top = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in imported.splitlines() if "|" in line}
    assert "prompt_toolkit" in top and "mismartera" in top
    heavy = {"pandas", "exchange_calendars", "alpaca", "numpy", "typer", "fastapi", "uvicorn", "starlette"}
    assert top & heavy == set()


def test_run_a_script_from_the_shell_then_clear(terminal, tmp_path: Path) -> None:
    script = tmp_path / "day.msh"
    script.write_text("# from the shell\ntime session $DAY\nexit\ntime holidays 2025\n")
    term = terminal()
    term.line(f"run {script} --var DAY=2024-11-29")
    term.wait_for("early close")
    term.wait_prompt()
    assert "system@mismartera> time session 2024-11-29" in term.text  # echoed like a script
    assert "Thanksgiving" not in term.text  # `exit` ended the script ...
    assert term.child.isalive()  # ... not the shell
    term.line("clear")
    term.wait_for(lambda text: "early close" not in text and term.prompt_line().rstrip() == PROMPT)


def test_a_worker_error_prints_one_line_above_the_prompt_and_keeps_the_typed_text(
        terminal, example_bars: Path, tmp_path: Path) -> None:
    strategy = tmp_path / "boom.py"
    strategy.write_text("from mismartera.strategies.base import Strategy\n\n\n"
                        "class Boom(Strategy):\n"
                        "    name = 'boom'\n\n"
                        "    def on_bar(self, ctx, bar):\n"
                        "        raise ZeroDivisionError('boom at ' + bar.symbol)\n")
    config = json.loads((ROOT / "config" / "example_session.json").read_text())
    config["strategies"] = [{"path": str(strategy)}]
    config["backtest_config"]["speed_multiplier"] = 30
    path = tmp_path / "boom.json"
    path.write_text(json.dumps(config))
    term = terminal()
    term.line(f"system start {path}")
    term.wait_for("session example started")
    term.wait_prompt()
    term.send("time sess")  # typing while the worker fails
    screen = term.wait_for("ZeroDivisionError: boom at", timeout=30)
    errors = [line for line in screen.splitlines() if "raised in on_bar" in line]
    assert len(errors) == 1 and errors[0].startswith("error: strategy boom raised in on_bar")
    assert "Traceback" not in screen
    term.wait_for(lambda text: term.prompt_line() == f"{PROMPT} time sess")
    term.send("ion 2024-11-29\r")
    term.wait_for("early close")
    term.line("system stop")
    term.wait_for("stopped (run")
