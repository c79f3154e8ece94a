"""Round trips: fills paired into closed trades, first in first out per symbol.

A round trip is one entry lot (or the part of it) closed by one exit fill: buy 100 then sell 50
twice is two trades; buy 50 twice then sell 100 is two trades as well. Each side's commission is
split across its shares, so every trade carries its own share of both commissions, and a fill
that flips the position closes the old lots and opens a new one with the rest.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from mismartera.execution.orders import Fill, Side

EPSILON = 1e-9


@dataclass(frozen=True, slots=True)
class RoundTrip:
    symbol: str
    direction: str            # "long" | "short"
    quantity: float
    entry_price: float
    exit_price: float
    entry_at: datetime
    exit_at: datetime
    commission: float         # both sides' share
    pnl: float                # net of commission

    @property
    def won(self) -> bool:
        return self.pnl > 0.0


class _Lot:
    __slots__ = ("at", "commission_per_share", "price", "quantity")

    def __init__(self, quantity: float, price: float, commission_per_share: float, at: datetime) -> None:
        self.quantity = quantity              # signed: > 0 long, < 0 short
        self.price = price
        self.commission_per_share = commission_per_share
        self.at = at


class Ledger:
    """Open lots per symbol, and the trades closed so far: counted always, kept unless asked not to.

    With `keep_trades=False` only the count, the wins and each symbol's closed P&L are kept, so a
    run of any length holds no more than its open lots (the stored fills can rebuild every trade).
    """

    def __init__(self, keep_trades: bool = True) -> None:
        self.lots: dict[str, deque[_Lot]] = {}
        self.trades: list[RoundTrip] = []
        self.keep_trades = keep_trades
        self.count = 0                          # trades closed
        self.wins = 0                           # of which closed with pnl > 0
        self.closed_pnl: dict[str, float] = {}  # symbol -> P&L of its closed trades, summed in order

    def add(self, fill: Fill) -> None:
        if fill.quantity <= 0:
            return
        signed = fill.quantity if fill.side == Side.BUY else -fill.quantity
        per_share = fill.commission / fill.quantity
        lots = self.lots.setdefault(fill.symbol, deque())
        remaining = abs(signed)
        while remaining > EPSILON and lots and (lots[0].quantity > 0) != (signed > 0):
            lot = lots[0]
            matched = min(remaining, abs(lot.quantity))
            direction = 1.0 if lot.quantity > 0 else -1.0
            commission = matched * (lot.commission_per_share + per_share)
            pnl = matched * (fill.price - lot.price) * direction - commission
            self.count += 1
            self.wins += pnl > 0.0
            self.closed_pnl[fill.symbol] = self.closed_pnl.get(fill.symbol, 0.0) + pnl
            if self.keep_trades:
                self.trades.append(RoundTrip(
                    symbol=fill.symbol,
                    direction="long" if direction > 0 else "short",
                    quantity=matched,
                    entry_price=lot.price,
                    exit_price=fill.price,
                    entry_at=lot.at,
                    exit_at=fill.filled_at,
                    commission=commission,
                    pnl=pnl,
                ))
            lot.quantity -= matched * direction
            remaining -= matched
            if abs(lot.quantity) <= EPSILON:
                lots.popleft()
        if remaining > EPSILON:
            lots.append(_Lot(remaining if signed > 0 else -remaining, fill.price, per_share, fill.filled_at))

    def pnl_by_symbol(self, marks: Mapping[str, float] | None = None) -> dict[str, float]:
        """Net P&L per symbol: closed trades plus open lots valued at `marks` (the last prices),
        commissions included, sorted by symbol."""
        marks = marks or {}
        totals = dict(self.closed_pnl)
        for symbol in self.lots:
            totals[symbol] = totals.get(symbol, 0.0) + self.open_pnl(symbol, marks.get(symbol))
        return dict(sorted(totals.items()))

    def open_pnl(self, symbol: str, mark: float | None) -> float:
        """What the symbol's open lots are worth against `mark` (their entry price if None),
        less the commission paid to open them."""
        total = 0.0
        for lot in self.lots.get(symbol, ()):
            price = lot.price if mark is None else mark
            total += lot.quantity * (price - lot.price) - abs(lot.quantity) * lot.commission_per_share
        return total


def match_round_trips(fills: Iterable[Fill]) -> list[RoundTrip]:
    """Closed trades of `fills` (in the order given, which should be the order they happened)."""
    ledger = Ledger()
    for fill in fills:
        ledger.add(fill)
    return ledger.trades


def pnl_by_symbol(fills: Iterable[Fill], marks: Mapping[str, float] | None = None) -> dict[str, float]:
    """Net P&L per symbol of `fills`; see `Ledger.pnl_by_symbol`."""
    ledger = Ledger()
    for fill in fills:
        ledger.add(fill)
    return ledger.pnl_by_symbol(marks)
