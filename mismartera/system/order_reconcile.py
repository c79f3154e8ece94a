"""Orders an earlier live run left open — `unknown`, `pending_new`, or `new`/`partially_filled` at
the broker when it stopped — settled with the broker at the next live start: each is looked up by
its client order id, its stored row takes the broker's status,
filled quantity and price, and a fill the run never heard of is stored with it, so the records
agree with the account (whose positions the live broker adopts at its start anyway).

A broker with no order under that id after a whole session means the order never reached it: the
row becomes `rejected` with that reason. A look-up that fails leaves the row as it was, for the
next start.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import insert, select, update

from mismartera.data.database import Database
from mismartera.data.schema import fills, orders
from mismartera.errors import MismarteraError
from mismartera.execution.account import EPSILON
from mismartera.execution.orders import Order, OrderStatus

log = logging.getLogger("mismartera.system")

UNSETTLED = tuple(status.value for status in OrderStatus if status.open)
NEVER_SENT = (OrderStatus.UNKNOWN.value, OrderStatus.PENDING_NEW.value)   # may never have reached it
NEVER_ARRIVED = "never reached the broker (it has no order with this client id)"


@dataclass(frozen=True)
class Reconciled:
    """One stored order settled: its run, client id, the status before and after, what filled."""

    run_id: int | None
    client_order_id: str
    before: str
    after: str
    filled_quantity: float


def broker_client_id(run_id: int | None, stored: str) -> str:
    """The client id the broker knows an order by: the recorder stores it as `run{run_id}-{id}`."""
    return stored.removeprefix(f"run{run_id}-")


def reconcile_open_orders(db: Database, look_up: Callable[[str], Order | None]) -> list[Reconciled]:
    """Settle every stored order still open (unknown, pending_new, new, …) with `look_up(client_order_id)` (the
    live broker's `remote_order`: the broker's view of the order, or None when it has none)."""
    with db.engine.connect() as conn:
        rows = conn.execute(select(orders).where(orders.c.status.in_(UNSETTLED)).order_by(orders.c.id)).all()
    done: list[Reconciled] = []
    for row in rows:
        try:
            remote = look_up(broker_client_id(row.run_id, row.client_order_id))
        except MismarteraError as exc:
            log.warning("could not reconcile order %s of run %s: %s", row.client_order_id, row.run_id, exc)
            continue
        with db.begin() as conn:
            if remote is not None and remote.status.value == row.status \
                    and abs(remote.filled_quantity - row.filled_quantity) <= EPSILON:
                continue   # still open at the broker, as recorded
            if remote is None:
                if row.status not in NEVER_SENT:
                    log.warning("order %s of run %s was %s but the broker has no such order now; left as it was",
                                row.client_order_id, row.run_id, row.status)
                    continue
                conn.execute(update(orders).where(orders.c.id == row.id).values(
                    status=OrderStatus.REJECTED.value, reason=NEVER_ARRIVED))
                done.append(Reconciled(row.run_id, row.client_order_id, row.status, OrderStatus.REJECTED.value,
                                       row.filled_quantity))
                continue
            delta = remote.filled_quantity - row.filled_quantity
            if delta > EPSILON:
                before = (row.average_fill_price or 0.0) * row.filled_quantity
                price = ((remote.average_fill_price or 0.0) * remote.filled_quantity - before) / delta
                conn.execute(insert(fills).values(
                    run_id=row.run_id, order_id=row.id, symbol=row.symbol, side=row.side, quantity=delta,
                    price=price, commission=0.0, filled_at=remote.updated_at))
            conn.execute(update(orders).where(orders.c.id == row.id).values(
                status=remote.status.value, filled_quantity=remote.filled_quantity,
                average_fill_price=remote.average_fill_price, reason=None, updated_at=remote.updated_at))
        done.append(Reconciled(row.run_id, row.client_order_id, row.status, remote.status.value,
                               remote.filled_quantity))
    for item in done:
        log.info("reconciled order %s of run %s: %s -> %s (%g filled)", item.client_order_id, item.run_id,
                 item.before, item.after, item.filled_quantity)
    return done
