"""The command registry's declarations (issue 11): each argument names a parameter of its handler,
and its default is written once, in the handler's signature."""

from __future__ import annotations

import inspect

import pytest

from mismartera.cli.parser import parse_args
from mismartera.commands import load_all
from mismartera.commands.registry import Arg, Option, with_handler_defaults


def test_every_argument_is_a_handler_parameter_with_the_signatures_default() -> None:
    for cmd in load_all().unique():
        params = inspect.signature(cmd.handler).parameters
        for arg in cmd.args:
            assert arg.name in params, (cmd.path, arg.name)
            default = params[arg.name].default
            expected = None if default is inspect.Parameter.empty else default
            assert arg.default == expected, (cmd.path, arg.name)


def test_an_omitted_argument_reaches_the_handler_as_its_signature_default() -> None:
    registry = load_all()
    kwargs, _ = parse_args(registry.get("data", "demo"), [])
    assert kwargs["days"] == 20 and kwargs["seed"] == 7
    signature = inspect.signature(registry.get("data", "demo").handler).parameters
    assert kwargs["days"] == signature["days"].default


def handler(ctx: object, n: int = 3, loud: bool = False, name: str | None = None) -> None:
    """A stand-in handler for the declaration checks."""


def test_a_default_written_twice_is_refused() -> None:
    with pytest.raises(TypeError, match="write the default of 'n' in handler\\(\\)'s signature only"):
        with_handler_defaults(handler, (Option("n", type=int, default=3),), "x y")


def test_an_argument_that_is_no_parameter_is_refused() -> None:
    with pytest.raises(TypeError, match="argument 'm' is not a parameter of handler\\(\\)"):
        with_handler_defaults(handler, (Option("m", type=int),), "x y")


def test_defaults_come_from_the_signature() -> None:
    args = with_handler_defaults(handler, (Option("n", type=int), Option("loud", type=bool), Arg("name")), "x y")
    assert [a.default for a in args] == [3, False, None]
    assert args[2].is_required  # a positional whose default is None is still required (unless required=False)


def test_a_groups_commands_are_declared_in_the_modules_load_for_imports() -> None:
    """One-shot mode imports only the named group's modules (`load_for`): every command of a group
    must be declared in one of them, or it would cost the import of every module to find."""
    from mismartera.commands import GROUP_MODULES, group_modules

    registry = load_all()
    for cmd in registry.unique():
        if not cmd.group:
            continue
        module = cmd.handler.__module__.rsplit(".", 1)[-1]
        expected = [name for name in GROUP_MODULES.get(cmd.group, (cmd.group,)) if name in group_modules()]
        assert module in expected, f"'{cmd.path}' is declared in commands/{module}.py: add it to GROUP_MODULES"


def test_one_shot_finds_every_command_and_guesses_from_all_of_them() -> None:
    """In a fresh process: a group's command is found after importing its modules only; a typo is
    answered from every command."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from mismartera.cli.oneshot import check_command\n"
        "from mismartera.commands import loaded_all\n"
        "cmd, rest = check_command(['data', 'high-low', 'AAPL', '5'])\n"
        "assert cmd.path == 'data high-low' and rest == ['AAPL', '5'] and not loaded_all()\n"
        "assert 'mismartera.commands.sweep' not in sys.modules\n"
        "try:\n"
        "    check_command(['system', 'stat'])\n"
        "except Exception as exc:\n"
        "    print(exc)\n"
        "assert loaded_all()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().startswith("unknown command 'system stat' — did you mean 'system "), done.stdout
