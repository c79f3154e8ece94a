"""The `data` commands through the real `mismartera` program (one-shot subprocesses): output and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fake_alpaca.server import FakeAlpaca

pytestmark = pytest.mark.e2e
pytest_plugins = ["fake_alpaca.fixtures"]


def test_demo_list_quality_bars_and_latest(run_cli) -> None:
    seeded = run_cli("data", "demo", "--symbols", "AAPL,SPY", "--start", "2024-11-27", "--days", "2", "--json")
    assert seeded.code == 0, seeded
    assert json.loads(seeded.out) == {"symbols": ["AAPL", "SPY"], "first_day": "2024-11-27",
                                      "last_day": "2024-11-29", "days": 2, "bars": 2 * (390 + 210), "seed": 7}
    listed = run_cli("data", "list")
    assert listed.code == 0, listed
    assert "AAPL" in listed.out and "SPY" in listed.out and "600" in listed.out
    quality = run_cli("data", "quality", "SPY")
    assert quality.code == 0, quality
    assert "2024-11-29        210       210   100.00%" in quality.out
    assert "overall 100.00%: 600 of 600 minutes over 2 trading day(s), 0 gap(s)" in quality.out
    as_csv = run_cli("data", "bars", "SPY", "2024-11-29", "--limit", "2", "--csv")
    assert as_csv.code == 0, as_csv
    lines = as_csv.out.splitlines()
    assert lines[0] == "timestamp,open,high,low,close,volume,trade_count,vwap" and len(lines) == 3
    assert lines[1].startswith("2024-11-29T09:30:00-05:00,")
    latest = run_cli("data", "latest", "SPY", "--json")
    assert latest.code == 0, latest
    assert json.loads(latest.out)["time"] == "2024-11-29T12:59:00-05:00"


def test_import_file_default_strict_and_idempotent(run_cli, tmp_path: Path) -> None:
    path = tmp_path / "aapl.csv"
    path.write_text("Date,Time,Open,High,Low,Close,Volume\n"
                    "2024-11-29,09:30,10,10.5,9.5,10.2,1000\n"
                    "2024-11-29,09:31,10.5,10.2,10.0,10.5,100\n"
                    "2024-11-29,16:30,10,10,10,10,5\n")
    strict = run_cli("data", "import-file", str(path), "AAPL", "--strict")
    assert strict.code == 1, strict
    assert strict.err.splitlines()[:2] == ["Error: aapl.csv: 1 bad row(s) of 3, nothing imported (--strict)",
                                           "  line 3: high 10.2 is below close 10.5"]
    assert "Traceback" not in strict.err
    first = run_cli("data", "import-file", str(path), "aapl", "--json")
    assert first.code == 0, first
    summary = json.loads(first.out)
    assert (summary["imported"], summary["new"], summary["skipped"], summary["extended_hours"]) == (2, 2, 1, 1)
    assert summary["errors"] == ["line 3: high 10.2 is below close 10.5"]
    again = run_cli("data", "import-file", str(path), "AAPL")
    assert again.code == 0, again
    assert "line 3: high 10.2 is below close 10.5" in again.out
    assert "New bars             0" in again.out


def test_export_delete_import_round_trip(run_cli, tmp_path: Path) -> None:
    assert run_cli("data", "demo", "--symbols", "NVDA", "--start", "2024-11-29", "--days", "1").code == 0
    before = run_cli("data", "bars", "NVDA", "2024-11-29", "--limit", "0", "--csv").out
    out = tmp_path / "nvda.csv"
    exported = run_cli("data", "export-csv", "NVDA", "2024-11-29", "2024-11-29", "-o", str(out))
    assert exported.code == 0 and f"wrote 210 1m bars of NVDA to {out}" in exported.out, exported
    refused = run_cli("data", "delete", "NVDA")
    assert refused.code == 2, refused
    assert "refusing to delete 210 bar(s) of NVDA without --yes" in refused.err
    deleted = run_cli("data", "delete", "NVDA", "--yes")
    assert deleted.code == 0 and "deleted 210 bar(s) of NVDA" in deleted.out, deleted
    assert run_cli("data", "import-file", str(out), "NVDA").code == 0
    assert run_cli("data", "bars", "NVDA", "2024-11-29", "--limit", "0", "--csv").out == before
    assert out.read_text() == before


def test_aggregate_and_bad_input(run_cli) -> None:
    assert run_cli("data", "demo", "--symbols", "MSFT", "--start", "2024-11-29", "--days", "1").code == 0
    made = run_cli("data", "aggregate", "MSFT", "2024-11-29", "2024-11-29", "--to", "1h", "--json")
    assert made.code == 0, made
    assert json.loads(made.out) == {"symbol": "MSFT", "to": "1h", "days": 1, "source_bars": 210, "bars": 4,
                                    "incomplete": 0}
    hourly = run_cli("data", "bars", "MSFT", "2024-11-29", "--interval", "1h", "--json")
    assert [bar["time"] for bar in json.loads(hourly.out)] == [
        "2024-11-29T09:30:00-05:00", "2024-11-29T10:30:00-05:00", "2024-11-29T11:30:00-05:00",
        "2024-11-29T12:30:00-05:00"]
    unknown = run_cli("data", "info", "MSTF")
    assert unknown.code == 1 and unknown.err.strip() == "Error: no bars stored for 'MSTF' — did you mean 'MSFT'?"
    bad_date = run_cli("data", "bars", "MSFT", "2024-02-30")
    assert bad_date.code == 2 and "is not a date YYYY-MM-DD" in bad_date.err
    bad_to = run_cli("data", "aggregate", "MSFT", "2024-11-29", "2024-11-29", "--to", "2m")
    assert bad_to.code == 2 and "'2m' is not one of 5m, 15m, 30m, 1h, 1d" in bad_to.err
    helped = run_cli("data", "import-file", "--help")
    assert helped.code == 0 and "Date,Time,Open,High,Low,Close,Volume" in helped.out
    assert "data import-file bars/AAPL.csv AAPL" in helped.out


def test_import_api_through_the_fake_server(run_cli, fake_alpaca: FakeAlpaca) -> None:
    from datetime import date

    from mismartera.data.demo import generate_day
    from mismartera.timekeeping.calendar import TimeManager

    rows, _ = generate_day("AAPL", TimeManager().session(date(2024, 11, 29)), 3, 200.0)
    fake_alpaca.add_bars("AAPL", rows)
    fake_alpaca.page_size = 100
    env = fake_alpaca.env()
    missing = run_cli("data", "import-api", "AAPL", "2024-11-29", "2024-11-29",
                      env={"ALPACA_DATA_URL": fake_alpaca.url})
    assert missing.code == 4, missing
    assert missing.err.strip() == "Error: no Alpaca keys: set ALPACA_API_KEY and ALPACA_SECRET_KEY"
    fake_alpaca.fail(429, times=1, retry_after=1)
    imported = run_cli("data", "import-api", "AAPL", "2024-11-29", "2024-11-29", "--json", env=env)
    assert imported.code == 0, imported
    assert [(r["symbol"], r["bars"], r["new"]) for r in json.loads(imported.out)] == [("AAPL", 210, 210)]
    pages = [r for r in fake_alpaca.requests if r.path == "/v2/stocks/bars"]
    assert len(pages) == 1 + 3  # the 429, then three pages of 100
    unknown = run_cli("data", "import-api", "AAPL,ZZZZ", "2024-11-29", "2024-11-29", env=env)
    assert unknown.code == 1, unknown
    assert "Alpaca has no 1m bars for ZZZZ from 2024-11-29 to 2024-11-29" in unknown.err
    fake_alpaca.fail(500, times=20, message="upstream exploded")
    failed = run_cli("data", "import-api", "AAPL", "2024-11-29", "2024-11-29", env=env)
    assert failed.code == 1, failed
    assert failed.err.strip() == (f"Error: Alpaca failed with HTTP 500 at {fake_alpaca.url} after 4 tries: "
                                  "upstream exploded")
