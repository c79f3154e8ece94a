"""The line parser (shared by the REPL and scripts) and the script-line preparation: comments,
variables, did-you-mean, usage lines."""

from __future__ import annotations

from datetime import date

import pytest

from mismartera.cli.parser import find_command, parse_line
from mismartera.cli.script import strip_comment, substitute
from mismartera.commands import load_all
from mismartera.commands.general import describe_help, parse_variables
from mismartera.commands.registry import Arg, Command, Option, Registry
from mismartera.errors import NotFound, UsageError


@pytest.fixture(scope="module")
def registry() -> Registry:
    return load_all()


def test_group_command_with_positionals_options_and_json(registry: Registry) -> None:
    parsed = parse_line(registry, "time next 2024-12-24 --n 3 --json")
    assert parsed.command.path == "time next"
    assert parsed.kwargs == {"day": date(2024, 12, 24), "n": 3}
    assert parsed.json is True


def test_root_command_with_repeated_option_and_flag(registry: Registry) -> None:
    parsed = parse_line(registry, "run day.msh --var A=1 --var=B=two --keep-going")
    assert parsed.command.path == "run"
    assert parsed.kwargs == {"file": "day.msh", "var": ["A=1", "B=two"], "keep_going": True, "quiet": False,
                             "no_check": False}


def test_quotes_keep_spaces(registry: Registry) -> None:
    parsed = parse_line(registry, "time convert '2024-07-01 09:30' ET Europe/London")
    assert parsed.kwargs["when"].hour == 9 and parsed.kwargs["to_tz"] == "Europe/London"


def test_unknown_command_suggests_the_closest_and_never_runs_it(registry: Registry) -> None:
    with pytest.raises(UsageError) as caught:
        find_command(registry, ["sytem", "start"])
    assert caught.value.message == "unknown command 'sytem start' — did you mean 'system start'?"
    with pytest.raises(UsageError, match=r"unknown command 'time sesion' — did you mean 'time session'\?"):
        parse_line(registry, "time sesion 2024-11-29")


def test_wrong_arguments_carry_the_usage_line(registry: Registry) -> None:
    with pytest.raises(UsageError) as missing:
        parse_line(registry, "time days 2024-11-25")
    assert missing.value.usage == "time days START END [--json]"
    with pytest.raises(UsageError) as bad_value:
        parse_line(registry, "time session 2024-13-01")
    assert "is not a date YYYY-MM-DD" in bad_value.value.message and bad_value.value.usage
    with pytest.raises(UsageError, match="unknown option '--nn' for 'time next' — did you mean '--n'"):
        parse_line(registry, "time next --nn 2")
    with pytest.raises(UsageError, match="unexpected argument 'extra'"):
        parse_line(registry, "config show extra")


def test_choices_are_case_insensitive_and_suggested(registry: Registry) -> None:
    assert parse_line(registry, "log-level debug").kwargs == {"level": "DEBUG"}
    with pytest.raises(UsageError, match="did you mean 'WARNING'"):
        parse_line(registry, "log-level WARNIGN")


def test_unbalanced_quote_is_a_usage_error(registry: Registry) -> None:
    with pytest.raises(UsageError, match="check quotes"):
        parse_line(registry, "time convert '2024-07-01 ET UTC")


@pytest.mark.parametrize(("line", "expected"), [
    ("# whole line", ""),
    ("   # indented comment", "   "),
    ("time now # trailing", "time now "),
    ("time now  #", "time now  "),
    ("data import 'a # b.csv' AAPL", "data import 'a # b.csv' AAPL"),
    ('echo "x #y"  # real', 'echo "x #y"  '),
    ("order buy AAPL 10 --tag a#b", "order buy AAPL 10 --tag a#b"),
    (r"say \# not a comment", r"say \# not a comment"),
])
def test_comments(line: str, expected: str) -> None:
    assert strip_comment(line) == expected


def test_variables_from_vars_then_environment() -> None:
    variables = {"SYMBOL": "AAPL", "DAY": "2024-11-29"}
    environ = {"SYMBOL": "MSFT", "HOME_CFG": "config/demo.json"}
    assert substitute("data show $SYMBOL ${DAY}", variables, environ) == "data show AAPL 2024-11-29"
    assert substitute("system start $HOME_CFG", variables, environ) == "system start config/demo.json"
    assert substitute("order buy X 1 --limit $100", {}, {}) == "order buy X 1 --limit $100"
    assert substitute(r"say \$SYMBOL", variables, environ) == r"say \$SYMBOL"
    with pytest.raises(UsageError, match=r"undefined variable \$NOPE \(pass --var NOPE=VALUE"):
        substitute("time session $NOPE", variables, environ)


def test_var_pairs() -> None:
    assert parse_variables(["A=1", "B_2=x=y", "C="]) == {"A": "1", "B_2": "x=y", "C": ""}
    for bad in ("A", "1A=2", "=x", "A-B=1"):
        with pytest.raises(UsageError, match="expected NAME=VALUE"):
            parse_variables([bad])


def test_help_is_built_from_the_registry(registry: Registry) -> None:
    overview = describe_help(registry, [])
    groups = overview.to_json()["groups"]
    assert {"time", "db", "config"} <= {g["name"] for g in groups}
    group = describe_help(registry, ["time"]).to_json()
    assert {c["name"] for c in group["commands"]} >= {"now", "session", "days"}
    one = describe_help(registry, ["time", "days"]).to_json()
    assert one["usage"] == "time days START END [--json]"
    assert one["examples"] == ["time days 2024-11-25 2024-12-06"]
    assert describe_help(registry, ["log-level"]).to_json()["command"] == "log-level"
    with pytest.raises(NotFound, match="did you mean 'help time'"):
        describe_help(registry, ["tmie"])
    with pytest.raises(NotFound, match="did you mean 'help time days'"):
        describe_help(registry, ["time", "dyas"])


def test_a_private_registry_parses_multiple_positionals() -> None:
    private = Registry()  # `@command` fills the global registry; build this entry by hand
    private.add_group("g", "a group")
    private.add(Command("g", "take", "take symbols", lambda ctx, **kw: None,
                        args=(Arg("symbols", "symbols", multiple=True, complete="symbol"),
                              Option("limit", "at most", type=int, default=5))))
    parsed = parse_line(private, "g take AAPL MSFT --limit 2")
    assert parsed.kwargs == {"symbols": ["AAPL", "MSFT"], "limit": 2}
    assert parse_line(private, "g take").kwargs == {"symbols": [], "limit": 5}
