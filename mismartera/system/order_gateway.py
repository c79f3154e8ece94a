"""`OrderGateway`: the worker that talks to a live broker, so orders never hold up bars.

A strategy's `ctx.buy/sell/order/cancel` (and a manual order) returns at once: the broker records
the order `pending_new` and hands ("submit", id) to this worker's bounded inbox. Here the broker
sends it, on a short-lived thread per request, up to `parallel` at once, so one hung POST holds
neither the stop nor the orders behind it (HTTP with timeouts and retries); the answer (accepted, Alpaca's
refusal, an unknown outcome) and later fills land in the broker's mirror as order changes, which
the coordinator applies between bars (`drain_changes`: positions, the run's records). A hung or
slow broker delays orders, never bars.

A stop: `request_stop` tells the broker to send nothing more (checked just before every POST), and
`settle` — called by the coordinator on its way out — waits up to the grace for the orders still
in flight, then has them recorded `unknown`.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable
from functools import partial
from typing import Protocol, runtime_checkable

from mismartera.execution.orders import Order
from mismartera.system.detached import Detached
from mismartera.system.worker import TICK, Worker

INBOX_SIZE = 256
PARALLEL = 4              # orders (or cancels) sent at the same time
STOP_ORDER_GRACE = 10.0   # seconds a stop waits for orders in flight (`stop_order_grace_seconds`)


@runtime_checkable
class OrderSender(Protocol):
    """What the gateway needs of a live broker (`AlpacaBroker`): a broker that has these sends its
    orders over the network, so a live session sends them through a gateway."""

    def remote_order(self, client_order_id: str) -> Order | None: ...

    def attach_dispatcher(self, dispatch: Callable[[str, int], bool]) -> None: ...

    def send(self, order_id: int) -> None: ...

    def send_cancel(self, order_id: int) -> None: ...

    def begin_close(self) -> None: ...

    def in_flight(self) -> list[Order]: ...

    def give_up_in_flight(self) -> list[Order]: ...


class OrderGateway(Worker):
    """Sends a live broker's orders on its own thread.

    Args:
        broker: the live broker; the gateway attaches itself as its dispatcher.
        grace: seconds `settle` waits for orders in flight at a stop.
        inbox_size: orders and cancels that may wait to be sent; a full inbox refuses the next one.
        parallel: requests in flight at the same time.
        on_failure: as for every worker (an unexpected error fails the session).
    """

    role = "orders"

    def __init__(self, broker: OrderSender, *, grace: float = STOP_ORDER_GRACE, inbox_size: int = INBOX_SIZE,
                 parallel: int = PARALLEL, on_failure: Callable | None = None) -> None:
        super().__init__(inbox_size=inbox_size, on_failure=on_failure)
        self.broker = broker
        self.parallel = parallel
        self.grace = grace
        self.sent = 0
        self.cancels = 0
        broker.attach_dispatcher(self.dispatch)

    def dispatch(self, kind: str, order_id: int) -> bool:
        """Queue ("submit" | "cancel", order id); False when the inbox is full (never blocks)."""
        try:
            self.inbox.put_nowait((kind, order_id))
        except queue.Full:
            return False
        return True

    def request_stop(self) -> None:
        self.broker.begin_close()   # before anything else: no order may be sent after a stop
        super().request_stop()

    def loop(self) -> None:
        """Take orders in turn, each sent on its own short-lived thread, at most `parallel` at a
        time: one POST hanging on a silent server holds neither the stop nor the orders behind it.
        At a stop the ones still running are left to their HTTP timeout (the broker, closing,
        sends nothing after them; their answers still land in its mirror)."""
        running: list[Detached] = []
        self._publish()
        while not self.stopping:
            running = self._reap(running)
            if len(running) >= self.parallel:
                self.stop_event.wait(TICK)
                continue
            item = self.next_item(TICK)
            if item is None:
                self._publish()
                continue
            kind, order_id = item
            action: Callable[[int], None] = self.broker.send if kind == "submit" else self.broker.send_cancel
            running.append(Detached(partial(action, order_id), f"{self.role}-request"))
            if kind == "submit":
                self.sent += 1
            else:
                self.cancels += 1
            self.beat(1, current=f"{len(running)} request(s) in flight")
            self._publish()
        self._publish()

    def _reap(self, running: list[Detached]) -> list[Detached]:
        """The calls still running; an error the broker did not expect is raised here, on the
        gateway's thread, so the session fails."""
        still = []
        for call in running:
            if call.running:
                still.append(call)
            else:
                call.check()
        return still

    def _publish(self) -> None:
        self.beat(0, detail=f"{self.sent} sent, {self.cancels} cancel(s), {self.inbox.qsize()} queued")
        self.publish()

    def settle(self, grace: float | None = None, stopping: bool = True) -> list[Order]:
        """The session is ending: wait up to `grace` seconds for the orders in flight to get
        Alpaca's answer (the broker's poller looks unknown ones up meanwhile), then return the ones
        still `unknown`. At a stop nothing more is sent from the start (queued orders are
        withdrawn); at the close (`stopping` False) the queued ones, the flatten's say, still go
        out within the grace. Called on the coordinator's thread; it does no I/O itself, so it
        returns on time whatever the broker does."""
        if stopping:
            self.broker.begin_close()
        deadline = time.monotonic() + (self.grace if grace is None else grace)
        while time.monotonic() < deadline:
            if not self.broker.in_flight():
                break
            self._withdraw_queued()
            time.sleep(TICK)
        self.broker.begin_close()
        self._withdraw_queued()
        return self.broker.give_up_in_flight()

    def _withdraw_queued(self) -> None:
        """Orders still in the inbox once the gateway stopped are never sent: the broker withdraws
        them (its `send` sees the stop and sends nothing)."""
        if self.is_alive() and not self.stopping:
            return   # the gateway's own thread takes them (sending nothing once the broker closes)
        while True:
            try:
                kind, order_id = self.inbox.get_nowait()
            except queue.Empty:
                return
            if kind == "submit":
                self.broker.send(order_id)

