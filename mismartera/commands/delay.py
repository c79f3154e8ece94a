"""`delay SECONDS`: wait, in a script or at the shell (Ctrl-C ends the wait, as it ends any command)."""

from __future__ import annotations

import math
import time

from mismartera.commands.context import AppContext
from mismartera.commands.registry import Arg, command
from mismartera.errors import UsageError

MAX_SECONDS = 86_400.0
TICK = 0.1  # the wait is cut in short sleeps so a signal is acted on at once on every platform


@command("", "delay", help="Wait SECONDS (fractions allowed) before the next command; Ctrl-C ends the wait",
         args=(Arg("seconds", "how long to wait, e.g. 2 or 0.5", type=float, metavar="SECONDS"),),
         examples=("delay 2", "delay 0.25"))
def delay(ctx: AppContext, seconds: float) -> None:
    if not math.isfinite(seconds) or seconds < 0 or seconds > MAX_SECONDS:
        raise UsageError(f"delay {seconds:g} is out of range (expected 0 to {MAX_SECONDS:g} seconds)")
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        time.sleep(min(left, TICK))
