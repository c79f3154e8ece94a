"""`LiveFakes`: the fakes a live session talks to, as the `live_fakes` fixture
(`fake_alpaca.fixtures`) gives them, and the recording strategy's file for session configs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fake_alpaca.brokerage import FakeBrokerage
from fake_alpaca.server import FakeAlpaca
from fake_alpaca.stream_server import FakeDataStream, FakeTradingStream

STRATEGY_FILE = Path(__file__).resolve().parent / "strategies.py"


@dataclass
class LiveFakes:
    """Everything a live session talks to: `rest` serves market data and the paper account
    (`brokerage`, 50,000 cash), `data_ws` the bar stream, `trade_ws` the trade updates."""

    rest: FakeAlpaca
    brokerage: FakeBrokerage
    data_ws: FakeDataStream
    trade_ws: FakeTradingStream

    def env(self, home: Path | None = None) -> dict[str, str]:
        """Settings for a session (or a `mismartera` subprocess) that uses these fakes."""
        out = {**self.rest.env(), "ALPACA_STREAM_URL": self.data_ws.url, "ALPACA_TRADING_STREAM_URL": self.trade_ws.url}
        if home is not None:
            out["MISMARTERA_HOME"] = str(home)
        return out
