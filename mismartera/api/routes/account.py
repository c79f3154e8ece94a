"""`/account/…`: balance, positions, orders and fills of the session or of a stored run (the `account` commands)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse

from mismartera.api.routes.common import choice, context, result
from mismartera.commands.account import (
    balance_result,
    fills_result,
    orders_result,
    positions_result,
)
from mismartera.commands.context import AppContext
from mismartera.execution.orders import ORDER_STATUS_FILTERS

router = APIRouter(prefix="/account", tags=["account"])

RUN = Query(None, description="a stored run's id (default: the live session, else the last run)")


@router.get("/balance", summary="Cash, equity, buying power and P&L (account balance)")
def balance(run: int | None = RUN, ctx: AppContext = Depends(context)) -> JSONResponse:
    run_id, view = ctx.system.account(run)
    return result(balance_result(run_id, view), run_id)


@router.get("/positions", summary="Open positions (account positions)")
def positions(run: int | None = RUN, ctx: AppContext = Depends(context)) -> JSONResponse:
    run_id, view = ctx.system.account(run)
    return result(positions_result(run_id, view), run_id)


@router.get("/orders", summary="Orders, optionally only those with one status (account orders)")
def orders(status: str | None = Query(None, description=f"one of {', '.join(ORDER_STATUS_FILTERS)}"),
           run: int | None = RUN, ctx: AppContext = Depends(context)) -> JSONResponse:
    status = choice("status", status, ORDER_STATUS_FILTERS)
    run_id, views = ctx.system.orders(status, run)
    return result(orders_result(run_id, views, status), run_id)


@router.get("/fills", summary="Fills with price and commission (account fills)")
def fills(run: int | None = RUN, ctx: AppContext = Depends(context)) -> JSONResponse:
    run_id, views = ctx.system.fills(run)
    return result(fills_result(run_id, views), run_id)
