"""SimulatedClock: instants given as datetimes or as epoch seconds read back the same, from any thread."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from mismartera.timekeeping import SimulatedClock


def test_set_epoch_reads_back_as_a_utc_datetime_and_mixes_with_set() -> None:
    clock = SimulatedClock(datetime(2024, 1, 2, 14, 30, tzinfo=UTC))
    clock.set_epoch(1_704_206_000)
    assert clock.now() == datetime(2024, 1, 2, 14, 33, 20, tzinfo=UTC)
    assert clock.now() is clock.now()   # built once per instant
    clock.set(datetime(2024, 1, 2, 10, 0, tzinfo=UTC))
    assert clock.now() == datetime(2024, 1, 2, 10, 0, tzinfo=UTC)
    clock.set_epoch(1_704_206_000)
    assert clock.advance(timedelta(minutes=1)) == datetime(2024, 1, 2, 14, 34, 20, tzinfo=UTC)
    assert clock.now() == datetime(2024, 1, 2, 14, 34, 20, tzinfo=UTC)


def test_a_reader_racing_the_writer_never_leaves_a_stale_instant_behind() -> None:
    clock = SimulatedClock()
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            clock.now()

    readers = [threading.Thread(target=read) for _ in range(2)]
    for reader in readers:
        reader.start()
    try:
        for seconds in range(1_700_000_000, 1_700_000_000 + 60 * 20_000, 60):
            clock.set_epoch(seconds)
            assert clock.now().timestamp() == seconds
    finally:
        stop.set()
        for reader in readers:
            reader.join(5)
