"""Facts about the exchange that every layer shares, written once: its time zone.

Instants are stored in UTC and shown in exchange time; session days, CSV times written without an
offset and day ranges are in this zone too. A leaf module: it imports nothing of mismartera.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

EXCHANGE_TZ_NAME = "America/New_York"
EXCHANGE_TZ = ZoneInfo(EXCHANGE_TZ_NAME)
