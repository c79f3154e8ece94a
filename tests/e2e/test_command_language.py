"""One command language (issue 11): the shell, a piped script and one-shot mode parse a command's
words with the same parser, so a missing or bad argument gives the same line and exit code in each,
and one-shot `--help` is the registry's own help."""

from __future__ import annotations

import io
import signal
import sys
from pathlib import Path

import pytest
from rich.console import Console

from mismartera.cli import runtime
from mismartera.cli.main import main
from mismartera.cli.repl import run_line
from mismartera.commands import load_all
from mismartera.commands.context import AppContext
from mismartera.config.settings import load_settings
from mismartera.errors import UsageError

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]

BAD_LINES = [
    ("time days 2024-11-25", "missing END (last day)", "time days START END [--json]"),
    ("time days 2024-11-25 2024-13-01", "END: '2024-13-01' is not a date YYYY-MM-DD", "time days START END [--json]"),
    ("time next 2024-11-25 --nn 3", "unknown option '--nn' for 'time next' — did you mean '--n'?", None),
    ("time session 2024-11-29 extra", "unexpected argument 'extra' for 'time session'", None),
    ("log-level LOUD", "LEVEL: 'LOUD' is not one of DEBUG, INFO, WARNING, ERROR", None),
    ("system start --speed fast", "--speed: 'fast' is not a number", None),
    ("data import-file bars.csv", "missing SYMBOL (the symbol the bars belong to)", None),
    ("time next --n", "--n needs a value (N)", None),
]


@pytest.fixture
def modes(cli_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """Run one line in one of the three modes, in this process; returns (code, stderr)."""
    monkeypatch.setenv("MISMARTERA_HOME", str(cli_home))
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.chdir(ROOT)
    saved = signal.getsignal(signal.SIGTERM)

    def one_shot(line: str) -> tuple[int, str]:
        try:
            code = main(line.split())
        finally:
            signal.signal(signal.SIGTERM, saved)
        return code, capsys.readouterr().err

    def script(line: str) -> tuple[int, str]:
        monkeypatch.setattr(sys, "stdin", io.StringIO(line + "\n"))
        try:
            code = main([])
        finally:
            signal.signal(signal.SIGTERM, saved)
        return code, capsys.readouterr().err

    def shell(line: str) -> tuple[int, str]:
        err = io.StringIO()
        ctx = AppContext(load_settings())
        rt = runtime.install(runtime.Runtime(ctx=ctx, out=Console(file=io.StringIO(), width=200),
                                             err=Console(file=err, width=200)))
        try:
            code = run_line(rt, load_all(), line)
        finally:
            ctx.close()
        return code, err.getvalue()

    return {"one-shot": one_shot, "script": script, "shell": shell}


@pytest.mark.parametrize(("line", "message", "usage"), BAD_LINES)
def test_a_bad_line_reads_the_same_in_every_mode(modes, line: str, message: str, usage: str | None) -> None:
    expected_first = {"one-shot": "Error: " + message, "script": "line 1: " + message, "shell": "Error: " + message}
    for mode, run in modes.items():
        code, err = run(line)
        lines = err.splitlines()
        assert code == 2, (mode, line, err)
        assert lines[0] == expected_first[mode], (mode, err)
        assert lines[1].startswith("usage: " + ("mismartera " if mode == "one-shot" else "")), (mode, err)
        if usage:
            assert lines[1].endswith(usage), (mode, err)


def test_one_shot_help_is_the_registrys_help(modes, capsys: pytest.CaptureFixture[str]) -> None:
    registry = load_all()
    saved = signal.getsignal(signal.SIGTERM)
    for cmd in registry.unique():
        if cmd.interactive_only:
            continue
        try:
            code = main([*cmd.path.split(), "--help"])
        finally:
            signal.signal(signal.SIGTERM, saved)
        out = capsys.readouterr().out
        assert code == 0, cmd.path
        assert out.startswith(f"usage: mismartera {cmd.usage()}"), (cmd.path, out)
        assert "{" not in out.split("\n")[0] and "<str>" not in out and "[OPTIONS]" not in out, (cmd.path, out)
        for arg in cmd.args:
            assert arg.help in out, (cmd.path, arg.name)


def test_words_after_a_double_dash_reach_the_parser(modes) -> None:
    code, err = modes["one-shot"]("time session -- --n")
    assert code == 2 and err.splitlines()[0] == "Error: DATE: '--n' is not a date YYYY-MM-DD", err


def test_help_flag_in_the_shell_and_scripts_is_help_command(modes, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    from mismartera.cli.parser import parse_line

    parsed = parse_line(load_all(), "time days 2024-11-25 --help")
    assert parsed.command.name == "help" and parsed.kwargs == {"topic": ["time", "days"]}
    with pytest.raises(UsageError, match="START: '--help' is not a date"):  # after --, a value
        parse_line(load_all(), "time days -- --help")
    monkeypatch.setattr(sys, "stdin", io.StringIO("time days -h\n"))
    saved = signal.getsignal(signal.SIGTERM)
    try:
        assert main([]) == 0
    finally:
        signal.signal(signal.SIGTERM, saved)
    assert "usage: time days START END [--json]" in capsys.readouterr().out
