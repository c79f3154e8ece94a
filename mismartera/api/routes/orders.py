"""`/orders`: place and cancel manual orders in the running session (the `order` commands)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from mismartera.api.routes.common import choice, context, result
from mismartera.commands.context import AppContext
from mismartera.commands.order import cancelled_result, placed_result

router = APIRouter(prefix="/orders", tags=["orders"])

SIDES = ("buy", "sell")
TIFS = ("day", "gtc")


class OrderRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    symbol: str
    side: str
    quantity: float
    limit: float | None = None
    stop: float | None = None
    tif: str = "day"


@router.post("", summary="Place a manual order (order buy / order sell)")
def place(body: OrderRequest, ctx: AppContext = Depends(context)) -> JSONResponse:
    side = choice("side", body.side, SIDES) or "buy"
    tif = choice("tif", body.tif, TIFS) or "day"
    order = ctx.system.submit_order(body.symbol, side, body.quantity, body.limit, body.stop, tif)
    return result(placed_result(order))


@router.post("/{order_id}/cancel", summary="Cancel an open order (order cancel)")
def cancel(order_id: int, ctx: AppContext = Depends(context)) -> JSONResponse:
    return result(cancelled_result(ctx.system.cancel_order(order_id)))
