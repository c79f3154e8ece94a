"""Issue 15, points 3, 5 and 6: private file modes, export-csv on special files, disk full as one
line, and read paths that survive a bad stored row."""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
from pathlib import Path

import pytest

from mismartera.files import os_error_line, write_private

pytestmark = pytest.mark.e2e


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_state_dir_log_and_history_are_private(run_cli, cli_home: Path) -> None:
    (cli_home / "state").mkdir(mode=0o755)
    (cli_home / "state" / "mismartera.log").write_text("old\n")
    (cli_home / "state" / "mismartera.log").chmod(0o644)
    assert run_cli("db", "info").code == 0
    assert mode(cli_home / "state") == 0o700 and mode(cli_home / "state" / "mismartera.log") == 0o600
    from mismartera.cli.history import MaskedFileHistory

    history = MaskedFileHistory(cli_home / "state" / "history", str)
    history.append_string("data list")
    assert mode(cli_home / "state" / "history") == 0o600


def test_write_private_is_atomic_and_0600(tmp_path: Path) -> None:
    target = tmp_path / "token"
    write_private(target, "first")
    write_private(target, "second")
    assert target.read_text() == "second" and mode(target) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["token"]


def test_write_private_on_a_full_disk_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "token"
    write_private(target, "old")

    def full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError) as caught:
        write_private(target, "new")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["token"]
    assert os_error_line(caught.value, "writing", target) == (
        f"disk full while writing {target} (nothing was half-written; free some space and retry)")


@pytest.fixture
def seeded(run_cli) -> None:
    assert run_cli("data", "demo", "--symbols", "AAPL", "--start", "2024-11-27", "--days", "1").code == 0


def export(run_cli, target: Path):
    return run_cli("data", "export-csv", "AAPL", "2024-11-27", "2024-11-27", "-o", str(target))


def test_export_csv_replaces_regular_files_follows_links_and_refuses_folders(run_cli, seeded, tmp_path: Path) -> None:
    real = tmp_path / "real.csv"
    real.write_text("old")
    real.chmod(0o640)
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    assert export(run_cli, link).code == 0
    assert link.is_symlink() and real.read_text().startswith("timestamp,") and mode(real) == 0o640
    folder = tmp_path / "folder"
    folder.mkdir()
    result = export(run_cli, folder)
    assert (result.code, result.err.strip()) == (1, f"Error: {folder} is a folder (expected a file name for the CSV)")
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "mmhome") == ["folder", "link.csv", "real.csv"]


def test_export_csv_writes_through_a_fifo_and_refuses_one_nobody_reads(run_cli, seeded, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    result = export(run_cli, fifo)
    assert (result.code, result.err.strip()) == (1, f"Error: nothing is reading from the FIFO {fifo} "
                                                    "(start the reader first)")
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()))
    reader.start()
    result = export(run_cli, fifo)
    reader.join(30)
    assert result.code == 0, result
    assert stat.S_ISFIFO(fifo.lstat().st_mode) and received[0].count("\n") == 1 + 390


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full on this system")
def test_export_csv_to_a_full_device_is_one_line(run_cli, seeded) -> None:
    result = export(run_cli, Path("/dev/full"))
    assert result.code == 1
    assert result.err.strip() == ("Error: disk full while writing /dev/full (nothing was half-written; free some "
                                  "space and retry)")
    assert stat.S_ISCHR(Path("/dev/full").stat().st_mode) and mode(Path("/dev/full")) == 0o666


def test_a_full_log_warns_once_and_the_command_still_answers(run_cli, cli_home: Path) -> None:
    (cli_home / "state").mkdir()
    (cli_home / "state" / "mismartera.log").symlink_to("/dev/full")
    result = run_cli("data", "list", env={"MISMARTERA_LOG_LEVEL": "DEBUG"})  # so that records are written
    assert result.code == 0, result
    assert result.err.splitlines() == [f"warning: disk full while writing the log {cli_home}/state/mismartera.log "
                                       "(nothing was half-written; free some space and retry); further log lines "
                                       "are dropped"]


BAD_TIMES = [(-62135596800, "invalid time -62135596800"), (253402300800, "invalid time 253402300800")]


def test_every_read_path_survives_a_bad_stored_row(run_cli, seeded, cli_home: Path) -> None:
    with sqlite3.connect(cli_home / "data" / "mismartera.db") as conn:
        for ts, _ in BAD_TIMES:
            conn.execute("INSERT INTO bars VALUES ('AAPL', '1m', ?, 1, 1, 1, 1, 1, NULL, NULL)", (ts,))
    for args in (("data", "list"), ("data", "info", "AAPL"), ("data", "quality", "AAPL"), ("data", "latest", "AAPL"),
                 ("data", "list", "--json"), ("data", "bars", "AAPL", "2024-11-27", "--limit", "1")):
        result = run_cli(*args)
        assert result.code == 0, result
        assert "internal error" not in result.err
    listed = run_cli("data", "list", "--json")
    assert '"first": "invalid time -62135596800"' in listed.out and '"last": "invalid time 253402300800"' in listed.out
    assert "overall 100.00%: 390 of 390 minutes" in run_cli("data", "quality", "AAPL").out
    early = run_cli("data", "delete", "AAPL", "--start", "0001-01-01", "--end", "1969-12-31", "--yes")
    assert (early.code, early.out.strip()) == (0, "deleted 1 bar(s) of AAPL")
    late = run_cli("data", "delete", "AAPL", "--start", "2100-01-01", "--yes")
    assert (late.code, late.out.strip()) == (0, "deleted 1 bar(s) of AAPL")
    exact = run_cli("data", "delete", "AAPL", "--start", "2024-11-27", "--end", "2024-11-27", "--yes")
    assert (exact.code, exact.out.strip()) == (0, "deleted 390 bar(s) of AAPL")
