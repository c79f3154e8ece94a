"""Issue 12, points 3 and 8: output scripts can use — tables to a pipe or file are not cut to 80
columns, `--quiet`/`-q` leaves only the commands' output on stdout (one JSON document per `--json`
command) — and scripts checked before they run (`--no-check` to skip)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def documents(text: str) -> list:
    """Every JSON document in `text`, in order; fails on anything else between them."""
    decoder = json.JSONDecoder()
    found, at = [], 0
    while True:
        while at < len(text) and text[at].isspace():
            at += 1
        if at == len(text):
            return found
        value, at = decoder.raw_decode(text, at)
        found.append(value)


def test_gh12_tables_to_a_pipe_are_not_cut(run_cli) -> None:
    result = run_cli("strategy", "list", env={"COLUMNS": "80"})
    assert result.code == 0, result
    assert "…" not in result.out
    assert "long when the fast SMA of the 1m close is above the slow one, flat otherwise." in result.out
    row = next(line for line in result.out.splitlines() if line.startswith(" rsi_reversion"))
    assert len(row) > 80 and "period=14, oversold=30.0, overbought=70.0, quantity=100" in row


def test_gh12_tables_to_a_file_are_not_cut_and_fills_take_limit(cli_home: Path, example_bars: Path,
                                                               run_cli) -> None:
    """Output redirected to a file is not cut at the terminal's width either; `account fills --limit N`
    shows the last N fills (the same rows as the end of the whole list)."""
    assert run_cli("system", "start", "config/example_session.json", "--wait").code == 0
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALPACA_", "MISMARTERA_"))}
    env.update({"MISMARTERA_HOME": str(cli_home), "COLUMNS": "80", "TERM": "dumb", "NO_COLOR": "1"})
    target = cli_home / "orders.txt"
    with target.open("w", encoding="utf-8") as handle:
        done = subprocess.run([sys.executable, "-m", "mismartera", "account", "orders"], stdout=handle,
                              stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    table = target.read_text(encoding="utf-8")
    assert "…" not in table and max(len(line) for line in table.splitlines()) > 80
    every = json.loads(run_cli("account", "fills", "--json").out)
    last_two = json.loads(run_cli("account", "fills", "--limit", "2", "--json").out)
    assert len(every) > 2 and last_two == every[-2:]


def test_gh12_quiet_script_prints_one_json_document_per_command(run_cli, example_bars: Path,
                                                                tmp_path: Path) -> None:
    script = tmp_path / "report.msh"
    script.write_text("# a report for another program\n"
                      "time session 2024-11-29 --json\n"
                      "system start config/example_session.json --json\n"
                      "system wait --timeout 120 --json\n"
                      "system report --json\n"
                      "account positions --json\n")
    for args in (("run", str(script), "-q"),):
        result = run_cli(*args)
        assert result.code == 0, result
        docs = documents(result.out)
        assert len(docs) == 5, result.out
        assert docs[0]["date"] == "2024-11-29" and docs[0]["early_close"] is True
        # a full-speed backtest of 4 days may already be ending when start answers
        assert docs[1]["state"] in ("running", "stopping", "stopped") and docs[1]["run_id"] >= 1
        assert docs[3]["summary"]["days"] == 4
        assert isinstance(docs[4], list)
        assert "system@mismartera>" not in result.out
    piped = run_cli("--quiet", stdin=script.read_text())
    assert piped.code == 0, piped
    assert len(documents(piped.out)) == 5
    # a session still running at the end of a quiet script: its summary goes to stderr, stdout stays JSON
    unfinished = run_cli("-q", stdin="system start config/example_session.json --speed 60 --json\n")
    assert unfinished.code == 0, unfinished
    assert len(documents(unfinished.out)) == 1 and "session" in unfinished.err


def test_gh12_a_typo_on_the_last_line_runs_nothing(run_cli, example_bars: Path, tmp_path: Path) -> None:
    script = tmp_path / "long.msh"
    script.write_text("system start config/example_session.json --wait\n"
                      "# the report\n"
                      "system reprot\n"
                      "account balance --run\n"
                      "time session $NOT_SET\n")
    result = run_cli("run", str(script))
    assert result.code == 2, result
    assert result.out == ""
    err = result.err.splitlines()
    assert err[0] == "line 3: unknown command 'system reprot' — did you mean 'system report'?"
    assert any(line.startswith("line 4: ") and "--run" in line for line in err), err
    assert any(line.startswith("line 5: undefined variable $NOT_SET") for line in err), err
    assert "nothing was run: 3 line(s) of the script have errors" in result.err
    assert run_cli("system", "runs", "--json").out.strip() == "[]"

    # stdin read from a file is checked the same way; a pipe is read as it comes
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALPACA_", "MISMARTERA_"))}
    env.update({"MISMARTERA_HOME": str(example_bars), "NO_COLOR": "1", "TERM": "dumb"})
    with script.open() as handle:
        proc = subprocess.run([sys.executable, "-m", "mismartera"], stdin=handle, capture_output=True, text=True,
                              env=env, cwd=ROOT, timeout=120)
    assert proc.returncode == 2 and proc.stdout == "" and "line 3: unknown command" in proc.stderr
    assert run_cli("system", "runs", "--json").out.strip() == "[]"

    skipped = run_cli("run", str(script), "--no-check")
    assert skipped.code == 2, skipped
    assert "Backtest report" in skipped.out
    assert skipped.err.startswith("line 3: unknown command 'system reprot'")
    assert len(json.loads(run_cli("system", "runs", "--json").out)) == 1

    # `mismartera --no-check < FILE`: stdin from a file, run as it comes (the first line runs)
    with script.open() as handle:
        proc = subprocess.run([sys.executable, "-m", "mismartera", "--no-check"], stdin=handle, capture_output=True,
                              text=True, env=env, cwd=ROOT, timeout=120)
    assert proc.returncode == 2 and "Backtest report" in proc.stdout, proc.stderr
    assert "line 3: unknown command 'system reprot'" in proc.stderr
    assert len(json.loads(run_cli("system", "runs", "--json").out)) == 2
