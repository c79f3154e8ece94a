"""The control API over a real socket in this process (issue 13): the discovery and token files,
the bearer token, body limits and one-line errors, routes answering exactly the commands' --json,
and `RemoteSystem` turning those answers back into the same views.

The end-to-end tests with separate processes are in tests/e2e/test_control_api_cli.py."""

from __future__ import annotations

import http.client
import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from mismartera.api.client import ApiClient
from mismartera.api.host import SessionHost, forget_stale
from mismartera.api.remote import RemoteSystem
from mismartera.api.server import is_loopback
from mismartera.commands import load_all
from mismartera.commands.context import AppContext
from mismartera.commands.results import dumps
from mismartera.config.session import parse_session_config
from mismartera.config.settings import ApiSettings, load_settings
from mismartera.data.demo import seed_demo
from mismartera.errors import ConfigError, MismarteraError, StateError, UsageError
from mismartera.system import discovery
from mismartera.system.discovery import OwnerRecord
from mismartera.system.runs import RunHistory
from mismartera.system.state import SystemState

SYMBOLS = ["AAPL", "MSFT"]
START = date(2024, 11, 4)
CONFIG = {
    "session_name": "api",
    "backtest_config": {"start_date": "2024-11-04", "end_date": "2024-11-06", "speed_multiplier": 60},
    "session_data_config": {"symbols": SYMBOLS, "streams": ["1m"]},
    "strategies": [{"name": "sma_crossover", "params": {"fast": 5, "slow": 20, "quantity": 10}}],
    "trading_config": {"initial_cash": 100_000},
}


@pytest.fixture
def app(tmp_path: Path) -> Iterator[AppContext]:
    ctx = AppContext(load_settings({"MISMARTERA_HOME": str(tmp_path / "home")}))
    ctx.settings.ensure_dirs()
    seed_demo(ctx.bars, ctx.time, SYMBOLS, START, 3, seed=3)
    yield ctx
    if ctx.has_system() and ctx.system.state.active:
        ctx.system.stop(5)
    ctx.close()


@pytest.fixture
def hosted(app: AppContext) -> Iterator[SessionHost]:
    """A session of `app` at 60x, owned by this process ("shell") and served on a real socket."""
    host = SessionHost(app, app.system, "shell").attach()
    app.system.start(parse_session_config(CONFIG))
    deadline = time.monotonic() + 60
    while app.system.status().bars_done < 4 and time.monotonic() < deadline:   # a price for market orders
        time.sleep(0.05)
    yield host
    if app.system.state.active:
        app.system.stop(5)
    host.close()


