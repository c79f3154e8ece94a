"""The routers of the control API, one per command group. Each route calls the manager method its
command calls and answers with the command's result object as `--json` prints it (the same
`to_jsonable`). Routes about one run say which in the `X-Mismartera-Run` header, so a client can
title its table as the owner's shell does."""

from __future__ import annotations

from mismartera.api.routes.account import router as account_router
from mismartera.api.routes.orders import router as orders_router
from mismartera.api.routes.system import router as system_router

ROUTERS = (system_router, account_router, orders_router)

__all__ = ["ROUTERS"]
