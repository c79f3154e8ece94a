"""One-shot mode: `mismartera GROUP COMMAND ARGS`, run from the registry (typer lays out the help).

Every group's --help, JSON from every data command that can run without a session, and each exit
code of the table produced by a real situation."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mismartera.cli.main import main
from mismartera.commands import load_all

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def in_process(cli_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """The real entry point called in this process (fast), with a private home; returns (code, out, err)."""
    monkeypatch.setenv("MISMARTERA_HOME", str(cli_home))
    monkeypatch.setenv("COLUMNS", "120")
    monkeypatch.chdir(ROOT)
    saved = signal.getsignal(signal.SIGTERM)

    def run(*args: str) -> tuple[int, str, str]:
        try:
            code = main(list(args))
        finally:
            signal.signal(signal.SIGTERM, saved)
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def test_every_group_has_help(in_process) -> None:
    registry = load_all()
    code, out, _ = in_process("--help")
    assert code == 0
    for group in registry.groups:
        if not group or not registry.in_group(group):
            continue
        assert group in out
        code, out_group, _ = in_process(group, "--help")
        assert code == 0, group
        for cmd in registry.in_group(group):
            if not cmd.interactive_only:
                assert cmd.name in out_group, (group, cmd.name)


def test_command_help_shows_arguments_and_examples(in_process) -> None:
    code, out, _ = in_process("time", "days", "--help")
    assert code == 0
    assert "first day" in out and "mismartera time days 2024-11-25 2024-12-06" in out


def test_json_output_parses_for_every_data_command(in_process) -> None:
    registry = load_all()
    ran = []
    for cmd in registry.unique():
        if not cmd.json or cmd.interactive_only or any(a.is_required for a in cmd.args) or cmd.name == "demo":
            continue
        code, out, err = in_process(*cmd.path.split(), "--json")
        if code == 0:
            json.loads(out)  # raises (and fails the test) on anything but JSON
            ran.append(cmd.path)
        else:
            assert err.startswith("Error: "), (cmd.path, err)
    assert {"time now", "time market", "config show", "db info", "system status", "help"} <= set(ran)
    code, out, _ = in_process("time", "days", "2024-11-25", "2024-11-27", "--json")
    assert code == 0 and [d["date"] for d in json.loads(out)] == ["2024-11-25", "2024-11-26", "2024-11-27"]


def test_unknown_command_suggests_and_exits_2(in_process) -> None:
    code, out, err = in_process("sytem", "start")
    assert code == 2 and out == ""
    assert err.strip() == "Error: unknown command 'sytem start' — did you mean 'system start'?"
    code, _, err = in_process("exit")
    assert code == 2 and "works only in the interactive shell" in err


def test_exit_codes_ok_failed_usage_state_config(in_process, tmp_path: Path) -> None:
    assert in_process("time", "session", "2024-11-29")[0] == 0
    code, _, err = in_process("run", str(tmp_path / "missing.msh"))
    assert code == 1 and err.startswith("Error: script file not found")
    code, _, err = in_process("time", "days", "2024-11-25")
    assert code == 2 and "Error:" in err
    code, _, err = in_process("system", "pause")
    assert code == 3 and "Error: cannot pause: system is stopped (start it first)" in err
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"session_name": "bad", "mode": "backtest", "backtest_config": {"speed_multiplier": -1}}))
    code, _, err = in_process("system", "start", str(bad))
    assert code == 4 and "Error:" in err


def test_exit_code_timeout(in_process, example_bars: Path) -> None:
    code, _, err = in_process("system", "start", "config/example_session.json", "--speed", "60", "--wait",
                              "--timeout", "0.5")
    assert code == 5, err
    assert "Error:" in err and "after 0.5s" in err


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_sigterm_stops_a_waiting_backtest_and_exits_130(cli_home: Path, example_bars: Path, sig: int) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALPACA_", "MISMARTERA_"))}
    env["MISMARTERA_HOME"] = str(cli_home)
    proc = subprocess.Popen([sys.executable, "-m", "mismartera", "system", "start", "config/example_session.json",
                             "--speed", "60", "--wait"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        log = cli_home / "state" / "mismartera.log"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "session example started" not in _read(log):
            time.sleep(0.05)
        time.sleep(0.3)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, (out, err)
    assert "interrupted" in err and "Traceback" not in err


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except FileNotFoundError:
        return ""


def test_gh13_one_shot_start_detaches_to_a_serve_host_and_json_stays_pure(in_process, example_bars: Path) -> None:
    """`system start` without --wait hands the session to a detached `serve --once` host and returns at
    once; `system stop` from anywhere ends the session, and the host leaves with it."""
    from mismartera.system.owner import pid_alive

    code, out, err = in_process("system", "start", "config/example_session.json", "--speed", "60", "--json")
    assert code == 0, err
    started = json.loads(out)
    host = started["owner_pid"]
    try:
        assert started["state"] == "running" and started["owner_kind"] == "serve" and host != os.getpid()
        assert started["api_url"].startswith("http://127.0.0.1:") and "token" not in out
        code, out, err = in_process("system", "status", "--json")
        assert code == 0, err
        assert json.loads(out)["run_id"] == started["run_id"] and json.loads(out)["state"] == "running"
        code, out, err = in_process("system", "stop")
        assert code == 0, err
        assert f"stopped (run {started['run_id']})" in out
        deadline = time.monotonic() + 30
        ended = 0
        while not ended and time.monotonic() < deadline:   # the host is this process's child here: reap it
            ended, status = os.waitpid(host, os.WNOHANG)
            time.sleep(0.1)
        assert ended and os.waitstatus_to_exitcode(status) == 0, "the host should leave when its session ends"
    finally:
        if pid_alive(host) and not os.waitpid(host, os.WNOHANG)[0]:
            os.kill(host, signal.SIGKILL)
            os.waitpid(host, 0)
