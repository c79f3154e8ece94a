"""Issue 14, point 5, through the real program: nothing can hang the process.

- a strategy stuck in `on_bar` fails a one-shot `system start --wait` with its name and file:line;
- SIGTERM, SIGHUP and a second Ctrl-C end a one-shot command within 15 s (exit 130), even with a
  strategy spinning forever, and never leave the run `running` or `stopping`;
- an interrupt 0, 10 or 50 ms into a stop never wedges the state machine, one-shot or in the shell;
- the shell leaves on SIGHUP (a closed terminal) and stops its session as `system stop` does;
- after a stuck strategy the shell warns and offers to restart itself before the next `system start`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from test_shell_repl import PROMPT, Terminal

from mismartera.commands.context import AppContext
from mismartera.config.settings import load_settings
from mismartera.errors import NotFound
from mismartera.system.runs import RunHistory

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = "config/example_session.json"

SPIN = '''
from mismartera.strategies import Strategy

class Spin(Strategy):
    name = "spin"
    def on_start(self, ctx):
        self.n = 0
    def on_bar(self, ctx, bar):
        self.n += 1
        if self.n == 1000:
            while True:   # spins here
                pass
'''


def spin_config(tmp_path: Path, timeout: float) -> tuple[Path, int]:
    """A config whose strategy spins forever at its 1000th bar (day 2); the spinning line's number."""
    strategy = tmp_path / "spin.py"
    strategy.write_text(SPIN)
    config = json.loads((ROOT / EXAMPLE).read_text())
    config["strategies"] = [{"path": str(strategy)}]
    config["strategy_timeout_seconds"] = timeout
    path = tmp_path / "spin.json"
    path.write_text(json.dumps(config))
    line = next(n for n, text in enumerate(SPIN.splitlines(), 1) if "# spins here" in text)
    return path, line


