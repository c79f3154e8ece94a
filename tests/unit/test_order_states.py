"""Issue 20, point 2: an order's states and moves are one table (`execution.order_states`), and
the order gateway (`system.order_gateway`) is a supervised worker with a bounded inbox."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from fake_alpaca.waiting import wait_until

from mismartera.errors import StateError
from mismartera.execution.order_states import TRANSITIONS, OrderEvent, can_move, event_for, next_status
from mismartera.execution.orders import OrderStatus
from mismartera.system.order_gateway import OrderGateway

S, E = OrderStatus, OrderEvent


def test_final_states_have_no_way_out_and_every_open_one_can_end() -> None:
    for state in OrderStatus:
        moves = {event for (source, event) in TRANSITIONS if source is state}
        if state.final:
            assert moves == set(), state
        else:
            assert {E.FILL, E.CANCEL, E.EXPIRE} <= moves, state


def test_an_unknown_order_becomes_what_the_broker_says_never_rejected_by_a_lost_answer() -> None:
    assert next_status(S.PENDING_NEW, E.LOSE) is S.UNKNOWN
    assert next_status(S.UNKNOWN, E.ACCEPT) is S.NEW
    assert next_status(S.UNKNOWN, E.FILL) is S.FILLED
    assert next_status(S.UNKNOWN, E.REJECT) is S.REJECTED     # only Alpaca's own "rejected" does this
    assert not can_move(S.NEW, E.LOSE)                        # an order Alpaca confirmed is never unknown
    assert not can_move(S.FILLED, E.LOSE) and not can_move(S.FILLED, E.ACCEPT)
    assert next_status(S.PENDING_NEW, E.WITHDRAW) is S.CANCELLED
    assert not can_move(S.UNKNOWN, E.WITHDRAW)                # it may exist: only the broker can end it


def test_an_illegal_move_names_the_state_and_the_legal_events() -> None:
    with pytest.raises(StateError, match=r"^an order that is filled cannot accept \(legal: nothing, it is final\)$"):
        next_status(S.FILLED, E.ACCEPT)
    with pytest.raises(StateError, match=r"^an order that is new cannot withdraw \(legal: accept, fill_part, fill, "
                                         r"cancel, expire, reject\)$"):
        next_status(S.NEW, E.WITHDRAW)


@pytest.mark.parametrize(("word", "filled", "event"), [
    ("new", 0, E.ACCEPT), ("accepted", 0, E.ACCEPT), ("pending_new", 0, E.ACCEPT), ("held", 0, E.ACCEPT),
    ("partially_filled", 2, E.FILL_PART), ("pending_cancel", 2, E.FILL_PART), ("filled", 5, E.FILL),
    ("canceled", 0, E.CANCEL), ("replaced", 0, E.CANCEL), ("expired", 0, E.EXPIRE), ("done_for_day", 1, E.EXPIRE),
    ("rejected", 0, E.REJECT), ("suspended", 0, E.REJECT),
])
def test_alpacas_order_statuses_as_events(word: str, filled: float, event: OrderEvent) -> None:
    assert event_for(word, filled) is event


class Sender:
    """A broker stand-in: `send` blocks until released (a hung POST), or raises when told to."""

    def __init__(self) -> None:
        self.dispatch: Any = None
        self.sent: list[int] = []
        self.release = threading.Event()
        self.closing = threading.Event()
        self.explode = False

    def attach_dispatcher(self, dispatch: Any) -> None:
        self.dispatch = dispatch

    def send(self, order_id: int) -> None:
        if self.explode:
            raise RuntimeError("broker bug")
        self.sent.append(order_id)
        self.release.wait(5)

    def send_cancel(self, order_id: int) -> None:
        pass

    def begin_close(self) -> None:
        self.closing.set()

    def in_flight(self) -> list[Any]:
        return []

    def give_up_in_flight(self) -> list[Any]:
        return []


def test_the_gateway_sends_side_by_side_refuses_when_full_and_stops_past_a_hung_send() -> None:
    sender = Sender()
    gateway = OrderGateway(sender, inbox_size=2, parallel=2)
    assert [sender.dispatch("submit", n) for n in (1, 2)] == [True, True]
    assert sender.dispatch("submit", 3) is False               # the bounded inbox is full: refused, never blocks
    gateway.start()
    assert wait_until(lambda: sender.sent == [1, 2])            # two hung sends at once
    assert sender.dispatch("submit", 3) is True
    gateway.request_stop()
    gateway.join(1.0)
    assert not gateway.is_alive() and sender.closing.is_set()   # the hung sends did not hold the stop
    assert gateway.status().state == "stopped"
    sender.release.set()


def test_an_unexpected_error_in_a_send_fails_the_gateway_like_any_worker() -> None:
    sender = Sender()
    sender.explode = True
    failures: list[str] = []
    gateway = OrderGateway(sender, on_failure=lambda worker, exc: failures.append(f"{worker.role}: {exc}"))
    gateway.start()
    sender.dispatch("submit", 1)
    gateway.join(2.0)
    assert failures == ["orders: broker bug"]
    assert gateway.status().state == "failed"
