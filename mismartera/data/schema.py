"""The database schema, as SQLAlchemy Core tables (bulk reads and writes never build ORM objects).

Bars are keyed by (symbol, interval, ts) where `ts` is the bar's start as integer epoch seconds,
UTC. Integers keep range reads and upserts fast on SQLite and PostgreSQL alike; conversions to
and from datetimes happen at the edges (`mismartera.data.bars`).
Other instants (runs, orders, fills) are timezone-aware UTC datetimes.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

bars = Table(
    "bars",
    metadata,
    Column("symbol", String(16), primary_key=True),
    Column("interval", String(4), primary_key=True),
    Column("ts", BigInteger, primary_key=True),
    Column("open", Float, nullable=False),
    Column("high", Float, nullable=False),
    Column("low", Float, nullable=False),
    Column("close", Float, nullable=False),
    Column("volume", Float, nullable=False),
    Column("trade_count", Integer, nullable=True),
    Column("vwap", Float, nullable=True),
    sqlite_with_rowid=False,
)

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("session_name", String(200), nullable=False),
    Column("mode", String(16), nullable=False),
    Column("config", JSON, nullable=False),
    Column("state", String(16), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True), nullable=True),
    Column("heartbeat_at", DateTime(timezone=True), nullable=True),
    Column("progress", Float, nullable=False, default=0.0),
    Column("days_done", Integer, nullable=False, default=0),
    Column("days_total", Integer, nullable=False, default=0),
    Column("sim_time", DateTime(timezone=True), nullable=True),
    Column("error", Text, nullable=True),
    Column("summary", JSON, nullable=True),
    # The process that owns the run while it is active (mismartera.system.owner): with the heartbeat
    # above, how a run whose process died (kill -9, power loss) is told from one still running.
    Column("owner_pid", Integer, nullable=True),
    Column("owner_host", String(255), nullable=True),
    Column("owner_started", BigInteger, nullable=True),   # the process's start time, in clock ticks since boot
    # A live run's client order ids start with this: after a crash, the next session finds its open orders.
    Column("order_prefix", String(40), nullable=True),
    # The sweep this run is a point of (NULL for a plain `system start`); see `sweep_points`.
    Column("sweep_id", Integer, nullable=True, index=True),
)

# A parameter sweep (`sweep run`) or walk-forward (`sweep walk-forward`): the base config, the grid
# as the list of points to run, the engine, and its state. Each finished or failed point is a row
# of `sweep_points`; a finished point links to its run (whose `sweep_id` points back here).
sweeps = Table(
    "sweeps",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),            # "grid" or "walk-forward"
    Column("session_name", String(200), nullable=False),
    Column("config", JSON, nullable=False),                # the base session config
    Column("grid", JSON, nullable=False),                  # {"params": [...], "points": [...], ...}
    Column("engine", String(16), nullable=False),          # "local" or "ray"
    Column("metric", String(32), nullable=False),
    Column("state", String(16), nullable=False),           # running, finished, interrupted, failed
    Column("points_total", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True), nullable=True),
    Column("error", Text, nullable=True),
)

sweep_points = Table(
    "sweep_points",
    metadata,
    Column("sweep_id", Integer, ForeignKey("sweeps.id", ondelete="CASCADE"), primary_key=True),
    Column("point", Integer, primary_key=True),           # index into the sweep's points
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="SET NULL"), nullable=True, index=True),
    Column("params", JSON, nullable=False),
    Column("state", String(16), nullable=False),           # finished or failed
    Column("error", Text, nullable=True),
    Column("seconds", Float, nullable=True),
)

accounts = Table(
    "accounts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=True, index=True),
    Column("broker", String(32), nullable=False),
    Column("initial_cash", Float, nullable=False),
    Column("cash", Float, nullable=False),
    Column("equity", Float, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

orders = Table(
    "orders",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=True, index=True),
    Column("client_order_id", String(64), nullable=False, unique=True),
    Column("broker_order_id", String(64), nullable=True),
    Column("symbol", String(16), nullable=False),
    Column("side", String(4), nullable=False),
    Column("quantity", Float, nullable=False),
    Column("order_type", String(8), nullable=False),
    Column("limit_price", Float, nullable=True),
    Column("stop_price", Float, nullable=True),
    Column("time_in_force", String(4), nullable=False),
    Column("status", String(16), nullable=False),
    Column("filled_quantity", Float, nullable=False, default=0.0),
    Column("average_fill_price", Float, nullable=True),
    Column("strategy", String(100), nullable=True),
    Column("reason", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

fills = Table(
    "fills",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=True, index=True),
    Column("order_id", Integer, ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("symbol", String(16), nullable=False),
    Column("side", String(4), nullable=False),
    Column("quantity", Float, nullable=False),
    Column("price", Float, nullable=False),
    Column("commission", Float, nullable=False, default=0.0),
    Column("filled_at", DateTime(timezone=True), nullable=False),
)

positions = Table(
    "positions",
    metadata,
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("symbol", String(16), primary_key=True),
    Column("quantity", Float, nullable=False),
    Column("average_price", Float, nullable=False),
    Column("realized_pnl", Float, nullable=False, default=0.0),
    Column("last_price", Float, nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

daily_equity = Table(
    "daily_equity",
    metadata,
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("equity", Float, nullable=False),
    Column("cash", Float, nullable=False),
    Column("positions_value", Float, nullable=False),
    Column("realized_pnl", Float, nullable=False),
    Column("unrealized_pnl", Float, nullable=False),
    Column("trades", Integer, nullable=False, default=0),
)

# Trades and quotes: `ts` in integer epoch microseconds UTC. Several can share a microsecond, so the
# key is (symbol, ts, seq) with `seq` the row's place among those of its microsecond, as delivered
# (Alpaca's order, or the file's): importing the same data again hits the same keys. The key is
# also the (symbol, ts) index for range reads; the tables are clustered on it (no rowid in SQLite).
trades = Table(
    "trades",
    metadata,
    Column("symbol", String(16), primary_key=True),
    Column("ts", BigInteger, primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("price", Float, nullable=False),
    Column("size", Float, nullable=False),
    Column("exchange", String(8), nullable=True),
    Column("conditions", String(64), nullable=True),
    Column("trade_id", BigInteger, nullable=True),
    sqlite_with_rowid=False,
)

quotes = Table(
    "quotes",
    metadata,
    Column("symbol", String(16), primary_key=True),
    Column("ts", BigInteger, primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("bid_price", Float, nullable=False),
    Column("bid_size", Float, nullable=False),
    Column("ask_price", Float, nullable=False),
    Column("ask_size", Float, nullable=False),
    Column("bid_exchange", String(8), nullable=True),
    Column("ask_exchange", String(8), nullable=True),
    Column("conditions", String(64), nullable=True),
    sqlite_with_rowid=False,
)

# The version of each month of a series: every write of bars bumps the months it touches
# (`mismartera.data.bar_versions.mark_stale`), so the columnar replay cache knows a file is current.
bar_versions = Table(
    "bar_versions",
    metadata,
    Column("symbol", String(16), primary_key=True),
    Column("interval", String(4), primary_key=True),
    Column("month", Integer, primary_key=True),   # year * 100 + month, UTC
    Column("version", BigInteger, nullable=False),
)

Index("ix_orders_run_status", orders.c.run_id, orders.c.status)

__all__ = ["accounts", "bar_versions", "bars", "daily_equity", "fills", "metadata", "orders", "positions", "quotes",
           "runs", "sweep_points", "sweeps", "trades"]
