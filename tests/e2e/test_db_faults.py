"""Issue 14, point 6: a database write that fails mid-session (PostgreSQL stopped, a full disk) fails the
session within 10 s with the database's message and no traceback; the days already committed stay
readable, and once the database is back the run is found interrupted and resumes to the end.

The PostgreSQL test starts a throwaway server of its own (initdb under the test's tmp dir, a free port
on 127.0.0.1) so it can stop it; it is skipped where PostgreSQL's binaries are not installed. The full
disk is a small tmpfs, mounted only where the machine allows it (root with mount rights); skipped
otherwise."""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "example_session.json"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrivatePostgres:
    """A PostgreSQL server in a tmp dir that the test may stop and start again."""

    def __init__(self) -> None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb")) or [shutil.which("initdb") or ""]
        if not found[-1]:
            pytest.skip("PostgreSQL binaries (initdb, pg_ctl) are not installed")
        self.bin = Path(found[-1]).parent
        self.root = Path(tempfile.mkdtemp(prefix="mismartera-pg-"))   # outside pytest's 0700 tmp dirs
        self.data = self.root / "pgdata"
        self.port = free_port()
        self.user: str | None = None
        if os.geteuid() == 0:   # PostgreSQL refuses to run as root: run it as the postgres user
            if shutil.which("runuser") is None or subprocess.run(["id", "postgres"], capture_output=True).returncode:
                pytest.skip("running as root without a postgres user to run the server as")
            self.user = "postgres"
            os.chmod(self.root, 0o755)
        self.data.mkdir()
        if self.user:
            shutil.chown(self.data, self.user)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bin / tool), *args]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.data / "server.log"), "-w", "-t", "60",
                  "-o", f"-h 127.0.0.1 -p {self.port} -k {self.data} -F", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def freeze(self, sig: int) -> None:
        """Send `sig` (SIGSTOP / SIGCONT) to the server and every backend: it stops answering, with its
        connections left open."""
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        pids = [postmaster]
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == postmaster:
                pids.append(int(stat.parent.name))
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:   # a backend that ended meanwhile
                pass

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    pytest.importorskip("psycopg")
    server = PrivatePostgres()
    try:
        server.start()
        yield server
    finally:
        if (server.data / "postmaster.pid").exists():
            server.stop("immediate")
        shutil.rmtree(server.root, ignore_errors=True)


def env_for(home: Path, db_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALPACA_", "MISMARTERA_"))}
    env.update({"MISMARTERA_HOME": str(home), "MISMARTERA_DB_URL": db_url, "COLUMNS": "120", "NO_COLOR": "1",
                "TERM": "dumb", "PYTHONPATH": str(ROOT)})
    return env


def cli(home: Path, db_url: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mismartera", *args], cwd=ROOT, env=env_for(home, db_url),
                          capture_output=True, text=True, timeout=180)


def seed(db_url: str) -> None:
    from datetime import date

    from mismartera.data.bar_store import BarStore
    from mismartera.data.database import Database
    from mismartera.data.demo import seed_demo
    from mismartera.timekeeping.calendar import TimeManager

    db = Database(db_url)
    try:
        seed_demo(BarStore(db), TimeManager(), ["AAPL", "MSFT"], date(2024, 11, 25), 4, 7)
    finally:
        db.dispose()


def days_stored(db_url: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM daily_equity")).scalar())
    except Exception:
        return 0
    finally:
        engine.dispose()


def start_paced(home: Path, db_url: str) -> subprocess.Popen:
    """The example backtest at 6000x (about 4 s a day), waiting."""
    return subprocess.Popen([sys.executable, "-m", "mismartera", "system", "start", str(EXAMPLE), "--speed", "6000",
                             "--wait"], cwd=ROOT, env=env_for(home, db_url), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def wait_first_day(proc: subprocess.Popen, db_url: str) -> None:
    deadline = time.monotonic() + 120
    while days_stored(db_url) < 1:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no day was stored"
        time.sleep(0.2)


def check_resumes(home: Path, db_url: str, error_text: str) -> None:
    """After the fault: the run is interrupted or failed (resumable), its day is readable, and it resumes."""
    runs = json.loads(cli(home, db_url, "system", "runs", "--json").stdout)
    assert runs[0]["state"] in ("interrupted", "failed"), runs
    report = cli(home, db_url, "system", "report", str(runs[0]["id"]), "--json")
    data = json.loads(report.stdout)
    assert data["partial"] is True and data["days_done"] >= 1 and data["days_planned"] == 4
    resumed = cli(home, db_url, "system", "start", "--resume", str(runs[0]["id"]), "--speed", "0", "--wait",
                  "--json")
    assert resumed.returncode == 0, resumed.stderr
    final = json.loads(resumed.stdout)
    assert final["run"]["state"] == "finished" and final["partial"] is False and final["days_done"] == 4


def test_postgresql_stopped_mid_run_fails_the_session_within_10s(private_postgres: PrivatePostgres,
                                                                  tmp_path: Path) -> None:
    home, url = tmp_path / "home", private_postgres.url
    seed(url)
    proc = start_paced(home, url)
    try:
        wait_first_day(proc, url)
        private_postgres.stop("fast")
        began = time.monotonic()
        out, err = proc.communicate(timeout=60)
        took = time.monotonic() - began
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 1, (out, err)
    assert took < 10, err
    assert "database write failed" in err and "Traceback" not in out + err
    private_postgres.start()
    check_resumes(home, url, err)


def test_postgresql_that_stops_answering_fails_the_session_within_10s(private_postgres: PrivatePostgres,
                                                                      tmp_path: Path) -> None:
    """The server is frozen (SIGSTOP): a write hangs instead of failing; the watchdog gives it 10 s."""
    home, url = tmp_path / "home", private_postgres.url
    seed(url)
    proc = start_paced(home, url)
    try:
        wait_first_day(proc, url)
        private_postgres.freeze(signal.SIGSTOP)
        began = time.monotonic()
        out, err = proc.communicate(timeout=60)
        took = time.monotonic() - began
    finally:
        private_postgres.freeze(signal.SIGCONT)
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 1, (out, err)
    # 10 s for the write, up to 2 s waiting for the failed state to be recorded (it cannot be), 2 s to join
    # the workers, then the exit
    assert took < 20, err
    assert "a database write did not finish within 10s" in err and "Traceback" not in out + err
    check_resumes(home, url, err)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 6 MB tmpfs, or a skip where mounting one is not allowed."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a full disk is simulated with a small tmpfs, which needs root to mount")
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(mount)], capture_output=True,
                            text=True)
    if result.returncode:
        pytest.skip(f"cannot mount a tmpfs here ({result.stderr.strip() or result.returncode})")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def fill(disk: Path) -> Path:
    """Take every free byte of the disk."""
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as handle:   # nothing left to flush (and fail) at close
        try:
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
        except OSError:
            pass
    return filler


def test_a_full_disk_mid_run_fails_the_session_within_10s(small_disk: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    url = f"sqlite:///{small_disk / 'mismartera.db'}"
    seed(url)
    proc = start_paced(home, url)
    try:
        wait_first_day(proc, url)
        filler = fill(small_disk)
        began = time.monotonic()
        out, err = proc.communicate(timeout=60)
        took = time.monotonic() - began
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 1, (out, err)
    assert took < 10, err
    assert "disk full while writing the database" in err and "Traceback" not in out + err
    filler.unlink()
    check_resumes(home, url, err)
