"""Settings (where things live, which database, Alpaca keys) and the session-config model.

Other packages use `Settings`, `load_settings`, `SessionConfig` and `load_session_config`.
`mismartera.config.session` imports pydantic, so it is only imported when a config is loaded.
"""

from mismartera.config.settings import AlpacaSettings, Settings, load_settings, mask_secret, mask_url

__all__ = ["AlpacaSettings", "Settings", "load_settings", "mask_secret", "mask_url"]
