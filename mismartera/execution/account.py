"""Positions and account snapshots, as any broker reports them.

`PositionSnapshot` and `AccountSnapshot` are also the status contract's `PositionView` and
`AccountView` (`mismartera.system.status` names them so), so the engine publishes a broker's
snapshot as it is.
"""

from __future__ import annotations

from dataclasses import dataclass

EPSILON = 1e-9  # quantities closer to zero than this are flat (fractional shares add float noise)


@dataclass(frozen=True, slots=True)
class PositionSnapshot:
    symbol: str
    quantity: float             # > 0 long, < 0 short
    average_price: float        # of the shares still held; 0.0 when flat
    last_price: float | None
    market_value: float         # quantity * last price (negative for a short)
    unrealized_pnl: float
    realized_pnl: float         # net of commissions, since the session started


@dataclass(frozen=True, slots=True)
class AccountSnapshot:
    initial_cash: float
    cash: float
    equity: float
    buying_power: float
    realized_pnl: float
    unrealized_pnl: float
    positions: tuple[PositionSnapshot, ...] = ()

    @property
    def pnl(self) -> float:
        return self.equity - self.initial_cash


class Position:
    """One symbol's holding: signed quantity, average entry price and realised P&L.

    Realised P&L is booked when a fill reduces, closes or flips the position, and commissions are
    subtracted from it as they are paid, so initial cash + realised + unrealised == equity always.
    """

    __slots__ = ("average_price", "quantity", "realized_pnl", "symbol")

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.quantity = 0.0
        self.average_price = 0.0
        self.realized_pnl = 0.0

    def apply(self, signed_quantity: float, price: float, commission: float) -> float:
        """Book a fill (+ bought, - sold) and return the P&L it realised, commission included."""
        held = self.quantity
        realized = -commission
        if held == 0.0 or (held > 0.0) == (signed_quantity > 0.0):
            # Opening or adding: the average price is the quantity-weighted mean of the entries.
            total = abs(held) + abs(signed_quantity)
            self.average_price = (abs(held) * self.average_price + abs(signed_quantity) * price) / total
            self.quantity = held + signed_quantity
        else:
            closed = min(abs(signed_quantity), abs(held))
            direction = 1.0 if held > 0.0 else -1.0
            realized += closed * (price - self.average_price) * direction
            remaining = held + signed_quantity
            if abs(remaining) < EPSILON:
                self.quantity, self.average_price = 0.0, 0.0
            elif (remaining > 0.0) != (held > 0.0):
                # Flipped through zero: what is left was opened by this fill, at its price.
                self.quantity, self.average_price = remaining, price
            else:
                self.quantity = remaining  # a partial close keeps the entry price
        self.realized_pnl += realized
        return realized

    def snapshot(self, last_price: float | None) -> PositionSnapshot:
        mark = last_price if last_price is not None else self.average_price
        return PositionSnapshot(
            symbol=self.symbol,
            quantity=self.quantity,
            average_price=self.average_price,
            last_price=last_price,
            market_value=self.quantity * mark,
            unrealized_pnl=self.quantity * (mark - self.average_price),
            realized_pnl=self.realized_pnl,
        )
