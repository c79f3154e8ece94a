"""Issue 15, point 5: a bad home, state folder or settings file is one line and a non-zero exit,
never a traceback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e


def one_line_error(result) -> str:
    """The single error line on stderr (and nothing that looks like a traceback)."""
    assert "Traceback" not in result.err and "Logging error" not in result.err, result
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert len(lines) == 1, result
    return lines[0]


def test_home_is_a_file(run_cli, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.write_text("not a folder")
    result = run_cli("db", "info", env={"MISMARTERA_HOME": str(home)})
    assert result.code == 4
    assert one_line_error(result) == (f"Error: cannot use {home}/data: a part of the path is a file (expected a "
                                      "folder) (set by MISMARTERA_HOME)")


def test_data_folder_is_a_file(run_cli, cli_home: Path) -> None:
    (cli_home / "data").write_text("not a folder")
    result = run_cli("db", "info")
    assert result.code == 4
    assert one_line_error(result) == (f"Error: cannot use {cli_home}/data: it exists and is not a folder "
                                      "(set by MISMARTERA_HOME)")


def test_log_file_is_a_folder(run_cli, cli_home: Path) -> None:
    (cli_home / "state" / "mismartera.log").mkdir(parents=True)
    result = run_cli("db", "info")
    assert result.code == 1
    assert one_line_error(result).startswith(f"Error: is a directory while opening the log {cli_home}/state/"
                                             "mismartera.log")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads and writes any folder: no permission to take away")
def test_home_not_writable(run_cli, tmp_path: Path) -> None:
    home = tmp_path / "locked"
    home.mkdir(mode=0o500)
    try:
        result = run_cli("db", "info", env={"MISMARTERA_HOME": str(home)})
    finally:
        home.chmod(0o700)
    assert result.code == 4
    assert one_line_error(result) == (f"Error: permission denied while creating {home}/data "
                                      "(set by MISMARTERA_HOME)")


SETTINGS = [
    (b"[alpaca]\napi_key = 5\n", "alpaca.api_key: 5 is not valid (expected a string)"),
    (b"[database]\nbusy_timeout_seconds = true\n",
     "database.busy_timeout_seconds: True is not valid (expected a number of seconds > 0)"),
    (b"[database]\nstatement_timeout_seconds = -1\n",
     "database.statement_timeout_seconds: -1 is not valid (expected a number of seconds > 0)"),
    (b"[databse]\nurl = 'x'\n",
     "databse: unknown section (expected one of alpaca, api, cache, database, import, logging)"),
]


@pytest.mark.parametrize(("content", "problem"), SETTINGS, ids=["api_key", "bool", "negative", "section"])
def test_a_bad_settings_value_names_the_key_and_what_is_expected(run_cli, cli_home: Path, content: bytes,
                                                                 problem: str) -> None:
    (cli_home / "config").mkdir()
    (cli_home / "config" / "settings.toml").write_bytes(content)
    result = run_cli("db", "info")
    assert result.code == 4, result
    assert result.err.splitlines() == [f"Error: {cli_home}/config/settings.toml: invalid settings file",
                                       f"  {problem}"]


def test_settings_not_utf8_or_a_folder(run_cli, cli_home: Path) -> None:
    settings = cli_home / "config" / "settings.toml"
    settings.parent.mkdir()
    settings.write_bytes(b"[alpaca]\napi_key = '\xff'\n")
    result = run_cli("db", "info")
    assert result.code == 4
    assert one_line_error(result) == f"Error: {settings}: not UTF-8 text (byte 20; expected a UTF-8 TOML file)"
    settings.unlink()
    settings.mkdir()
    result = run_cli("db", "info")
    assert result.code == 4
    assert one_line_error(result) == f"Error: {settings} is not a file (expected the settings TOML file)"


def test_a_bom_in_settings_is_accepted(run_cli, cli_home: Path) -> None:
    (cli_home / "config").mkdir()
    (cli_home / "config" / "settings.toml").write_bytes(b"\xef\xbb\xbf[logging]\nlevel = 'DEBUG'\n")
    result = run_cli("config", "show", "--json")
    assert result.code == 0, result
    assert '"log_level": "DEBUG"' in result.out


def test_import_limits_come_from_the_settings_file(run_cli, cli_home: Path, tmp_path: Path) -> None:
    (cli_home / "config").mkdir()
    (cli_home / "config" / "settings.toml").write_text("[import]\nmax_price = 100\n")
    bars = tmp_path / "bars.csv"
    bars.write_text("Date,Time,Open,High,Low,Close,Volume\n2024-11-01,09:30,10,10,10,10,1\n"
                    "2024-11-01,09:31,150,150,150,150,1\n")
    result = run_cli("data", "import-file", str(bars), "AAPL", "--strict")
    assert result.code == 1
    assert result.err.splitlines()[1:] == ["  line 3: open 150 is above the largest price allowed (100)"]
