"""Issue 15, point 7: feeding a long trailing history looks at the stop event between chunks."""

from __future__ import annotations

from types import SimpleNamespace

from mismartera.system.coordinator import HISTORY_CHUNK, Coordinator


class Counting:
    """Stands in for the coordinator: counts the bars fed, and is stopped after the first chunk."""

    def __init__(self) -> None:
        self.fed = 0
        self.data = SimpleNamespace(intervals=["1m"], series=lambda symbol, interval: self, feeds={"AAPL": {"1m": []}})
        self.clock = None

    def append(self, bar: object) -> None:
        self.fed += 1

    @property
    def stopping(self) -> bool:
        return self.fed >= HISTORY_CHUNK


def test_a_stop_during_a_long_history_is_seen_after_one_chunk() -> None:
    rows = [(60 * i, 1.0, 1.0, 1.0, 1.0, 1.0, None, None) for i in range(10 * HISTORY_CHUNK)]
    fake = Counting()
    assert Coordinator._load_history(fake, {"1m": {"AAPL": rows}}) is False  # type: ignore[arg-type]
    assert fake.fed == HISTORY_CHUNK
