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

from mismartera.cli.dispatch import describe_error, execute, print_failure
from mismartera.cli.parser import check_line_length, parse_line
from mismartera.cli.runtime import Runtime
from mismartera.commands import load_all
from mismartera.errors import ExitCode, NotFound, UsageError

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


def run_lines(rt: Runtime, lines: Iterable[str], *, variables: Mapping[str, str] | None = None,
              keep_going: bool = False, source: str | None = None) -> int:
    """Run each command line; returns 0, or the exit code of the (first) failing line."""
    registry = load_all()
    variables = dict(variables or {})
    first_failure = 0
    rt.script_depth += 1
    where = "" if rt.script_depth == 1 or source is None else f"{Path(source).name} "
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
                rt.out.print(Text(PROMPT + rt.redactor.mask(line)), soft_wrap=True, highlight=False)
                parsed = parse_line(registry, line)
            except UsageError as exc:
                print_failure(rt.err, describe_error(exc), prefix=prefix)
                code = int(exc.exit_code)
            else:
                code = execute(rt.ctx, parsed.command, parsed.kwargs, as_json=parsed.json, out=rt.out,
                               err=rt.err, debug=rt.debug, prefix=prefix)
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


def run_file(rt: Runtime, path: str, variables: Mapping[str, str] | None = None, *, keep_going: bool = False) -> int:
    """Run a script file (`run FILE`)."""
    if rt.script_depth >= MAX_DEPTH:
        raise UsageError(f"scripts nested more than {MAX_DEPTH} deep (does {Path(path).name} run itself?)")
    try:
        with open(path, encoding="utf-8") as handle:
            return run_lines(rt, handle, variables=variables, keep_going=keep_going, source=path)
    except FileNotFoundError:
        raise NotFound(f"script file not found: {path}") from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path} is not a UTF-8 text file ({exc.reason} at byte {exc.start})") from None
