"""BarStore and migrations, on SQLite and (in CI) PostgreSQL."""

from sqlalchemy import inspect

from mismartera.data.bar_store import BarStore
from mismartera.data.database import HEAD_REVISION, Database

DAY1 = 1_732_890_600  # 2024-11-29 14:30 UTC
DAY0 = DAY1 - 86_400 * 3


def bars(start: int, n: int, base: float = 100.0) -> list[tuple]:
    return [(start + 60 * i, base + i, base + i + 0.5, base + i - 0.5, base + i + 0.25, 1000.0 + i, 10 + i, None)
            for i in range(n)]


def test_migrations_from_empty(database: Database) -> None:
    assert database.current_revision() is None
    assert database.ensure_schema() is True
    assert database.current_revision() == HEAD_REVISION
    tables = set(inspect(database.engine).get_table_names())
    assert {"bars", "runs", "accounts", "orders", "fills", "positions", "daily_equity", "alembic_version"} <= tables
    assert database.ensure_schema() is False


def test_upsert_twice_gives_the_same_rows(database: Database) -> None:
    store = BarStore(database)
    rows = bars(DAY1, 210)
    store.upsert("AAPL", "1m", rows)
    first = store.read("AAPL", "1m", 0, 2**40)
    store.upsert("AAPL", "1m", rows)
    assert store.read("AAPL", "1m", 0, 2**40) == first
    assert store.count("AAPL", "1m") == 210
    assert first == [tuple(r) for r in rows]


def test_upsert_updates_changed_values(database: Database) -> None:
    store = BarStore(database)
    store.upsert("AAPL", "1m", bars(DAY1, 3))
    changed = list(bars(DAY1, 3))
    changed[1] = (changed[1][0], 1.0, 2.0, 0.5, 1.5, 7.0, None, 1.2)
    store.upsert("AAPL", "1m", changed)
    assert store.read("AAPL", "1m", 0, 2**40)[1] == changed[1]


def test_range_reads_return_exactly_that_day_in_order(database: Database) -> None:
    store = BarStore(database)
    store.upsert("AAPL", "1m", bars(DAY0, 390))
    store.upsert("AAPL", "1m", bars(DAY1, 210))
    store.upsert("MSFT", "1m", bars(DAY1, 210, base=400))
    store.upsert("AAPL", "5m", bars(DAY1, 42))
    day = store.read("AAPL", "1m", DAY1, DAY1 + 86_400)
    assert len(day) == 210 and day[0][0] == DAY1 and day[-1][0] == DAY1 + 209 * 60
    assert [r[0] for r in day] == sorted(r[0] for r in day)
    many = store.read_many(["AAPL", "MSFT", "NVDA"], "1m", DAY1, DAY1 + 86_400)
    assert len(many["AAPL"]) == 210 and len(many["MSFT"]) == 210 and many["NVDA"] == []
    assert many["MSFT"][0][1] == 400.0
    assert store.latest("AAPL") == tuple(bars(DAY1, 210)[-1])
    summary = {(s.symbol, s.interval): s.rows for s in store.series()}
    assert summary == {("AAPL", "1m"): 600, ("AAPL", "5m"): 42, ("MSFT", "1m"): 210}
    assert store.symbols() == ["AAPL", "MSFT"]


def test_delete_by_range(database: Database) -> None:
    store = BarStore(database)
    store.upsert("AAPL", "1m", bars(DAY1, 10))
    assert store.delete("AAPL", "1m", DAY1 + 120, DAY1 + 300) == 3
    assert store.count("AAPL", "1m") == 7
    assert store.delete("AAPL") == 7


def test_failed_transaction_leaves_nothing(database: Database) -> None:
    store = BarStore(database)
    try:
        with database.begin() as conn:
            store.upsert("AAPL", "1m", bars(DAY1, 50), conn=conn)
            raise RuntimeError("injected")
    except RuntimeError:
        pass
    assert store.count("AAPL", "1m") == 0


def test_info_counts_rows(database: Database) -> None:
    BarStore(database).upsert("AAPL", "1m", bars(DAY1, 5))
    info = database.info()
    assert info.row_counts["bars"] == 5 and info.revision == HEAD_REVISION
