"""General commands that belong to no group: settings and logging."""

from __future__ import annotations

import logging

from mismartera.commands.context import AppContext
from mismartera.commands.registry import Arg, command, group
from mismartera.commands.results import Message, Record

GROUP = group("config", "Effective settings (secrets masked)")

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


@command(GROUP, "show", help="Effective settings: folders, database URL, log file, Alpaca endpoints (keys masked)",
         json=True, examples=("config show",))
def show(ctx: AppContext) -> Record:
    return Record("Settings", ctx.settings.describe())


@command("", "log-level", help="Set the level of the log file for this process",
         args=(Arg("level", "one of DEBUG, INFO, WARNING, ERROR", choices=LOG_LEVELS),),
         examples=("log-level DEBUG",))
def log_level(ctx: AppContext, level: str) -> Message:
    logging.getLogger("mismartera").setLevel(level.upper())
    return Message(f"log level set to {level.upper()} (log file: {ctx.settings.log_file})", "ok")
