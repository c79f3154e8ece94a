"""`demo`: the README's first command — demo bars, a backtest of config/demo.json, its report."""

from __future__ import annotations

from mismartera.commands.context import AppContext
from mismartera.commands.registry import command
from mismartera.commands.results import Group, Message
from mismartera.commands.system import report_result


@command("", "demo", help="Seed demo bars if missing, run config/demo.json as fast as possible, show the report",
         json=True, examples=("demo", "demo --json"))
def demo(ctx: AppContext) -> Group:
    info, days, seed = ctx.system.demo(progress_factory=ctx.progress)
    report = report_result(info, days)
    note = (f"seeded {seed.bars:,} demo bars over {seed.days} trading days" if seed.seeded
            else f"using the demo bars already in the database ({seed.days} trading days)")
    return Group([Message(note, "dim"), *report.parts], data=report.data)
