"""Knowledge written once (issue 11): the exchange time zone and the order statuses each have one
definition, which every other module imports."""

from __future__ import annotations

import re
from pathlib import Path

import mismartera
from mismartera.bars import INTERVAL_SECONDS
from mismartera.cli import completer
from mismartera.config import session
from mismartera.exchange import EXCHANGE_TZ, EXCHANGE_TZ_NAME
from mismartera.execution.orders import OPEN_ORDER_STATUSES, OrderStatus
from mismartera.timekeeping.calendar import TimeManager

PACKAGE = Path(mismartera.__file__).resolve().parent


def _sources() -> dict[Path, str]:
    return {path: path.read_text(encoding="utf-8") for path in PACKAGE.rglob("*.py")}


def test_the_exchange_time_zone_is_named_only_in_exchange_py() -> None:
    named = [path.relative_to(PACKAGE) for path, text in _sources().items() if EXCHANGE_TZ_NAME in text]
    assert named == [Path("exchange.py")]
    assert TimeManager().tz == EXCHANGE_TZ


def test_order_status_sets_are_not_spelt_out_again() -> None:
    # a tuple or set literal listing two or more status names is a second definition of a status set
    names = "|".join(status.value for status in OrderStatus)
    literal = re.compile(rf"""[(\[{{]\s*["']({names})["']\s*,\s*["']({names})["']""")
    found = [f"{path.relative_to(PACKAGE)}: {match.group(0)}" for path, text in _sources().items()
             for match in literal.finditer(text)]
    assert found == []
    assert tuple(s.value for s in OrderStatus if s.open) == OPEN_ORDER_STATUSES


def test_bar_intervals_agree() -> None:
    assert tuple(INTERVAL_SECONDS) == completer.INTERVALS
    assert tuple(INTERVAL_SECONDS) == session.INTERVALS
