"""Reaching a running session from other processes (issue 13), with real processes over a real socket:
a `mismartera serve` host (and a piped script, and `system start --wait`) steered by one-shot
commands of other processes — status, pause, resume, stop, a manual order, a refused second
start, the bearer token, a stale discovery file, and FastAPI kept out of the start-up path."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mismartera.system import discovery

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
CONFIG = "config/example_session.json"


def environment(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALPACA_", "MISMARTERA_"))}
    env.update({"MISMARTERA_HOME": str(home), "COLUMNS": "120", "NO_COLOR": "1", "TERM": "dumb"})
    return env


def spawn(home: Path, *args: str, stdin: int | None = subprocess.DEVNULL) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "mismartera", *args], cwd=ROOT, env=environment(home),
                            stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(predicate, what: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def state_dir(home: Path) -> Path:
    return home / "state"


def end(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 30) -> tuple[int, str, str]:
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    return proc.returncode, out, err


@pytest.fixture
def serve(example_bars: Path) -> Iterator[tuple[subprocess.Popen, str, str]]:
    """`mismartera serve CONFIG --speed 60` (a day lasts minutes: the session outlives the test);
    yields the process, the API URL from its first line and its second line (the dashboard's URL). Both
    are read here: `communicate` reads the pipe itself, past what readline has buffered."""
    proc = spawn(example_bars, "serve", CONFIG, "--speed", "60")
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("mismartera serve: control API at http://127.0.0.1:"), first + proc.stderr.read()
        url = first.split(" at ", 1)[1].split()[0]
        dashboard = proc.stdout.readline().rstrip("\n")
        wait_for(lambda: (discovery.read_record(state_dir(example_bars)) or discovery.OwnerRecord(0, "", "", ""))
                 .run_id, "the session to start")
        yield proc, url, dashboard
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def request(url: str, method: str, path: str, token: str | None) -> tuple[int, dict]:
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.request(method, path, headers={"Authorization": f"Bearer {token}"} if token else {})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_gh13_a_serve_host_is_steered_from_one_shot_commands(serve, run_cli, example_bars: Path) -> None:
    proc, url, _ = serve
    record = discovery.read_record(state_dir(example_bars))
    assert record is not None and record.pid == proc.pid and record.kind == "serve" and record.api_url == url

    status = run_cli("system", "status", "--json")
    assert status.code == 0, status
    data = json.loads(status.out)
    assert data["state"] == "running" and data["run_id"] == record.run_id and data["session_name"] == "example"
    assert (data["owner_pid"], data["owner_kind"], data["api_url"]) == (proc.pid, "serve", url)
    token = discovery.read_token(state_dir(example_bars))
    assert token and token not in status.out + status.err

    shown = run_cli("system", "status")
    assert shown.code == 0 and f"run {record.run_id} in pid {proc.pid} (serve)" in shown.out, shown
    # A one-shot command reaches the host before its first minute has closed: the manual order below
    # needs a price, so the session runs a few bars first.
    wait_for(lambda: json.loads(run_cli("system", "status", "--json").out)["bars_done"] >= 4, "a few bars")

    paused = run_cli("system", "pause")
    assert paused.code == 0 and f"(run {record.run_id})" in paused.out and paused.out.startswith("paused at"), paused
    frozen = json.loads(run_cli("system", "status", "--json").out)
    assert frozen["state"] == "paused"
    # The market queries of another process see the host's session: its day so far.
    stats = json.loads(run_cli("data", "session-stats", "AAPL", "--json").out)
    assert stats["date"] == frozen["day"] and 0 < stats["bars"] < 390, (stats, frozen)
    again = run_cli("system", "pause")
    assert again.code == 3 and "cannot pause: system is paused" in again.err, again

    placed = run_cli("order", "buy", "AAPL", "5", "--json")
    assert placed.code == 0, placed
    order = json.loads(placed.out)
    assert order["symbol"] == "AAPL" and order["quantity"] == 5 and order["strategy"] == "manual"
    wrong = run_cli("order", "buy", "AAPX", "5")
    assert wrong.code == 2 and "AAPX is not in this session — did you mean 'AAPL'?" in wrong.err, wrong
    # The owner's own orders (asked directly over its API) hold it, and so does the one-shot listing.
    code, owners = request(url, "GET", "/account/orders", token)
    assert code == 200 and order["id"] in [o["id"] for o in owners]
    listed = run_cli("account", "orders", "--json")
    assert listed.code == 0 and json.loads(listed.out) == owners
    table = run_cli("account", "orders")
    assert f"Orders (run {record.run_id})" in table.out and "manual" in table.out

    resumed = run_cli("system", "resume")
    assert resumed.code == 0 and resumed.out.startswith(f"resumed (run {record.run_id})"), resumed
    assert json.loads(run_cli("system", "status", "--json").out)["state"] == "running"
    waited = run_cli("system", "wait", "--timeout", "1")
    assert waited.code == 5 and "session still running after 1s" in waited.err, waited
    early = run_cli("system", "report")
    assert early.code == 3 and f"run {record.run_id} is still running" in early.err, early

    second = run_cli("system", "start", CONFIG, "--wait")
    assert second.code == 3, second
    assert second.err.strip() == (f"Error: a session is running in pid {proc.pid} (serve): stop it first or use "
                                  "system stop")

    stopped = run_cli("system", "stop")
    assert stopped.code == 0 and stopped.out.startswith(f"stopped (run {record.run_id})"), stopped
    after = json.loads(run_cli("system", "status", "--json").out)
    assert after["state"] == "stopped" and after["owner_pid"] == proc.pid   # the host stays, idle
    runs = json.loads(run_cli("system", "runs", "--json").out)
    assert runs[0]["id"] == record.run_id and runs[0]["state"] == "stopped"
    report = run_cli("system", "report", "--json")
    assert report.code == 0 and json.loads(report.out)["run"]["id"] == record.run_id, report
    assert run_cli("system", "wait", "--timeout", "5").code == 0

    code, _, err = end(proc, signal.SIGTERM)
    assert code == 0, err
    assert not discovery.record_path(state_dir(example_bars)).exists()
    assert discovery.read_token(state_dir(example_bars)) is None


def test_gh13_the_api_needs_the_token_and_keeps_it_private(serve, example_bars: Path) -> None:
    proc, url, dashboard = serve
    folder = state_dir(example_bars)
    for path in (discovery.token_path(folder), discovery.record_path(folder)):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    for token in (None, "wrong-token"):
        code, body = request(url, "GET", "/system/status", token)
        assert code == 401 and "bearer token" in body["error"] and "\n" not in body["error"]
        code, body = request(url, "POST", "/system/stop", token)
        assert code == 401
    token = discovery.read_token(folder)
    assert token is not None
    code, body = request(url, "GET", "/system/status", token)
    assert code == 200 and body["state"] == "running" and body["owner_pid"] == proc.pid
    code, out, err = end(proc, signal.SIGINT)
    assert code == 0, err
    assert "stop requested" in out and "session stopped" in out
    assert discovery.read_token(folder) is None   # removed at exit
    log = (example_bars / "state" / "mismartera.log").read_text()
    # Only the dashboard's URL carries the token (in its #fragment, issue 19), on serve's own stdout line.
    assert dashboard == f"dashboard: {url}/#token={token}" and token not in out
    assert token not in log + err


def test_gh13_a_stale_discovery_file_is_cleared_and_its_run_marked(run_cli, example_bars: Path) -> None:
    finished = run_cli("system", "start", CONFIG, "--wait", "--json")
    assert finished.code == 0, finished
    run_id = json.loads(finished.out)["run"]["id"]
    from sqlalchemy import update

    from mismartera.data.database import Database
    from mismartera.data.schema import runs

    db = Database(f"sqlite:///{example_bars / 'data' / 'mismartera.db'}")
    with db.begin() as conn:   # as an owner killed with SIGKILL leaves it
        conn.execute(update(runs).where(runs.c.id == run_id).values(state="running", ended_at=None))
    db.dispose()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    folder = state_dir(example_bars)
    stale = discovery.OwnerRecord(dead.pid, discovery.socket.gethostname(), "shell", "2026-01-01T00:00:00+00:00",
                                  port=9, run_id=run_id)
    assert discovery.claim(folder, stale) is None
    discovery.write_token(folder, "left-behind")

    status = run_cli("system", "status", "--json")
    assert status.code == 0, status
    assert json.loads(status.out)["state"] == "stopped" and json.loads(status.out)["owner_pid"] is None
    assert not discovery.record_path(folder).exists() and discovery.read_token(folder) is None
    listed = json.loads(run_cli("system", "runs", "--json").out)
    assert listed[0]["id"] == run_id and listed[0]["state"] == "interrupted"
    assert f"the session owner pid {dead.pid} (shell) is gone" in status.err


def test_gh13_start_wait_stopped_from_elsewhere_exits_0_with_its_report(example_bars: Path, run_cli) -> None:
    owner = spawn(example_bars, "system", "start", CONFIG, "--speed", "60", "--wait", "--json")
    try:
        record = wait_for(lambda: (lambda r: r if r is not None and r.run_id else None)(
            discovery.read_record(state_dir(example_bars))), "the one-shot owner's session")
        assert record.pid == owner.pid and record.kind == "one-shot"
        status = run_cli("system", "status")
        assert f"run {record.run_id} in pid {owner.pid} (one-shot)" in status.out, status
        stopped = run_cli("system", "stop")
        assert stopped.code == 0, stopped
        out, err = owner.communicate(timeout=60)
        assert owner.returncode == 0, err
        report = json.loads(out)
        assert report["run"]["id"] == record.run_id and report["run"]["state"] == "stopped"
        assert not discovery.record_path(state_dir(example_bars)).exists()
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.communicate()


def test_gh13_a_piped_script_owns_its_session_until_stopped_from_outside(example_bars: Path, run_cli) -> None:
    owner = spawn(example_bars, stdin=subprocess.PIPE)
    try:
        assert owner.stdin is not None
        owner.stdin.write(f"system start {CONFIG} --speed 60\n")
        owner.stdin.flush()
        record = wait_for(lambda: (lambda r: r if r is not None and r.run_id else None)(
            discovery.read_record(state_dir(example_bars))), "the script's session")
        assert record.pid == owner.pid and record.kind == "script"
        status = json.loads(run_cli("system", "status", "--json").out)
        assert status["run_id"] == record.run_id and status["owner_kind"] == "script"
        assert run_cli("system", "stop").code == 0
        owner.stdin.write("system status\n")
        out, err = owner.communicate(timeout=60)
        assert owner.returncode == 0, err
        assert re.search(r"State\s+stopped", out.split("system@mismartera> system status")[-1]), out
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.communicate()


def test_gh13_fastapi_is_not_imported_by_version_help_or_a_one_shot_command(cli_home: Path) -> None:
    env = environment(cli_home)
    for args, stdin in ((["--version"], ""), ([], "help system\n"), (["system", "status"], "")):
        proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "mismartera", *args], input=stdin,
                              capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
        assert proc.returncode == 0, proc.stderr
        imported = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in proc.stderr.splitlines() if "|" in line}
        assert not imported & {"fastapi", "uvicorn", "starlette"}, args


def test_gh13_status_through_the_api_imports_neither_typer_nor_the_database_layer(serve, example_bars: Path) -> None:
    """The cross-process `system status` is a start-up benchmark figure (<= 300 ms): it runs straight
    from the registry (no typer, click or pydantic) and asks the host (no SQLAlchemy, no calendar)."""
    env = environment(example_bars)
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "mismartera", "system", "status", "--json"],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["owner_pid"] == serve[0].pid
    imported = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in proc.stderr.splitlines() if "|" in line}
    assert not imported & {"typer", "click", "pydantic", "sqlalchemy", "exchange_calendars", "fastapi", "numpy"}


def test_gh13_a_session_in_the_interactive_shell_is_seen_and_steered_from_another_terminal(
        example_bars: Path, run_cli) -> None:
    """The report of issue 13: a session paused in the shell; another terminal must see it paused
    (not `stopped`), steer it, and place an order that the shell then lists."""
    import pexpect

    env = environment(example_bars)
    env.update({"PROMPT_TOOLKIT_NO_CPR": "1", "TERM": "xterm", "LINES": "30", "COLUMNS": "120"})
    env.pop("NO_COLOR", None)
    shell = pexpect.spawn(sys.executable, ["-m", "mismartera"], env=env, cwd=str(ROOT), dimensions=(30, 120),
                          encoding="utf-8", codec_errors="replace", timeout=60)
    try:
        shell.expect_exact("system@mismartera>")
        shell.send(f"system start {CONFIG} --speed 60\r")
        shell.expect_exact("follow it with: system watch")
        record = wait_for(lambda: (lambda r: r if r is not None and r.run_id else None)(
            discovery.read_record(state_dir(example_bars))), "the shell's session")
        assert record.pid == shell.pid and record.kind == "shell"
        wait_for(lambda: json.loads(run_cli("system", "status", "--json").out)["bars_done"] > 3, "a few bars")
        shell.send("system pause\r")
        shell.expect_exact(f"(run {record.run_id})")

        status = run_cli("system", "status", "--json")
        assert status.code == 0, status
        seen = json.loads(status.out)
        assert (seen["state"], seen["run_id"], seen["owner_pid"], seen["owner_kind"]) == (
            "paused", record.run_id, shell.pid, "shell")
        assert seen["api_url"] == record.api_url
        placed = run_cli("order", "buy", "MSFT", "4", "--json")
        assert placed.code == 0, placed
        order_id = json.loads(placed.out)["id"]
        shell.send("account orders --status new\r")
        shell.expect_exact(" order(s)")
        assert "manual" in shell.before and "MSFT" in shell.before and str(order_id) in shell.before
        assert run_cli("system", "resume").code == 0
        assert json.loads(run_cli("system", "status", "--json").out)["state"] == "running"
        stopped = run_cli("system", "stop")
        assert stopped.code == 0 and stopped.out.startswith(f"stopped (run {record.run_id})"), stopped
        wait_for(lambda: not discovery.record_path(state_dir(example_bars)).exists(), "the shell to let go")
        again = run_cli("system", "stop")
        assert again.code == 3 and "cannot stop: system is stopped" in again.err, again
        shell.sendcontrol("d")
        shell.expect(pexpect.EOF)
    finally:
        shell.close(force=True)
    assert discovery.read_token(state_dir(example_bars)) is None
