from __future__ import annotations

import re
from pathlib import Path

import pytest

from weir.config import SETTINGS, load_settings
from weir.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def test_defaults_put_everything_under_home(tmp_path: Path) -> None:
    settings = load_settings(environ={}, config_file=None)
    assert settings.home == Path(".weir")
    assert settings.database_url == "sqlite:///.weir/weir.db"
    assert settings.artifact_root == Path(".weir/artifacts")
    assert (settings.host, settings.port, settings.audit_key) == ("127.0.0.1", 8000, None)


def test_precedence_is_defaults_toml_environment_flags(tmp_path: Path) -> None:
    toml = tmp_path / "weir.toml"
    toml.write_text('[weir]\nport = 9000\nuser = "from-toml"\nlog_level = "info"\n')
    settings = load_settings(environ={"WEIR_USER": "from-env"}, config_file=toml)
    assert (settings.port, settings.user, settings.log_level) == (9000, "from-env", "INFO")
    settings = load_settings({"user": "from-flag", "port": None}, environ={"WEIR_USER": "from-env"}, config_file=toml)
    assert (settings.port, settings.user) == (9000, "from-flag")


def test_weir_config_variable_names_the_file(tmp_path: Path) -> None:
    other = tmp_path / "other.toml"
    other.write_text('home = "/srv/weir"\n')
    assert load_settings(environ={"WEIR_CONFIG": str(other)}).home == Path("/srv/weir")
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(environ={"WEIR_CONFIG": str(tmp_path / "missing.toml")})


@pytest.mark.parametrize(
    ("environ", "needle"),
    [
        ({"WEIR_PORT": "eighty"}, "WEIR_PORT"),
        ({"WEIR_PORT": "70000"}, "between 1 and 65535"),
        ({"WEIR_LOG_LEVEL": "LOUD"}, "WEIR_LOG_LEVEL"),
        ({"WEIR_DB_TIMEOUT": "-1"}, "must be positive"),
        ({"WEIR_DATABSE_URL": "sqlite://"}, "Unknown setting 'databse_url'"),
    ],
)
def test_bad_values_fail_at_start_naming_the_key(environ: dict[str, str], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        load_settings(environ=environ, config_file=None)


def test_broken_toml_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "weir.toml"
    bad.write_text("port = = 3")
    with pytest.raises(ConfigError, match="weir.toml is not valid TOML"):
        load_settings(environ={}, config_file=bad)


def test_redacted_url_hides_the_password() -> None:
    settings = load_settings(
        {"database_url": "postgresql+psycopg://weir:hunter2@db:5432/weir"}, environ={}, config_file=None
    )
    assert "hunter2" not in settings.redacted_database_url()
    assert "weir:***@db:5432" in settings.redacted_database_url()


def test_every_setting_is_documented() -> None:
    doc = (ROOT / "docs" / "settings.md").read_text()
    documented = set(re.findall(r"^\| `(\w+)` \| `WEIR_(\w+)`", doc, flags=re.M))
    assert documented == {(s.name, s.name.upper()) for s in SETTINGS}
