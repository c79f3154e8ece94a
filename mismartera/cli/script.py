"""Script mode: run commands line by line from a file or a pipe, as a person would type them.

Each command is echoed as `system@mismartera> command` before its output, so a log of a script run
reads like a session. Blank lines and `#` comments are skipped; `$NAME` / `${NAME}` come from the
`--var` values, then the environment. The first failing line stops the script with
`line N: <error>` on stderr and that command's exit code, unless `keep_going` (then the exit code is
the first failure's). No prompt_toolkit and no live display here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from rich.text import Text

from mismartera.cli import actions, runtime
from mismartera.cli.dispatch import Failure, ShellRequest, describe_error, execute, print_failure
from mismartera.cli.parser import check_line_length, parse_line
from mismartera.cli.runtime import Runtime
from mismartera.commands import load_all
from mismartera.commands.results import RunScript
from mismartera.errors import ExitCode, MismarteraError, NotFound, UsageError

PROMPT = "system@mismartera> "
MAX_DEPTH = 8
_VARIABLE = re.compile(r"(?<!\\)\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))")


def strip_comment(line: str) -> str:
    """The line without a `#` comment; `#` starts one at the start or after whitespace, outside quotes."""
    quote: str | None = None
    escaped = False
    for index, char in enumerate(line):
        if escaped:
            escaped = False
            continue
        if char == "\\" and quote != "'":
            escaped = True
            continue
        if quote:
            if char == quote:
                quote = None
            continue
        if char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or line[index - 1].isspace()):
            return line[:index]
    return line


def substitute(line: str, variables: Mapping[str, str], environ: Mapping[str, str]) -> str:
    """Replace `$NAME` and `${NAME}` from `variables`, then `environ`; an undefined name is a UsageError.
    `\\$` keeps a literal dollar sign."""

    def value(match: re.Match[str]) -> str:
        name = match.group("braced") or match.group("bare")
        if name in variables:
            return variables[name]
        if name in environ:
            return environ[name]
        raise UsageError(f"undefined variable ${name} (pass --var {name}=VALUE or set it in the environment)")

    return _VARIABLE.sub(value, line)


def check_lines(rt: Runtime, lines: list[str], variables: Mapping[str, str], where: str = "") -> int:
    """Parse every line without running any: each unknown command, bad argument or undefined variable
    is reported as `line N: …` on stderr. Returns 0 when all lines parse, else the first one's exit code."""
    registry = load_all()
    problems: list[tuple[int, Failure]] = []
    for number, raw in enumerate(lines, start=1):
        text = raw.rstrip("\r\n")
        try:
            check_line_length(text)
            text = strip_comment(text).strip()
            if not text:
                continue
            parse_line(registry, substitute(text, variables, rt.environ))
        except MismarteraError as exc:
            problems.append((number, describe_error(exc)))
    for number, failure in problems:
        print_failure(rt.err, failure, prefix=f"{where}line {number}: ")
    if not problems:
        return 0
    rt.err.print(Text(f"nothing was run: {len(problems)} line(s) of the script have errors "
                      "(--no-check runs the script without this check)", style="red"), soft_wrap=True)
    return int(problems[0][1].code)


def run_lines(rt: Runtime, lines: Iterable[str], *, variables: Mapping[str, str] | None = None,
              keep_going: bool = False, source: str | None = None, quiet: bool = False,
              check: bool = False) -> int:
    """Run each command line; returns 0, or the exit code of the (first) failing line.

    With `check`, every line is parsed first and nothing runs if one does not parse; with `quiet`
    the commands are not echoed (nested scripts inherit it)."""
    registry = load_all()
    variables = dict(variables or {})
    first_failure = 0
    where = "" if rt.script_depth == 0 or source is None else f"{Path(source).name} "
    if check:
        lines = list(lines)
        failed = check_lines(rt, lines, variables, where)
        if failed:
            return failed
    was_quiet = rt.quiet
    rt.quiet = rt.quiet or quiet
    rt.script_depth += 1
    try:
        for number, raw in enumerate(lines, start=1):
            prefix = f"{where}line {number}: "
            text = raw.rstrip("\r\n")
            try:
                check_line_length(text)
                text = strip_comment(text).strip()
                if not text:
                    continue
                line = substitute(text, variables, rt.environ)
                if not rt.quiet:
                    rt.out.print(Text(PROMPT + rt.redactor.mask(line)), soft_wrap=True, highlight=False)
                parsed = parse_line(registry, line)
            except UsageError as exc:
                print_failure(rt.err, describe_error(exc), prefix=prefix)
                code = int(exc.exit_code)
            else:
                code = execute(rt.ctx, parsed.command, parsed.kwargs, as_json=parsed.json, out=rt.out,
                               err=rt.err, perform=perform, debug=rt.debug, prefix=prefix)
            if code:
                first_failure = first_failure or code
                if not keep_going or code == ExitCode.INTERRUPTED:
                    return code
            if rt.exit_requested:
                if rt.interactive:
                    rt.exit_requested = False  # `exit` in a script run from the shell ends the script only
                break
        return first_failure
    except KeyboardInterrupt:
        print_failure(rt.err, describe_error(KeyboardInterrupt()), prefix=f"{where}")
        return int(ExitCode.INTERRUPTED)
    finally:
        rt.script_depth -= 1
        rt.quiet = was_quiet


def run_file(rt: Runtime, path: str, variables: Mapping[str, str] | None = None, *, keep_going: bool = False,
             quiet: bool = False, check: bool = True) -> int:
    """Run a script file (`run FILE`), checking every line first unless `check` is False."""
    if rt.script_depth >= MAX_DEPTH:
        raise UsageError(f"scripts nested more than {MAX_DEPTH} deep (does {Path(path).name} run itself?)")
    try:
        with open(path, encoding="utf-8") as handle:
            return run_lines(rt, handle, variables=variables, keep_going=keep_going, source=path, quiet=quiet,
                             check=check)
    except FileNotFoundError:
        raise NotFound(f"script file not found: {path}") from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path} is not a UTF-8 text file ({exc.reason} at byte {exc.start})") from None


def perform(request: ShellRequest, as_json: bool = False) -> int:
    """Carry out what a command asks of the shell: `run FILE` here (its lines go back through dispatch),
    the rest in `mismartera.cli.actions`. The `perform` every caller of `dispatch.execute` passes in."""
    if isinstance(request, RunScript):
        return run_file(runtime.current(), request.path, request.variables, keep_going=request.keep_going,
                        quiet=request.quiet, check=request.check)
    return actions.perform(request, as_json)
