"""Script mode through the real program: piped stdin and `mismartera run FILE`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def test_each_command_is_echoed_and_comments_are_skipped(run_cli) -> None:
    script = ("# morning checks\n"
              "\n"
              "time session 2024-11-29   # the day after Thanksgiving\n"
              "    # indented comment\n"
              "time next 2024-12-24 --n 1\n")
    result = run_cli(stdin=script)
    assert result.code == 0, result
    lines = result.out.splitlines()
    echoed = [line for line in lines if line.startswith("system@mismartera> ")]
    assert echoed == ["system@mismartera> time session 2024-11-29",
                      "system@mismartera> time next 2024-12-24 --n 1"]
    assert "early close" in result.out and "2024-12-26" in result.out
    assert lines.index(echoed[0]) < result.out.splitlines().index(echoed[1])
    assert "morning checks" not in result.out and "Thanksgiving" not in result.out


def test_variables_from_var_then_environment(run_cli, tmp_path: Path) -> None:
    script = tmp_path / "days.msh"
    script.write_text("time session $DAY\ntime next ${AFTER} --n 1 --json\n")
    result = run_cli("run", str(script), "--var", "DAY=2024-11-29", env={"AFTER": "2024-12-24", "DAY": "1999-01-01"})
    assert result.code == 0, result
    assert "system@mismartera> time session 2024-11-29" in result.out
    assert '"date": "2024-12-26"' in result.out
    missing = run_cli("run", str(script), "--var", "DAY=2024-11-29")
    assert missing.code == 2, missing
    assert "line 2: undefined variable $AFTER (pass --var AFTER=VALUE" in missing.err


def test_first_failure_stops_with_its_line_and_exit_code(run_cli) -> None:
    script = "time session 2024-11-29\n# a comment\nsystem pause\ntime holidays 2025\n"
    result = run_cli(stdin=script)
    assert result.code == 3, result
    assert "line 3: cannot pause: system is stopped (start it first)" in result.err
    assert "time holidays" not in result.out


def test_keep_going_runs_on_and_returns_the_first_failure(run_cli, tmp_path: Path) -> None:
    script = tmp_path / "checks.msh"
    script.write_text("system pause\ntime sesion 2024-11-29\ntime session 2024-11-29\n")
    result = run_cli("run", str(script), "--keep-going", "--no-check")   # checked first otherwise (issue 12)
    assert result.code == 3, result
    assert "line 1: cannot pause" in result.err
    assert "line 2: unknown command 'time sesion' — did you mean 'time session'?" in result.err
    assert "early close" in result.out


def test_usage_error_shows_the_usage_line(run_cli) -> None:
    result = run_cli(stdin="time days 2024-11-25\n")
    assert result.code == 2, result
    assert "line 1: missing END" in result.err
    assert "usage: time days START END [--json]" in result.err


def test_a_backtest_then_wait_then_report(run_cli, example_bars: Path) -> None:
    script = ("system start config/example_session.json\n"
              "system wait --timeout 60\n"
              "system report --json\n")
    result = run_cli(stdin=script)
    assert result.code == 0, result
    assert "system@mismartera> system report --json" in result.out
    report = result.out.split("system@mismartera> system report --json", 1)[1]
    assert '"final_equity"' in report and '"trades"' in report


def test_end_of_input_stops_a_running_session_with_a_summary(run_cli, example_bars: Path) -> None:
    result = run_cli(stdin="system start config/example_session.json --speed 60\n")
    assert result.code == 0, result
    summary = [line for line in result.out.splitlines() if line.startswith("session stopped")]
    # stopped at once: on day 1, or (on a busy machine) an instant before it began
    assert summary and "backtest example" in summary[0] and re.search(r"day [01]/4", summary[0])


def test_nested_run_and_exit_ends_the_script(run_cli, tmp_path: Path) -> None:
    inner = tmp_path / "inner.msh"
    inner.write_text("time session 2024-11-29\nexit\ntime holidays 2025\n")
    result = run_cli(stdin=f"run {inner}\ntime next 2024-12-24\n")
    assert result.code == 0, result
    assert "early close" in result.out
    assert "time holidays" not in result.out and "time next" not in result.out


def test_missing_script_file(run_cli) -> None:
    result = run_cli("run", "no-such-file.msh")
    assert result.code == 1, result
    assert "Error: script file not found: no-such-file.msh" in result.err


def test_dev_null_exits_at_once(cli_home: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALPACA_", "MISMARTERA_"))}
    env["MISMARTERA_HOME"] = str(cli_home)
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "mismartera"], stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "" and proc.stderr == ""
    assert time.monotonic() - started < 5


def test_secrets_never_reach_output_or_log(run_cli, cli_home: Path, tmp_path: Path) -> None:
    key, secret = "PKTESTKEY12345", "S3cretValue99"
    script = tmp_path / "leaky.msh"
    script.write_text("config show\n"
                      f"db info --password={secret}\n"
                      f"log-level {key}\n"
                      "run $ALPACA_SECRET_KEY\n")
    result = run_cli("--debug", "run", str(script), "--keep-going", "--no-check",
                     env={"ALPACA_API_KEY": key, "ALPACA_SECRET_KEY": secret})
    assert result.code == 2, result
    assert "line 3: LEVEL: '***' is not one of DEBUG, INFO, WARNING, ERROR" in result.err
    assert "line 4: script file not found: ***" in result.err
    assert "PKTE…" in result.out  # config show masks, leaving enough to recognise the key
    everything = result.out + result.err + (cli_home / "state" / "mismartera.log").read_text()
    assert key not in everything and secret not in everything
    assert "--password=***" in result.out
    checked = run_cli("run", str(script), env={"ALPACA_API_KEY": key, "ALPACA_SECRET_KEY": secret})
    assert checked.code == 2 and "line 3: LEVEL: '***' is not one of" in checked.err
    assert key not in checked.err + checked.out and secret not in checked.err + checked.out


def test_script_mode_does_not_load_prompt_toolkit(cli_home: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALPACA_", "MISMARTERA_"))}
    env["MISMARTERA_HOME"] = str(cli_home)
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "mismartera"], input="help time\n",
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert "time days" in proc.stdout
    assert "prompt_toolkit" not in proc.stderr and "typer" not in proc.stderr
