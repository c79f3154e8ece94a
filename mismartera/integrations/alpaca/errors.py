"""Translate alpaca-py and requests failures of the market-data API into one-line mismartera errors.

Nothing above `integrations/alpaca` ever sees an alpaca-py or requests exception: the data client
catches them here and re-raises a `ConfigError` or `ExternalServiceError` that says what went wrong
and what to do about it.
"""

from __future__ import annotations

import json

import requests
from alpaca.common.exceptions import APIError

from mismartera.errors import ConfigError, ExternalServiceError

NO_KEYS = "no Alpaca keys: set ALPACA_API_KEY and ALPACA_SECRET_KEY"
REJECTED_KEY = "Alpaca rejected the API key"


def rejected_key(status: int | None, where: str) -> ExternalServiceError:
    """The one wording of a key refused by any of Alpaca's REST APIs (data or trading)."""
    return ExternalServiceError(f"{REJECTED_KEY} (HTTP {status} on {where}); check ALPACA_API_KEY and "
                                "ALPACA_SECRET_KEY")


def require_keys(api_key: str | None, secret_key: str | None) -> tuple[str, str]:
    if not api_key or not secret_key:
        raise ConfigError(NO_KEYS)
    return api_key, secret_key


def api_message(exc: APIError) -> str:
    """Alpaca's own words from an error body (`{"message": …}`), or the raw text."""
    try:
        body = json.loads(str(exc))
    except ValueError:
        return str(exc).strip() or "no message"
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"]).strip()
    return str(exc).strip() or "no message"


def from_api_error(exc: APIError, where: str, attempts: int) -> ExternalServiceError:
    status = exc.status_code
    message = api_message(exc)
    if status in (401, 403):
        return rejected_key(status, f"the market-data API at {where}")
    if status == 429:
        return ExternalServiceError(f"Alpaca kept answering 429 (rate limit) at {where} after {attempts} tries; "
                                    "wait a minute and run the import again")
    if status is not None and status >= 500:
        return ExternalServiceError(f"Alpaca failed with HTTP {status} at {where} after {attempts} tries: {message}")
    return ExternalServiceError(f"Alpaca refused the request (HTTP {status}) at {where}: {message}")


def from_requests_error(exc: requests.RequestException, where: str, timeout: float) -> ExternalServiceError:
    if isinstance(exc, requests.Timeout) and not isinstance(exc, requests.ConnectTimeout):
        return ExternalServiceError(f"Alpaca did not answer within {timeout:g} s at {where}")
    if isinstance(exc, (requests.ConnectionError, requests.ConnectTimeout)):
        return ExternalServiceError(f"cannot reach Alpaca at {where} (is the address right and the network up?)")
    return ExternalServiceError(f"request to Alpaca at {where} failed: {type(exc).__name__}")
