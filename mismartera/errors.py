"""Exit codes and the error tree every part of mismartera raises.

    MismarteraError (1)         a command failed
    ├── UsageError (2)          the command line itself is wrong
    ├── StateError (3)          the system is in the wrong state for the request
    ├── ConfigError (4)         a settings or session-config file is invalid
    ├── WaitTimeout (5)         a wait ran out of time
    ├── Interrupted (130)       Ctrl-C / SIGTERM
    ├── NotFound (1)            a symbol, run, order or file that does not exist
    ├── DataError (1)           bad input data (CSV rows, bars)
    └── ExternalServiceError (1)  Alpaca or another server failed or refused

The one wrapper in `mismartera.cli.dispatch` turns any of these into a single line and its exit
code; anything else is an internal error whose traceback goes to the log file.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1
    USAGE = 2
    WRONG_STATE = 3
    BAD_CONFIG = 4
    TIMEOUT = 5
    INTERRUPTED = 130


class MismarteraError(Exception):
    """Base of every error meant to be shown to the user as one line."""

    exit_code: ExitCode = ExitCode.FAILED

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(MismarteraError):
    exit_code = ExitCode.USAGE

    def __init__(self, message: str, usage: str | None = None) -> None:
        super().__init__(message)
        self.usage = usage


class StateError(MismarteraError):
    exit_code = ExitCode.WRONG_STATE


class ConfigError(MismarteraError):
    """A config file is invalid; `problems` holds one line per problem."""

    exit_code = ExitCode.BAD_CONFIG

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        self.problems = list(problems or [])
        full = message if not self.problems else message + "\n" + "\n".join(self.problems)
        super().__init__(full)


class WaitTimeout(MismarteraError):
    exit_code = ExitCode.TIMEOUT


class Interrupted(MismarteraError):
    exit_code = ExitCode.INTERRUPTED


class NotFound(MismarteraError):
    pass


class DataError(MismarteraError):
    pass


class ExternalServiceError(MismarteraError):
    pass
