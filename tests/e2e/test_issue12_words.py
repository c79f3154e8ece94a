"""Issue 12, point 7: the words the shell says — orders, order tables, stop, hints, the market clock."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e


def test_gh12_order_words_and_columns(run_cli, example_bars: Path, tmp_path: Path) -> None:
    script = tmp_path / "words.msh"
    script.write_text(
        "system start config/example_session.json --speed 120\n"
        "time market\n"
        "system wait --timeout 1\n"
        "order buy AAPL 10 --limit 1\n"
        "order buy AAPL 10 --limit 300 --stop 1\n"
        "order buy AAPL 10 --stop 400 --tif gtc\n"
        "account orders\n"
        "account orders --json\n"
        "system stop\n"
        "time market\n")
    result = run_cli("run", str(script), "--keep-going")
    assert result.code == 5, result            # the first failure: `system wait --timeout 1`
    out = result.out
    assert "order 1 placed: buy 10 AAPL limit 1 day (new)" in out
    assert "limit limit" not in out and "stop stop" not in out
    assert "order 2 placed: buy 10 AAPL stop 400 gtc (new)" in out
    # both prices: a usage error (exit 2 on its own), no order stored
    assert "line 5: give --limit or --stop, not both" in result.err
    table = out.split("system@mismartera> account orders\n")[1].split("system@mismartera>")[0]
    header = table.splitlines()[1].split()
    assert "Status" in header and "TIF" in header
    rows = [line.split() for line in table.splitlines() if " AAPL " in line]
    assert [(r[0], r[header.index("Status")], r[header.index("TIF")]) for r in rows] == [
        ("1", "new", "day"), ("2", "new", "gtc")]
    stored = json.loads(out.split("system@mismartera> account orders --json\n")[1].split("system@mismartera>")[0])
    assert [o["id"] for o in stored] == [1, 2]
    assert "stopped (run 1)\n" in out and "stopped (run 1): stopped" not in out
    first_market, second_market = out.split("system@mismartera> time market\n")[1:3]
    assert "Market on the session's simulated clock" in first_market and "simulated" in first_market
    assert "simulated" not in second_market.split("system@mismartera>")[0]


def test_gh12_missing_bars_hint_names_commands_that_exist(run_cli) -> None:
    result = run_cli("system", "start", "config/example_session.json")
    assert result.code == 1, result
    assert "data import-file, data import-api, or data demo" in result.err
    for named in ("data import-file", "data import-api", "data demo"):
        group, command = named.split()
        assert run_cli(group, command, "--help").code == 0, named


def test_gh12_urllib3_retry_warning_is_one_plain_line(capsys: pytest.CaptureFixture[str]) -> None:
    from urllib3.exceptions import NewConnectionError

    from mismartera.cli.logs import ConsoleHandler
    from mismartera.integrations.alpaca.historical import _CappedRetry

    handler = ConsoleHandler()
    retry = _CappedRetry(total=0, connect=0)
    error = NewConnectionError(None, "Failed to establish a new connection: [Errno 111] Connection refused")
    record = logging.LogRecord("urllib3.connectionpool", logging.WARNING, __file__, 1,
                               "Retrying (%r) after connection broken by '%r': %s",
                               (retry, error, "/v2/stocks/bars?symbols=AAPL"), None)
    handler.emit(record)
    err = capsys.readouterr().err
    assert err == ("warning: network: could not connect for /v2/stocks/bars?symbols=AAPL, retrying "
                   "(details in the log)\n")
    assert "_CappedRetry" not in err