def raw_request(record: OwnerRecord, method: str, path: str, headers: dict[str, str] | None = None,
                body: bytes | None = None) -> tuple[int, dict]:
    connection = http.client.HTTPConnection(record.api_host, record.port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        raw = response.read()
        is_json = response.getheader("content-type", "").startswith("application/json")
        return response.status, json.loads(raw) if is_json else {"text": raw.decode()}
    finally:
        connection.close()


def bearer(app: AppContext) -> dict[str, str]:
    return {"Authorization": f"Bearer {discovery.read_token(app.settings.state_dir)}"}


def command_json(app: AppContext, group: str, name: str, **kwargs: object) -> object:
    """What `mismartera GROUP NAME --json` prints, run in this process."""
    return json.loads(dumps(load_all().get(group, name).handler(app, **kwargs)))


def test_gh13_discovery_and_token_files_are_private_and_name_the_owner(app: AppContext, hosted: SessionHost) -> None:
    state = app.settings.state_dir
    record = discovery.read_record(state)
    assert record is not None and record.pid == os.getpid() and record.kind == "shell"
    assert record.run_id == app.system.run_id and record.api_url == f"http://127.0.0.1:{hosted.server.port}"
    for path in (discovery.record_path(state), discovery.token_path(state)):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    token = discovery.read_token(state)
    assert token is not None and len(token) >= 40
    assert token not in discovery.record_path(state).read_text()
    status = app.system.status()
    assert (status.owner_pid, status.owner_kind, status.api_url) == (os.getpid(), "shell", record.api_url)


def test_gh13_every_route_needs_the_bearer_token(app: AppContext, hosted: SessionHost) -> None:
    record = hosted.record
    assert record is not None
    for headers in ({}, {"Authorization": "Bearer not-the-token"}, {"Authorization": "Basic x"}):
        for method, path in (("GET", "/system/status"), ("POST", "/system/stop"), ("GET", "/account/orders"),
                             ("POST", "/orders"), ("GET", "/nowhere")):
            code, body = raw_request(record, method, path, headers)
            assert code == 401, (path, headers)
            assert set(body) == {"error", "exit_code", "kind"} and "\n" not in body["error"]
            assert "bearer token" in body["error"]
    assert app.system.state is SystemState.RUNNING
    # The docs describe the routes (never the session) and open in a browser, which sends no token.
    code, body = raw_request(record, "GET", "/docs")
    assert code == 200 and "swagger" in body["text"].lower()
    code, schema = raw_request(record, "GET", "/openapi.json")
    assert code == 200 and "/system/status" in schema["paths"] and "HTTPBearer" in json.dumps(schema)
    code, body = raw_request(record, "GET", "/nowhere", bearer(app))
    assert code == 404 and body["error"].startswith("GET /nowhere: Not Found")


def test_gh13_bodies_are_capped_and_bad_ones_get_the_cli_message(app: AppContext, hosted: SessionHost) -> None:
    record = hosted.record
    assert record is not None
    json_headers = {**bearer(app), "Content-Type": "application/json"}
    code, body = raw_request(record, "POST", "/system/start", json_headers, b"x" * 2_000_000)
    assert code == 413 and "too large" in body["error"]
    code, body = raw_request(record, "POST", "/system/start", json_headers, b'{"config": {')
    assert code == 400 and body["error"].startswith("request body is not valid JSON")
    bad = {"session_name": "x", "session_data_config": {"symbols": []}, "colour": 1}
    code, body = raw_request(record, "POST", "/system/start", json_headers, json.dumps({"config": bad}).encode())
    with pytest.raises(ConfigError) as cli_error:
        parse_session_config(bad)
    assert code == 422 and body["error"] == cli_error.value.message and body["exit_code"] == 4
    code, body = raw_request(record, "GET", "/account/orders?status=opne", bearer(app))
    assert code == 400 and body["error"] == ("--status: 'opne' is not one of open, pending_new, new, partially_filled, "
                                             "filled, cancelled, expired, rejected, unknown — did you mean 'open'?")
    code, body = raw_request(record, "POST", "/system/pause?x=1", bearer(app))
    assert code == 200
    code, body = raw_request(record, "POST", "/system/pause", bearer(app))
    assert code == 409 and body["exit_code"] == 3 and body["error"].startswith("cannot pause: system is paused")


def test_gh13_start_route_takes_a_config_file_path(app: AppContext, hosted: SessionHost, tmp_path: Path) -> None:
    """`POST /system/start {"path": FILE}`: the file is read on the owner's side, as `system start FILE`."""
    record = hosted.record
    assert record is not None
    first = app.system.run_id
    app.system.stop(5)
    config = tmp_path / "from_a_file.json"
    config.write_text(json.dumps({**CONFIG, "session_name": "from-a-file"}))
    json_headers = {**bearer(app), "Content-Type": "application/json"}
    code, body = raw_request(record, "POST", "/system/start", json_headers, json.dumps({"path": str(config)}).encode())
    assert code == 200, body
    status = app.system.status()
    assert status.state.active and status.session_name == "from-a-file" and status.run_id != first
    code, body = raw_request(record, "POST", "/system/start", json_headers,
                             json.dumps({"path": str(tmp_path / "missing.json")}).encode())
    assert code == 409 and body["exit_code"] == 3   # one session at a time: the running one is named
    app.system.stop(5)
    code, body = raw_request(record, "POST", "/system/start", json_headers,
                             json.dumps({"path": str(tmp_path / "missing.json")}).encode())
    assert code != 200 and "missing.json" in body["error"] and "\n" not in body["error"], body


def test_gh13_routes_answer_exactly_what_the_commands_print_with_json(app: AppContext, hosted: SessionHost) -> None:
    record = hosted.record
    assert record is not None
    app.system.pause()
    app.system.submit_order("AAPL", "buy", 3)
    for group, name, path in (("account", "orders", "/account/orders"), ("account", "balance", "/account/balance"),
                              ("account", "positions", "/account/positions"), ("account", "fills", "/account/fills"),
                              ("system", "runs", "/system/runs")):
        code, body = raw_request(record, "GET", path, bearer(app))
        assert code == 200
        assert body == command_json(app, group, name), path


def test_gh13_remote_system_returns_the_owners_views(app: AppContext, hosted: SessionHost) -> None:
    record = hosted.record
    assert record is not None
    remote = RemoteSystem(app, record)
    local = app.system
    paused = remote.pause()
    assert paused.state is SystemState.PAUSED and paused.run_id == local.run_id and paused.clock == local.status().clock
    status = remote.status()
    assert status.run_id == local.run_id and status.state is SystemState.PAUSED and status.owner_kind == "shell"
    assert status.account == local.status().account and status.workers[0].name == local.status().workers[0].name
    order = remote.submit_order("MSFT", "buy", 7, limit=1.0, tif="gtc")
    assert order in local.orders()[1]
    assert remote.orders("open") == local.orders("open") and remote.fills() == local.fills()
    assert remote.account() == local.account()
    assert remote.cancel_order(order.id).id == order.id
    with pytest.raises(StateError) as refused:
        remote.start(parse_session_config(CONFIG))
    assert str(refused.value) == f"a session is running in pid {os.getpid()} (shell): stop it first or use system stop"
    with pytest.raises(StateError, match="still paused; its report is written when it ends"):
        remote.report()
    assert remote.resume().state is SystemState.RUNNING
    stopped = remote.stop()
    assert stopped.state is SystemState.STOPPED and stopped.run_id == local.run_id
    info, days = remote.report()
    assert info.id == local.run_id and info.state == "stopped" and [d.day for d in days] == [
        d.day for d in RunHistory(app.db).daily(info.id)]
    # A shell's session ended: it is no longer the owner, but its server stays up until it exits.
    assert discovery.read_record(app.settings.state_dir) is None
    hosted.close()
    assert discovery.read_token(app.settings.state_dir) is None
    with pytest.raises(MismarteraError, match="cannot reach the session's control API"):
        ApiClient(record.api_host, int(record.port or 0), "x", timeout=2).request("GET", "/system/status")


def test_gh13_a_second_owner_is_refused_naming_the_first(app: AppContext, hosted: SessionHost, tmp_path: Path) -> None:
    other = AppContext(app.settings)
    host = SessionHost(other, other.system, "script").attach()
    try:
        with pytest.raises(StateError) as refused:
            other.system.start(parse_session_config(CONFIG))
        assert str(refused.value) == (f"a session is running in pid {os.getpid()} (shell): stop it first or use "
                                      "system stop")
        assert other.system.state is SystemState.STOPPED
    finally:
        host.close()
        other.close()


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_gh13_a_stale_discovery_file_is_removed_and_its_run_marked_not_running(app: AppContext) -> None:
    app.system.start(parse_session_config(CONFIG))
    run_id = app.system.run_id
    app.system.stop(5)
    from sqlalchemy import update

    from mismartera.data.schema import runs

    with app.db.begin() as conn:   # as a crashed owner leaves it
        conn.execute(update(runs).where(runs.c.id == run_id).values(state="running", error=None, ended_at=None))
    state = app.settings.state_dir
    gone = OwnerRecord(pid=dead_pid(), host=discovery.socket.gethostname(), kind="shell",
                       started_at="2026-01-01T00:00:00+00:00", port=1, run_id=run_id)
    assert discovery.claim(state, gone) is None
    discovery.write_token(state, "old-token")
    assert discovery.find_owner(state, on_stale=forget_stale(app)) is None
    assert not discovery.record_path(state).exists() and discovery.read_token(state) is None
    info = RunHistory(app.db).run(run_id)
    assert info.state == "interrupted" and f"pid {gone.pid} (shell)" in (info.error or "")


def test_gh13_claim_is_exclusive_and_updates_are_whole(tmp_path: Path) -> None:
    mine = OwnerRecord(pid=os.getpid(), host=discovery.socket.gethostname(), kind="serve", started_at="t", port=5)
    other = mine.with_changes(pid=os.getpid() + 1)
    assert discovery.claim(tmp_path, mine) is None
    assert discovery.claim(tmp_path, other) == mine
    discovery.update(tmp_path, mine.with_changes(run_id=9))
    assert discovery.read_record(tmp_path) == mine.with_changes(run_id=9)
    assert [p.name for p in tmp_path.iterdir()] == [discovery.RECORD_FILE]   # no temporary files left
    discovery.release(tmp_path, other.pid)
    assert discovery.read_record(tmp_path) is not None   # not theirs to remove
    discovery.release(tmp_path)
    assert discovery.read_record(tmp_path) is None


def test_gh13_a_non_loopback_host_is_announced_with_a_warning(app: AppContext) -> None:
    said: list[str] = []
    host = SessionHost(app, app.system, "serve", api_host="192.0.2.1", warn=said.append)   # TEST-NET: not ours
    with pytest.raises(UsageError, match=r"cannot serve the control API on 192\.0\.2\.1:0"):
        host.open()
    assert len(said) == 1 and "reachable beyond this machine" in said[0]
    assert not discovery.record_path(app.settings.state_dir).exists()
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.0.0.2", "::1", "localhost"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "192.168.1.5", "example.org"))


def test_gh13_api_settings_from_the_environment_and_the_settings_file(tmp_path: Path) -> None:
    home = {"MISMARTERA_HOME": str(tmp_path)}
    assert load_settings(home).api == ApiSettings("127.0.0.1", 0)
    assert load_settings({**home, "MISMARTERA_API_PORT": "8765"}).api.port == 8765
    for bad in ("70000", "http"):
        with pytest.raises(ConfigError, match="MISMARTERA_API_PORT"):
            load_settings({**home, "MISMARTERA_API_PORT": bad})
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "settings.toml").write_text('[api]\nhost = "127.0.0.2"\nport = 9001\n')
    assert load_settings(home).api == ApiSettings("127.0.0.2", 9001)


def test_gh13_fastapi_is_imported_only_when_the_first_client_comes(tmp_path: Path) -> None:
    """A session nobody asks about pays nothing for its API; the first request is answered."""
    script = f"""
import sys
from mismartera.api.client import ApiClient
from mismartera.api.host import SessionHost
from mismartera.commands.context import AppContext
from mismartera.config.settings import load_settings
from mismartera.system import discovery

ctx = AppContext(load_settings({{"MISMARTERA_HOME": {str(tmp_path)!r}}}))
host = SessionHost(ctx, ctx.system, "script").attach()
record = host.open()
before = "fastapi" in sys.modules or "uvicorn" in sys.modules
token = discovery.read_token(ctx.settings.state_dir)
body, _ = ApiClient(record.api_host, record.port, token).request("GET", "/system/status")
print(before, "fastapi" in sys.modules, body["state"], body["owner_kind"])
host.close()
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "True", "stopped", "script"]
