from pathlib import Path

import pytest

from mismartera.config.settings import load_settings, mask_secret, mask_url
from mismartera.errors import ConfigError


def test_home_moves_every_folder(tmp_path: Path) -> None:
    settings = load_settings({"MISMARTERA_HOME": str(tmp_path)})
    assert settings.data_dir == tmp_path / "data"
    assert settings.state_dir == tmp_path / "state"
    assert settings.config_dir == tmp_path / "config"
    assert settings.db_url == f"sqlite:///{tmp_path / 'data' / 'mismartera.db'}"
    assert settings.log_file.parent == settings.state_dir
    assert settings.history_file.parent == settings.state_dir


def test_platform_dirs_without_home() -> None:
    settings = load_settings({})
    assert settings.home is None
    assert "mismartera" in str(settings.data_dir)


def test_env_overrides_settings_file(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "settings.toml").write_text(
        '[database]\nurl = "sqlite:///from-file.db"\n[alpaca]\napi_key = "FILEKEY123"\nsecret_key = "FILESECRET123"\n')
    from_file = load_settings({"MISMARTERA_HOME": str(tmp_path)})
    assert from_file.db_url == "sqlite:///from-file.db"
    assert from_file.alpaca.api_key == "FILEKEY123" and from_file.alpaca.has_keys
    from_env = load_settings({"MISMARTERA_HOME": str(tmp_path), "MISMARTERA_DB_URL": "sqlite:///env.db",
                              "ALPACA_API_KEY": "ENVKEY456", "ALPACA_DATA_URL": "http://127.0.0.1:1"})
    assert from_env.db_url == "sqlite:///env.db"
    assert from_env.alpaca.api_key == "ENVKEY456"
    assert from_env.alpaca.secret_key == "FILESECRET123"
    assert from_env.alpaca.data_url == "http://127.0.0.1:1"


def test_settings_file_unknown_key(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "settings.toml").write_text('[alpaca]\napikey = "x"\n')
    with pytest.raises(ConfigError, match=r"alpaca\.apikey: unknown key"):
        load_settings({"MISMARTERA_HOME": str(tmp_path)})


def test_describe_masks_secrets(tmp_path: Path) -> None:
    settings = load_settings({"MISMARTERA_HOME": str(tmp_path), "ALPACA_API_KEY": "PKTESTKEY1234567",
                              "ALPACA_SECRET_KEY": "SECRETSECRETSECRET",
                              "MISMARTERA_DB_URL": "postgresql://u:hunter2@db/x"})
    text = repr(settings.describe()) + repr(settings)
    assert "SECRETSECRETSECRET" not in text and "PKTESTKEY1234567" not in text and "hunter2" not in text
    assert mask_url("postgresql+psycopg://u:pw@h:5432/d") == "postgresql+psycopg://u:***@h:5432/d"
    assert mask_secret(None) == "(not set)"
