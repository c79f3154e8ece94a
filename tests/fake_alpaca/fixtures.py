"""The `fake_alpaca` pytest fixture: a started `FakeAlpaca`, stopped after the test.

    pytest_plugins = ["fake_alpaca.fixtures"]   # at the top of a test module

    def test_something(fake_alpaca, run_cli):
        fake_alpaca.add_bars("AAPL", rows)
        run_cli(..., env=fake_alpaca.env())
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fake_alpaca.server import FakeAlpaca


@pytest.fixture
def fake_alpaca() -> Iterator[FakeAlpaca]:
    with FakeAlpaca() as server:
        yield server
