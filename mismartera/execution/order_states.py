"""An order's life as one table: (status, event) -> the next status.

    pending_new ──accept──▶ new ──fill_part──▶ partially_filled ──fill──▶ filled
    pending_new ──lose──▶ unknown        (sent; the answer was lost: a timeout, a reset connection)
    unknown ──accept / fill_part / fill / cancel / expire / reject──▶ as the broker says
    pending_new ──withdraw──▶ cancelled  (never sent: the session was stopping)
    pending_new, unknown, new ──reject──▶ rejected (only on a definite answer of the broker)
    new, partially_filled ──cancel / expire──▶ cancelled / expired

Filled, cancelled, expired and rejected are final: nothing moves an order out of them. An event the
table has no entry for raises `StateError`; callers that merely hear the same news twice (a trade
update and a poll) ask `can_move` first. States are the `OrderStatus` values; events are verbs.
"""

from __future__ import annotations

from enum import StrEnum

from mismartera.errors import StateError
from mismartera.execution.orders import OrderStatus


class OrderEvent(StrEnum):
    ACCEPT = "accept"          # the broker has the order (new, accepted, pending_cancel, held, …)
    FILL_PART = "fill_part"    # some of it filled
    FILL = "fill"              # all of it filled
    CANCEL = "cancel"          # cancelled at the broker (or replaced)
    EXPIRE = "expire"          # a DAY order not filled by the close
    REJECT = "reject"          # refused: a risk limit before sending, or the broker's definite no
    LOSE = "lose"              # sent, and its outcome is unknown
    WITHDRAW = "withdraw"      # taken back before it was sent


S, E = OrderStatus, OrderEvent

_MAY_STILL_HAPPEN = (S.PENDING_NEW, S.UNKNOWN, S.NEW, S.PARTIALLY_FILLED)

TRANSITIONS: dict[tuple[OrderStatus, OrderEvent], OrderStatus] = {
    (S.PENDING_NEW, E.ACCEPT): S.NEW,
    (S.UNKNOWN, E.ACCEPT): S.NEW,
    (S.NEW, E.ACCEPT): S.NEW,
    (S.PARTIALLY_FILLED, E.ACCEPT): S.PARTIALLY_FILLED,
    (S.PENDING_NEW, E.LOSE): S.UNKNOWN,
    (S.UNKNOWN, E.LOSE): S.UNKNOWN,
    (S.PENDING_NEW, E.WITHDRAW): S.CANCELLED,
    (S.PENDING_NEW, E.REJECT): S.REJECTED,
    (S.UNKNOWN, E.REJECT): S.REJECTED,
    (S.NEW, E.REJECT): S.REJECTED,
    **{(state, E.FILL_PART): S.PARTIALLY_FILLED for state in _MAY_STILL_HAPPEN},
    **{(state, E.FILL): S.FILLED for state in _MAY_STILL_HAPPEN},
    **{(state, E.CANCEL): S.CANCELLED for state in _MAY_STILL_HAPPEN},
    **{(state, E.EXPIRE): S.EXPIRED for state in _MAY_STILL_HAPPEN},
}


def can_move(status: OrderStatus, event: OrderEvent) -> bool:
    return (status, event) in TRANSITIONS


def next_status(status: OrderStatus, event: OrderEvent) -> OrderStatus:
    """The status after `event`, or StateError naming the status and the events legal from it."""
    target = TRANSITIONS.get((status, event))
    if target is None:
        legal = [e.value for e in OrderEvent if (status, e) in TRANSITIONS]
        raise StateError(f"an order that is {status.value} cannot {event.value} "
                         f"(legal: {', '.join(legal) or 'nothing, it is final'})")
    return target


# Alpaca's order statuses as events. Anything not listed means the broker holds the order and it
# may still fill (pending_new, accepted, held, pending_cancel, calculated, …).
_ALPACA_EVENTS = {
    "filled": E.FILL,
    "partially_filled": E.FILL_PART,
    "canceled": E.CANCEL,
    "replaced": E.CANCEL,
    "expired": E.EXPIRE,
    "done_for_day": E.EXPIRE,
    "rejected": E.REJECT,
    "suspended": E.REJECT,
}


def event_for(broker_status: str, filled_quantity: float) -> OrderEvent:
    """The event a broker's report of an order amounts to (its status word and filled quantity)."""
    event = _ALPACA_EVENTS.get(broker_status)
    if event is not None:
        return event
    return E.FILL_PART if filled_quantity > 1e-9 else E.ACCEPT
