"""`db …`: the database itself (where it is, schema version, migrations)."""

from __future__ import annotations

from mismartera.commands.context import AppContext
from mismartera.commands.registry import command, group
from mismartera.commands.results import Column, Group, Message, Record, Table

GROUP = group("db", "The database: location, schema version, migrations")


@command(GROUP, "info", help="Database URL (password masked), schema version and row counts", json=True,
         examples=("db info", "db info --json"))
def info(ctx: AppContext) -> Group:
    details = ctx.db.info()
    head = Record("Database", [("URL", details.url), ("Dialect", details.dialect),
                               ("Schema version", details.revision or "(empty)"), ("Latest version", details.head)])
    counts = Table("Rows", (Column("Table", "table"), Column("Rows", "rows", "int")),
                   sorted(details.row_counts.items()))
    return Group([head, counts], data={"url": details.url, "dialect": details.dialect,
                                       "revision": details.revision, "head": details.head,
                                       "row_counts": details.row_counts})


@command(GROUP, "upgrade", help="Apply pending schema migrations (also done automatically on first use)",
         examples=("db upgrade",))
def upgrade(ctx: AppContext) -> Message:
    applied = ctx.db.ensure_schema()
    revision = ctx.db.current_revision()
    if applied:
        return Message(f"database upgraded to schema version {revision}", "ok")
    return Message(f"database is up to date (schema version {revision})", "ok")
