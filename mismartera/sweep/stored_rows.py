"""A run's rows copied between two SQLite databases as SQLite stores them (no conversions).

A sweep point's run is written by its worker into a scratch SQLite database and copied into the
user's database by the parent. When the user's database is SQLite too, the values can travel as
stored (datetimes as SQLite's text, JSON as text): the worker reads them with plain SQL, the parent
inserts them with the driver's `executemany`, and neither side converts a value. Only the run id
(the first column of every table) and the client order ids (which embed the run id) change on the
way; a fill finds its new order by client order id, as the recorder's own inserts do.

Any other database gets typed rows through SQLAlchemy instead (`SweepStore`).
"""

from __future__ import annotations

from typing import Any

from mismartera.system.recorder import FILL_KEYS, ORDER_KEYS

POSITION_KEYS = ("run_id", "symbol", "quantity", "average_price", "realized_pnl", "last_price", "updated_at")
DAILY_KEYS = ("run_id", "day", "equity", "cash", "positions_value", "realized_pnl", "unrealized_pnl", "trades")

_READ = {
    "orders": f"SELECT {', '.join(ORDER_KEYS)} FROM orders WHERE run_id = ? ORDER BY id",
    "fills": f"SELECT {', '.join('f.' + k for k in FILL_KEYS)}, o.client_order_id FROM fills f "
             "JOIN orders o ON o.id = f.order_id WHERE f.run_id = ? ORDER BY f.id",
    "positions": f"SELECT {', '.join(POSITION_KEYS)} FROM positions WHERE run_id = ? ORDER BY symbol",
    "daily_equity": f"SELECT {', '.join(DAILY_KEYS)} FROM daily_equity WHERE run_id = ? ORDER BY day",
}


def _insert(table: str, keys: tuple[str, ...]) -> str:
    return f"INSERT INTO {table} ({', '.join(keys)}) VALUES ({', '.join('?' * len(keys))})"


_WRITE = {
    "orders": _insert("orders", ORDER_KEYS),
    "fills": f"INSERT INTO fills ({', '.join(FILL_KEYS)}, order_id) VALUES ({', '.join('?' * len(FILL_KEYS))}, "
             "(SELECT id FROM orders WHERE client_order_id = ?))",
    "positions": _insert("positions", POSITION_KEYS),
    "daily_equity": _insert("daily_equity", DAILY_KEYS),
}


def read_stored(conn: Any, run_id: int) -> dict[str, list[tuple]]:
    """Every row of the run's orders, fills, positions and daily equity, as stored."""
    return {table: list(conn.exec_driver_sql(sql, (run_id,)).fetchall()) for table, sql in _READ.items()}


def write_stored(conn: Any, stored: dict[str, list[tuple]], old_run_id: int, new_run_id: int) -> None:
    """Insert rows read by `read_stored` for the run `new_run_id` (an SQLite connection)."""
    old, new = f"run{old_run_id}-", f"run{new_run_id}-"
    cut = len(old)

    def client(text: str) -> str:
        return new + text[cut:] if text.startswith(old) else text

    rows = stored["orders"]
    if rows:
        conn.exec_driver_sql(_WRITE["orders"], [(new_run_id, client(row[1]), *row[2:]) for row in rows])
    rows = stored["fills"]
    if rows:
        conn.exec_driver_sql(_WRITE["fills"], [(new_run_id, *row[1:-1], client(row[-1])) for row in rows])
    for table in ("positions", "daily_equity"):
        rows = stored[table]
        if rows:
            conn.exec_driver_sql(_WRITE[table], [(new_run_id, *row[1:]) for row in rows])
