"""JSON for config files, stricter than `json.loads`: one clear line for what it would let through.

- a key given twice in one object is an error naming the key and both lines (json keeps the last);
- NaN, Infinity and numbers too large for a float (1e400) are errors naming the field;
- nesting deeper than `MAX_DEPTH` is an error (json would recurse until RecursionError);
- a UTF-8 byte-order mark is accepted (`decode`).

One linear pass over the tokens finds all of this (strings, brackets, commas, colons, numbers and
the bare words; nothing backtracks), then `json.loads` builds the value.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

MAX_DEPTH = 32
_TOKENS = re.compile(r'"(?:[^"\\\n]|\\.)*"|[{}\[\]:,\n]|-?(?:\d+)(?:\.\d+)?(?:[eE][+-]?\d+)?|-?Infinity|NaN')


class JsonProblem(ValueError):
    """What is wrong, with the line it is on (the message is one line)."""


def decode(data: bytes, source: str) -> str:
    """The text of a config file: UTF-8, a byte-order mark allowed."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise JsonProblem(f"{source}: not UTF-8 text (byte {exc.start}; expected a UTF-8 JSON file)") from None


def _path(frames: list[list[Any]]) -> str:
    out = ""
    for kind, key, _seen in frames:
        if kind == "{" and key is not None:
            out += ("." if out else "") + str(key)
        elif kind == "[" and key is not None:
            out += f"[{key}]"
    return out or "(top level)"


def _scan(text: str, source: str) -> None:
    """Raise JsonProblem for duplicate keys, non-finite numbers and deep nesting (see the module doc)."""
    frames: list[list[Any]] = []   # [kind, current key or index, {key: line} for objects]
    line = 1
    pending: tuple[str, int] | None = None
    expect_key = False
    for match in _TOKENS.finditer(text):
        token = match.group()
        first = token[0]
        if first == "\n":
            line += 1
        elif first in "{[":
            if frames and frames[-1][0] == "[" and frames[-1][1] is None:
                frames[-1][1] = 0
            frames.append([first, None, {} if first == "{" else None])
            if len(frames) > MAX_DEPTH:
                raise JsonProblem(f"{source}: line {line}: nested more than {MAX_DEPTH} levels deep "
                                  "(a session config needs a few)")
            expect_key = first == "{"
        elif first in "}]":
            if frames:
                frames.pop()
            expect_key = False
        elif first == '"':
            if expect_key and frames and frames[-1][0] == "{":
                pending = (json.loads(token), line)
            elif frames and frames[-1][0] == "[" and frames[-1][1] is None:
                frames[-1][1] = 0
        elif first == ":":
            if pending is not None and frames:
                key, at = pending
                seen = frames[-1][2]
                if key in seen:
                    where = "the top-level object" if len(frames) == 1 else _path(frames[:-1])
                    raise JsonProblem(f"{source}: key '{key[:40]}' is given twice in {where} "
                                      f"(lines {seen[key]} and {at}; expected each key once)")
                seen[key] = at
                frames[-1][1] = key
            pending = None
            expect_key = False
        elif first == ",":
            if frames and frames[-1][0] == "[":
                frames[-1][1] = (frames[-1][1] or 0) + 1
            expect_key = bool(frames) and frames[-1][0] == "{"
        else:  # a number or a bare NaN / Infinity
            if frames and frames[-1][0] == "[" and frames[-1][1] is None:
                frames[-1][1] = 0
            if not math.isfinite(float(token)):
                raise JsonProblem(f"{source}: {_path(frames)}: {token[:40]} is not a finite number "
                                  f"(line {line}; expected a finite number)")


def loads(text: str, source: str) -> Any:
    """Parse config JSON strictly (see the module doc); JsonProblem with one line when it is not."""
    _scan(text, source)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise JsonProblem(f"{source}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except RecursionError:  # pragma: no cover - _scan refuses deep nesting first
        raise JsonProblem(f"{source}: nested more than {MAX_DEPTH} levels deep") from None
