"""`strategy …`: the strategies there are (built-ins and ./strategies/*.py) and what each takes."""

from __future__ import annotations

import json

from mismartera.commands.context import AppContext
from mismartera.commands.registry import Arg, command, group
from mismartera.commands.results import Column, Group, Message, Record, Table
from mismartera.strategies.catalog import FOLDER, catalog, find

GROUP = group("strategy", "The strategies you can use: built-ins and your own files in ./strategies")


@command(GROUP, "list", help="Built-in strategies and those in ./strategies, with one-line descriptions", json=True,
         examples=("strategy list", "strategy list --json"))
def list_(ctx: AppContext) -> Table:
    known = catalog()
    rows = [(info.name, info.source, info.summary if not info.error else f"does not load: {info.error}",
             ", ".join(f"{p.name}={p.default}" for p in info.params)) for info in known]
    mine = sum(1 for info in known if info.source != "built-in")
    caption = (f"{mine} from {FOLDER}/" if mine else f"no {FOLDER}/ folder here with .py strategies") + \
        "; 'strategy show NAME' for parameters and a config block"
    return Table("Strategies", (Column("Name", "name"), Column("Source", "source"), Column("What it does", "summary"),
                                Column("Parameters", "params")), rows,
                 data=[{"name": info.name, "source": info.source, "summary": info.summary, "error": info.error,
                        "params": {p.name: p.default for p in info.params}} for info in known],
                 caption=caption)


@command(GROUP, "show", help="A strategy's description, parameters (defaults, what each does) and a config block",
         args=(Arg("name", "a built-in name, a file name in ./strategies, or a path to a .py file",
                   complete="strategy", metavar="NAME"),), json=True,
         examples=("strategy show sma_crossover", "strategy show strategies/buy_the_dip.py --json"))
def show(ctx: AppContext, name: str) -> Group:
    info = find(name)
    parts: list = [Record(f"Strategy {info.name}", [("Source", info.source), ("What it does", info.summary)])]
    if info.description and info.description != info.summary:
        parts.append(Message(info.description))
    if info.params:
        parts.append(Table("Parameters", (Column("Parameter", "name"), Column("Default", "default"),
                                          Column("What it does", "help")),
                           [(p.name, json.dumps(p.default), p.help or "—") for p in info.params]))
    else:
        parts.append(Message("no parameters", "dim"))
    block = json.dumps({"strategies": [info.config]}, indent=2)
    parts.append(Message("In a session config:\n" + block))
    return Group(parts, data={"name": info.name, "source": info.source, "summary": info.summary,
                              "description": info.description,
                              "params": [{"name": p.name, "default": p.default, "help": p.help} for p in info.params],
                              "config": info.config})
