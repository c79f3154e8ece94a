"""The foundation's one-shot commands through the real `mismartera` program."""

import json

import pytest

pytestmark = pytest.mark.e2e


def test_version(run_cli) -> None:
    result = run_cli("--version")
    assert result.code == 0 and result.out.startswith("mismartera ")


def test_version_imports_nothing_heavy() -> None:
    import subprocess
    import sys

    code = ("import sys; from mismartera.cli.main import main; main(['--version']); "
            "heavy = [m for m in ('pandas', 'exchange_calendars', 'alpaca', 'sqlalchemy', 'typer', 'rich') "
            "if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().endswith("[]")


def test_time_session_prints_the_early_close(run_cli) -> None:
    result = run_cli("time", "session", "2024-11-29")
    assert result.code == 0, result
    assert "early close" in result.out
    assert "13:00:00 EST" in result.out


def test_time_session_json(run_cli) -> None:
    result = run_cli("time", "session", "2024-07-04", "--json")
    assert result.code == 0, result
    assert json.loads(result.out) == {"date": "2024-07-04", "trading_day": False}


def test_bad_date_is_a_usage_error(run_cli) -> None:
    result = run_cli("time", "session", "2024-13-01")
    assert result.code == 2
    assert "Error: DAY: '2024-13-01' is not a date YYYY-MM-DD" in result.err or "is not a date" in result.err
    assert "Traceback" not in result.err


def test_time_days_holidays_next_convert(run_cli) -> None:
    days = run_cli("time", "days", "2024-11-25", "2024-11-29", "--json")
    assert days.code == 0, days
    assert [d["date"] for d in json.loads(days.out)] == ["2024-11-25", "2024-11-26", "2024-11-27", "2024-11-29"]
    holidays = run_cli("time", "holidays", "2025", "--json")
    assert any(h["date"] == "2025-01-09" for h in json.loads(holidays.out))
    nxt = run_cli("time", "next", "2024-12-24", "--n", "2", "--json")
    assert [d["date"] for d in json.loads(nxt.out)] == ["2024-12-26", "2024-12-27"]
    converted = run_cli("time", "convert", "2024-11-29T13:00", "ET", "UTC", "--json")
    assert json.loads(converted.out)["to"] == "2024-11-29T18:00:00+00:00"


def test_time_now_and_market(run_cli) -> None:
    assert run_cli("time", "now").code == 0
    market = run_cli("time", "market", "--json")
    assert market.code == 0 and json.loads(market.out)["phase"] in ("open", "closed", "pre-market", "after-hours")


def test_db_info_and_upgrade(run_cli) -> None:
    upgrade = run_cli("db", "upgrade")
    assert upgrade.code == 0, upgrade
    info = run_cli("db", "info", "--json")
    data = json.loads(info.out)
    assert data["revision"] == data["head"] and data["row_counts"]["bars"] == 0


def test_config_show_masks_keys(run_cli) -> None:
    result = run_cli("config", "show", env={"ALPACA_API_KEY": "PKVERYSECRETKEY", "ALPACA_SECRET_KEY": "S3CRETS3CRET"})
    assert result.code == 0
    assert "PKVERYSECRETKEY" not in result.out and "S3CRETS3CRET" not in result.out
    assert "PKVE…" in result.out


def test_bad_database_url_is_a_config_error(run_cli) -> None:
    result = run_cli("db", "info", env={"MISMARTERA_DB_URL": "nosuchdb://x"})
    assert result.code == 4, result
    assert "Traceback" not in result.err