def env_for(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALPACA_", "MISMARTERA_"))}
    env.update({"MISMARTERA_HOME": str(home), "COLUMNS": "120", "NO_COLOR": "1", "TERM": "dumb",
                "PYTHONPATH": str(ROOT)})
    return env


def latest_run(home: Path):
    ctx = AppContext(load_settings({"MISMARTERA_HOME": str(home)}))
    try:
        return RunHistory(ctx.db).run()
    except NotFound:
        return None
    finally:
        ctx.close()


@pytest.fixture
def one_shot(example_bars: Path) -> Iterator[Callable[..., subprocess.Popen]]:
    procs: list[subprocess.Popen] = []

    def start(*args: str) -> subprocess.Popen:
        proc = subprocess.Popen([sys.executable, "-m", "mismartera", *args], cwd=ROOT, env=env_for(example_bars),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()   # reaps it and closes its pipes


def wait_running(home: Path, proc: subprocess.Popen, bars_seen: bool = False) -> None:
    """Until the run row says running (the session is past its start)."""
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the session did not start"
        run = latest_run(home)
        if run is not None and run.state == "running" and (not bars_seen or run.sim_time is not None):
            return
        time.sleep(0.1)


def ended_within(proc: subprocess.Popen, seconds: float) -> tuple[int, str, str, float]:
    began = time.monotonic()
    out, err = proc.communicate(timeout=seconds + 30)
    return proc.returncode, out, err, time.monotonic() - began


def test_a_strategy_stuck_in_on_bar_fails_the_one_shot_naming_it(one_shot, example_bars: Path,
                                                                 tmp_path: Path) -> None:
    config, line = spin_config(tmp_path, timeout=2)
    proc = one_shot("system", "start", str(config), "--wait")
    code, out, err, _ = ended_within(proc, 60)
    assert code == 1, (out, err)
    assert f"strategy spin did not return from on_bar within 2s (stuck at {tmp_path / 'spin.py'}:{line})" in err
    assert "Traceback" not in out + err
    run = latest_run(example_bars)
    assert run.state == "failed" and "did not return from on_bar" in run.error
    report = subprocess.run([sys.executable, "-m", "mismartera", "system", "report", str(run.id), "--json"],
                            cwd=ROOT, env=env_for(example_bars), capture_output=True, text=True, timeout=60)
    data = json.loads(report.stdout)
    assert data["partial"] is True and data["days_done"] == 1 and data["days_planned"] == 4


@pytest.mark.parametrize("signame", ["SIGTERM", "SIGHUP"])
def test_a_terminating_signal_ends_a_one_shot_within_15s(one_shot, example_bars: Path, tmp_path: Path,
                                                          signame: str) -> None:
    """SIGTERM with a strategy spinning forever (the watchdog would wait ten minutes), SIGHUP with a
    paced session."""
    if signame == "SIGTERM":
        config, _ = spin_config(tmp_path, timeout=600)
        proc = one_shot("system", "start", str(config), "--wait")
    else:
        proc = one_shot("system", "start", EXAMPLE, "--speed", "60", "--wait")
    wait_running(example_bars, proc)
    time.sleep(1.5)   # the strategy spins by now (its 1000th bar comes within a second at full speed)
    proc.send_signal(getattr(signal, signame))
    code, out, err, took = ended_within(proc, 15)
    assert took < 15, err
    assert code == 130, (out, err)
    assert f"{signame}: stopping gracefully, exiting within 15s" in err
    assert "interrupted: session stopped at" in err and "Traceback" not in err
    assert latest_run(example_bars).state in ("stopped", "interrupted")


@pytest.mark.parametrize("delay_ms", [0, 10, 50])
@pytest.mark.parametrize("second", ["SIGINT", "SIGTERM"])
def test_an_interrupt_during_the_stop_of_a_one_shot_never_wedges(one_shot, example_bars: Path, delay_ms: int,
                                                                 second: str) -> None:
    proc = one_shot("system", "start", EXAMPLE, "--speed", "60", "--wait")
    wait_running(example_bars, proc)
    proc.send_signal(signal.SIGINT)            # the first Ctrl-C starts the graceful stop
    time.sleep(delay_ms / 1000)
    proc.send_signal(getattr(signal, second))  # then a second Ctrl-C, or SIGTERM, into the stop
    code, out, err, took = ended_within(proc, 15)
    assert took < 15 and code == 130, (out, err)
    assert "Traceback" not in err and "still stopping" not in err
    assert latest_run(example_bars).state == "stopped"


@pytest.fixture
def shell(example_bars: Path) -> Iterator[Callable[..., Terminal]]:
    started: list[Terminal] = []

    def start(**kwargs) -> Terminal:
        term = Terminal(example_bars, **kwargs)
        started.append(term)
        term.wait_prompt()
        return term

    yield start
    for term in started:
        term.close()


def start_in_shell(term: Terminal, command: str, timeout: float = 15) -> None:
    """Type `command` until the session starts (a stop still finishing says so: try again)."""
    deadline = time.monotonic() + timeout
    while True:
        mark = term.text.count("started (run")
        term.line(command)
        term.wait_for(lambda text, mark=mark: text.count("started (run") > mark
                      or "cannot start" in text.split(PROMPT)[-1])
        term.wait_prompt()
        if term.text.count("started (run") > mark:
            return
        assert time.monotonic() < deadline, f"the session never started again\n{term.text}"
        time.sleep(0.3)


@pytest.mark.parametrize("delay_ms", [0, 10, 50])
def test_ctrl_c_into_a_stop_in_the_shell_never_wedges(shell, delay_ms: int) -> None:
    term = shell()
    start_in_shell(term, f"system start {EXAMPLE} --speed 60")
    term.line("system stop")
    time.sleep(delay_ms / 1000)
    term.child.kill(signal.SIGINT)
    term.wait_prompt()
    term.line("clear")
    term.wait_prompt()
    # whatever the interrupt cut short, a new session starts within seconds and stops normally
    term.line("system stop")
    term.wait_prompt()
    start_in_shell(term, f"system start {EXAMPLE} --speed 60")
    term.line("system stop")
    term.wait_for("stopped (run")
    term.wait_prompt()
    began = time.monotonic()
    term.line("exit")
    assert term.wait_exit(10) == 0
    assert time.monotonic() - began < 5


def test_sighup_leaves_the_shell_and_stops_its_session(shell, example_bars: Path) -> None:
    term = shell()
    start_in_shell(term, f"system start {EXAMPLE} --speed 60")
    term.child.kill(signal.SIGHUP)
    assert term.wait_exit(15) == 130
    assert latest_run(example_bars).state == "stopped"


def test_after_a_stuck_strategy_the_shell_offers_to_restart(shell, example_bars: Path, tmp_path: Path) -> None:
    config, _ = spin_config(tmp_path, timeout=1)
    term = shell()
    term.line(f"system start {config} --wait")
    term.wait_for("did not return from on_bar within 1s", timeout=60)
    term.wait_prompt()
    term.line(f"system start {EXAMPLE} --speed 60")
    term.wait_for("a stuck strategy of an earlier session still runs")
    term.wait_for("Restart the shell first")
    term.line("y")
    time.sleep(1.0)
    term.wait_prompt(30)
    # the fresh shell has no stuck thread: it starts without asking, and the history came along
    start_in_shell(term, f"system start {EXAMPLE} --speed 60")
    assert term.text.count("a stuck strategy of an earlier session still runs") == 1
    term.line("system stop")
    term.wait_for("stopped (run")
    term.wait_prompt()
    term.line("exit")
    assert term.wait_exit(10) == 0
    assert "system start" in (example_bars / "state" / "history").read_text()


def cli(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mismartera", *args], cwd=ROOT, env=env_for(home),
                          capture_output=True, text=True, timeout=120)


def test_kill_9_leaves_an_interrupted_run_with_a_partial_report_that_resumes(one_shot, example_bars: Path) -> None:
    """Points 1-3 as a user meets them: kill -9 of `system start --wait`, then runs, status, report, resume."""
    proc = one_shot("system", "start", EXAMPLE, "--speed", "6000", "--wait")   # about 4 s a day
    deadline = time.monotonic() + 90
    while True:
        run = latest_run(example_bars)
        if run is not None and run.days_done >= 1:
            break
        assert proc.poll() is None and time.monotonic() < deadline, "no day was completed"
        time.sleep(0.2)
    proc.kill()
    proc.communicate()
    listed = cli(example_bars, "system", "runs")
    assert listed.returncode == 0 and "interrupted" in listed.stdout and "running" not in listed.stdout
    run = latest_run(example_bars)
    done = run.days_done
    assert run.state == "interrupted" and 1 <= done < 4
    status = cli(example_bars, "system", "status")
    assert f"run {run.id} (example) was interrupted after {done} of 4 day(s)" in status.stdout
    assert f"system start --resume {run.id}" in status.stdout
    report = cli(example_bars, "system", "report", str(run.id))
    assert report.returncode == 0, report.stderr
    assert f"partial: {done} of 4 days (run {run.id} interrupted)" in report.stdout
    assert "Final equity" in report.stdout and "Trades (round trips)" in report.stdout
    data = json.loads(cli(example_bars, "system", "report", str(run.id), "--json").stdout)
    assert (data["partial"], data["days_done"], data["days_planned"]) == (True, done, 4)
    resumed = cli(example_bars, "system", "start", "--resume", str(run.id), "--speed", "0", "--wait", "--json")
    assert resumed.returncode == 0, resumed.stderr
    final = json.loads(resumed.stdout)
    assert (final["run"]["id"], final["run"]["state"], final["partial"], final["days_done"]) == (
        run.id, "finished", False, 4)
    again = cli(example_bars, "system", "start", "--resume", str(run.id))
    assert again.returncode == 3 and f"cannot resume run {run.id}: it finished all 4 day(s)" in again.stderr


def test_sigterm_into_a_stop_in_the_shell_leaves_it_within_15s(shell, example_bars: Path) -> None:
    for delay_ms in (0, 10, 50):
        term = shell()
        start_in_shell(term, f"system start {EXAMPLE} --speed 60")
        term.line("system stop")
        time.sleep(delay_ms / 1000)
        term.child.kill(signal.SIGTERM)
        began = time.monotonic()
        assert term.wait_exit(20) == 130
        assert time.monotonic() - began < 15
        assert latest_run(example_bars).state == "stopped"
