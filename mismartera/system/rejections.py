"""`RejectionTally`: rejected orders counted by reason, so the log says each reason once a day with a
count (a strategy short of buying power can be rejected on every bar) and the report names the main one.

A reason's kind is its text without the details in brackets: `rejected: insufficient buying power
(order needs 54886.00, available 49567.21)` counts as `insufficient buying power`.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import date
from typing import Any

log = logging.getLogger("mismartera.orders")


def reason_kind(reason: str | None) -> str:
    """The reason without its `rejected: ` prefix and its bracketed details."""
    text = (reason or "no reason given").removeprefix("rejected: ")
    return text.split(" (", 1)[0].strip() or "no reason given"


class RejectionTally:
    """Counts of rejected orders by kind of reason: for the day (logged and reset at its end) and the run."""

    def __init__(self) -> None:
        self.total: Counter[str] = Counter()
        self._day: Counter[str] = Counter()
        self._example: dict[str, str] = {}    # the day's first full reason of each kind, with its order

    def add(self, order: Any) -> None:
        """An order reported as rejected (each is reported once, when the broker rejects it)."""
        kind = reason_kind(order.reason)
        self.total[kind] += 1
        self._day[kind] += 1
        if kind not in self._example:
            self._example[kind] = (f"{order.side} {order.quantity:g} {order.symbol} by {order.strategy or 'manual'}: "
                                   f"{order.reason}")

    @property
    def count(self) -> int:
        return sum(self.total.values())

    def end_day(self, day: date) -> None:
        """Log one line per kind of reason for the day, with its count and the first such order."""
        for kind, count in self._day.most_common():
            log.info("%s: %d order(s) rejected: %s (first: %s)", day.isoformat(), count, kind, self._example[kind])
        self._day.clear()
        self._example.clear()

    def summary(self) -> dict[str, Any]:
        """For the run's report: the count, and every kind of reason with its count, commonest first."""
        return {"rejected_orders": self.count, "rejection_reasons": dict(self.total.most_common())}
