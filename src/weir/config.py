"""Settings: one declared table, read once into a frozen object that is passed explicitly.

Precedence, lowest first: the defaults below, then ``weir.toml`` (the ``[weir]`` table, or
top-level keys), then ``WEIR_*`` environment variables, then explicit overrides (CLI flags).
Nothing else in weir reads ``os.environ``. A bad value fails here and names the key.

>>> s = load_settings(environ={"WEIR_HOME": "/tmp/w"}, config_file=None)
>>> s.database_url
'sqlite:////tmp/w/weir.db'
>>> str(s.artifact_root)
'/tmp/w/artifacts'
"""

from __future__ import annotations

import getpass
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from weir.errors import ConfigError


@dataclass(frozen=True)
class Setting:
    name: str
    parse: Callable[[str], Any]
    default: Any
    doc: str


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def _port(value: str) -> int:
    port = int(value)
    if not 0 < port < 65536:
        raise ValueError(f"port must be between 1 and 65535, got {port}")
    return port


def _log_level(value: str) -> str:
    level = value.strip().upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
        raise ValueError(f"expected DEBUG, INFO, WARNING, ERROR or CRITICAL, got {value!r}")
    return level


def _positive_float(value: str) -> float:
    number = float(value)
    if number <= 0:
        raise ValueError(f"must be positive, got {value}")
    return number


def _str(value: str) -> str:
    return value


def _auth(value: str) -> str:
    mode = value.strip().lower()
    if mode not in {"auto", "on", "off"}:
        raise ValueError(f"expected auto, on or off, got {value!r}")
    return mode


def _memory(value: str) -> str:
    if not re.fullmatch(r"\s*\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*", str(value), flags=re.IGNORECASE):
        raise ValueError("expected an amount of memory such as 512MB or 4GB")
    return str(value).strip()


def _positive_int(value: str) -> int:
    number = int(value)
    if number <= 0:
        raise ValueError(f"must be a positive whole number, got {value}")
    return number


SETTINGS: tuple[Setting, ...] = (
    Setting("home", Path, Path(".weir"), "Workspace folder holding the default database and artifacts."),
    Setting(
        "database_url",
        _str,
        None,
        "SQLAlchemy URL of the metadata database; default sqlite:///<home>/weir.db. "
        "PostgreSQL: postgresql+psycopg://user:password@host:5432/db.",
    ),
    Setting("artifact_root", Path, None, "Folder of the content-addressed artifact store; default <home>/artifacts."),
    Setting("user", _str, None, "Name recorded as the actor in the audit log; default the OS user."),
    Setting("host", _str, "127.0.0.1", "Address the REST server binds to."),
    Setting("port", _port, 8000, "Port the REST server listens on."),
    Setting("log_level", _log_level, "WARNING", "Logging level of the CLI and server."),
    Setting("db_timeout", _positive_float, 10.0, "Seconds to wait for the database to answer or unlock."),
    Setting(
        "auth",
        _auth,
        "auto",
        "API token checks on the server: 'auto' requires a token once any exists (`weir tokens create`), "
        "'on' always, 'off' never (refused on a non-loopback host unless --allow-unauthenticated).",
    ),
    Setting("prediction_log", Path, None, "Folder of the prediction log (Parquet); default <home>/predictions."),
    Setting(
        "feature_root",
        Path,
        None,
        "Folder of the feature store's own data (rows pushed to views, DuckDB spill files); default <home>/features.",
    ),
    Setting(
        "online_store",
        _str,
        None,
        "Online feature store: sqlite:///PATH (default sqlite:///<feature_root>/online.db) or "
        "redis://HOST:PORT/DB (shared by several servers; pip install 'weir[redis]').",
    ),
    Setting(
        "offline_memory_limit",
        _memory,
        "4GB",
        "Memory DuckDB may use for point-in-time joins and materialisation before spilling to disk.",
    ),
    Setting("max_body_bytes", _positive_int, 16 * 1024 * 1024, "Largest request body the server accepts (413 above)."),
    Setting(
        "audit_key",
        _str,
        None,
        "Optional secret: when set, the audit chain is keyed (HMAC-SHA256), so a writer without the key "
        "cannot forge a consistent chain.",
    ),
)

_BY_NAME = {s.name: s for s in SETTINGS}


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str
    artifact_root: Path
    user: str
    host: str
    port: int
    log_level: str
    db_timeout: float
    audit_key: str | None
    auth: str
    prediction_log: Path
    max_body_bytes: int
    feature_root: Path
    online_store: str
    offline_memory_limit: str

    def environment(self) -> dict[str, str]:
        """These settings as ``WEIR_*`` variables, for processes that read them back (server workers,
        Ray replicas)."""
        return {f"WEIR_{name.upper()}": str(value) for name, value in vars(self).items() if value is not None}

    def redacted_database_url(self) -> str:
        """The database URL with any password hidden, for messages and logs."""
        from sqlalchemy.engine import make_url

        try:
            return make_url(self.database_url).render_as_string(hide_password=True)
        except Exception:  # an unparseable URL is reported elsewhere; never leak it here
            return "<unparseable database URL>"


def _parse(name: str, raw: Any, source: str) -> Any:
    setting = _BY_NAME.get(name)
    if setting is None:
        known = ", ".join(sorted(_BY_NAME))
        raise ConfigError(f"Unknown setting {name!r} in {source}; known settings: {known}.")
    if raw is None:
        return None
    try:
        return setting.parse(raw if isinstance(raw, str) else str(raw))
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"Setting {name!r} from {source} is invalid: {exc}. {setting.doc}") from exc


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}. Fix the file or remove it.") from exc
    table = data.get("weir", data)
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: the [weir] table must hold key = value settings.")
    return table


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    config_file: Path | str | None = "weir.toml",
) -> Settings:
    """Read settings: defaults, then ``weir.toml``, then ``WEIR_*`` variables, then ``overrides``."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {s.name: s.default for s in SETTINGS}

    config_path = env.get("WEIR_CONFIG", config_file)
    if config_path is not None:
        path = Path(config_path)
        if path.is_file():
            for key, raw in _read_toml(path).items():
                values[key] = _parse(key, raw, str(path))
        elif "WEIR_CONFIG" in env:
            raise ConfigError(f"WEIR_CONFIG points at {path}, which does not exist.")

    for key, raw in env.items():
        if key.startswith("WEIR_") and key != "WEIR_CONFIG":
            name = key[len("WEIR_") :].lower()
            values[name] = _parse(name, raw, f"environment variable {key}")

    for name, raw in (overrides or {}).items():
        if raw is not None:
            values[name] = raw if not isinstance(raw, str) else _parse(name, raw, f"option --{name}")

    home = Path(values["home"]).expanduser()
    values["home"] = home
    if values["database_url"] is None:
        values["database_url"] = f"sqlite:///{home / 'weir.db'}"
    if values["artifact_root"] is None:
        values["artifact_root"] = home / "artifacts"
    values["artifact_root"] = Path(values["artifact_root"]).expanduser()
    if values["prediction_log"] is None:
        values["prediction_log"] = home / "predictions"
    values["prediction_log"] = Path(values["prediction_log"]).expanduser()
    if values["feature_root"] is None:
        values["feature_root"] = home / "features"
    values["feature_root"] = Path(values["feature_root"]).expanduser()
    if values["online_store"] is None:
        values["online_store"] = f"sqlite:///{values['feature_root'] / 'online.db'}"
    if values["user"] is None:
        values["user"] = _os_user()
    return Settings(**{f.name: values[f.name] for f in fields(Settings)})


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
