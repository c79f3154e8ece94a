"""Issue 15, points 3 and 4: a strategy's non-finite quantity or price is refused with one line naming
the field (it could never be stored); masking is linear; over-long command lines are refused."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from mismartera.cli.parser import parse_line
from mismartera.cli.redact import _ASSIGNED, _OPTION, Redactor
from mismartera.commands import load_all
from mismartera.config.session import TradingConfig
from mismartera.config.settings import mask_url
from mismartera.errors import UsageError
from mismartera.execution.simulated import SimulatedBroker
from mismartera.system.strategy_host import EngineContext
from mismartera.timekeeping.clock import SimulatedClock

OPEN = datetime(2024, 11, 1, 13, 30, tzinfo=UTC)
NAN, INF = float("nan"), float("inf")


def context() -> tuple[EngineContext, SimulatedBroker]:
    clock = SimulatedClock(OPEN)
    broker = SimulatedBroker(TradingConfig(), clock)
    broker.process_bar("AAPL", int(OPEN.timestamp()), 10.0, 10.0, 10.0, 10.0)
    clock.set(OPEN + timedelta(minutes=1))
    return EngineContext("mine", ["AAPL"], None, broker, clock, {}), broker  # type: ignore[arg-type]


@pytest.mark.parametrize(("call", "message"), [
    (lambda ctx: ctx.buy("AAPL", NAN), "buy AAPL: quantity nan is not a finite number (expected a finite number)"),
    (lambda ctx: ctx.sell("AAPL", INF), "sell AAPL: quantity inf is not a finite number (expected a finite number)"),
    (lambda ctx: ctx.buy("AAPL", 1, limit=NAN), "buy AAPL: limit nan is not a finite number (expected a finite "
                                                "number)"),
    (lambda ctx: ctx.order("AAPL", "sell", 1, order_type="stop", stop=-INF),
     "sell AAPL: stop -inf is not a finite number (expected a finite number)"),
], ids=["buy-nan", "sell-inf", "limit-nan", "stop-inf"])
def test_non_finite_order_numbers_are_refused_naming_the_field(call, message: str) -> None:
    ctx, broker = context()
    with pytest.raises(UsageError) as caught:
        call(ctx)
    assert str(caught.value) == message
    assert broker.orders() == []   # nothing the recorder would fail to store


def test_finite_orders_still_go_through() -> None:
    ctx, _ = context()
    assert ctx.buy("AAPL", 1).quantity == 1 and ctx.buy("AAPL", 1, limit=9.5).limit_price == 9.5
    assert ctx.buy("AAPL", -1).reason == "rejected: quantity must be > 0 (got -1)"  # a broker rejection, stored


@pytest.mark.parametrize(("line", "message"), [
    ("order buy AAPL nan", "QTY: 'nan' is not a finite number"),
    ("order sell AAPL 1 --limit inf", "--limit: 'inf' is not a finite number"),
    ("order buy AAPL ten", "QTY: 'ten' is not a number"),
], ids=["qty-nan", "limit-inf", "qty-word"])
def test_command_line_numbers_must_be_finite(line: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_line(load_all(), line)
    assert caught.value.message == message


MEGABYTE = 1_000_000
PATHOLOGICAL = ["A" * MEGABYTE, "api_key" * (MEGABYTE // 7), "a://b:" * (MEGABYTE // 6), "--token " * (MEGABYTE // 8),
                "secret= " * (MEGABYTE // 8), "x" * MEGABYTE + "password=hunter2"]


@pytest.mark.parametrize("text", PATHOLOGICAL, ids=["plain", "names", "urls", "options", "assignments", "tail"])
def test_masking_a_megabyte_takes_well_under_a_second(text: str) -> None:
    redactor = Redactor(["PKSECRET1234"])
    started = time.perf_counter()
    redactor.mask(text)
    mask_url(text)
    for pattern in (_ASSIGNED, _OPTION):  # the patterns themselves, without the 4 KB cut
        pattern.sub("", text)
    assert time.perf_counter() - started < 1.0


def test_masking_cuts_long_text_but_never_leaks_a_known_secret_at_the_cut() -> None:
    redactor = Redactor(["PKSECRET1234"])
    text = "x" * 4090 + "PKSECRET1234" + "y" * 10_000
    masked = redactor.mask(text)
    assert "PKSECRET" not in masked and "PKSE" not in masked[4080:4200]
    assert masked.endswith("***yyy… (9,997 more characters)")


URLS = [
    ("postgresql+psycopg://u@h/db?password=X", "postgresql+psycopg://u@h/db?password=***"),
    ("postgresql://u:pw@h:5432/db", "postgresql://u:***@h:5432/db"),
    ("postgresql://u@h/db?sslmode=require&sslpassword=Y&application_name=a",
     "postgresql://u@h/db?sslmode=require&sslpassword=***&application_name=a"),
    ("postgresql://u:p%40ss@h/db?PASSWORD=Z", "postgresql://u:***@h/db?PASSWORD=***"),
]


@pytest.mark.parametrize(("url", "masked"), URLS, ids=["query", "userinfo", "sslpassword", "both"])
def test_passwords_are_masked_wherever_they_sit_in_a_url(url: str, masked: str) -> None:
    assert mask_url(url) == masked
    assert Redactor().mask(f"connecting to {url} now") == f"connecting to {masked} now"


@pytest.mark.e2e
def test_secret_urls_are_masked_in_config_show_and_db_info(run_cli, tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}?password=HUNTER2&sslpassword=TIGER"
    for args in (("config", "show", "--json"), ("db", "info", "--json")):
        result = run_cli(*args, env={"MISMARTERA_DB_URL": url})
        assert "HUNTER2" not in result.out + result.err and "TIGER" not in result.out + result.err, result
        assert "password=***" in result.out, result


@pytest.mark.e2e
def test_a_line_over_64kb_is_refused_and_the_script_fails_with_exit_2(run_cli) -> None:
    result = run_cli(stdin="data info " + "A" * 70_000 + "\n")
    assert result.code == 2
    assert result.err.strip() == "line 1: line too long: 70,010 characters (expected at most 65,536)"


@pytest.mark.e2e
def test_a_20000_character_symbol_is_one_line_quickly(run_cli) -> None:
    started = time.perf_counter()
    result = run_cli("data", "info", "A" * 20_000)
    assert time.perf_counter() - started < 15  # a process start; the masking itself takes milliseconds
    assert result.code == 2
    assert result.err.splitlines()[0] == ("Error: invalid symbol: 'AAAAAAAAAAAAAAAAAAAAAAAA…' is not a ticker "
                                          "symbol (expected a letter, then up to 9 letters, digits, '.' or '-', "
                                          "like AAPL or BRK.B)")
