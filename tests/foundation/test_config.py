"""Settings: safe defaults on a laptop, refusals in production, keys from a file or the env."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from sharing import create_app
from sharing.config import ConfigError, Settings
from sharing.crypto.keyring import KeyRingError, generate_keyring, write_keyring_file
from sharing.db import Database
from sharing.runtime import Runtime

STRONG_SECRET = "k" * 16 + "9f3c2a7e1b5d4c6a8e0f2b4d6c8a0e1f"


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def env_keys() -> dict[str, str]:
    return {
        "PALISADE_DATA_KEYS": f"d1:{_b64(os.urandom(32))},d2:{_b64(os.urandom(32))}",
        "PALISADE_BLIND_INDEX_KEY": _b64(os.urandom(32)),
    }


def build(environ: dict[str, str], tmp_path: Path) -> Runtime:
    environ = {"PALISADE_INSTANCE": str(tmp_path / "instance"), **environ}
    settings = Settings.from_env(environ=environ)
    return Runtime.build(settings, environ=environ, database=Database("sqlite://"))


# --- production refuses laptop defaults ------------------------------------------------------


@pytest.mark.parametrize("secret", [None, "", "dev", "changeme", "secret", "short-but-set"])
def test_production_refuses_a_missing_or_weak_secret_key(tmp_path: Path, secret: str | None):
    environ = {"PALISADE_ENV": "production", **env_keys()}
    if secret is not None:
        environ["PALISADE_SECRET_KEY"] = secret
    with pytest.raises(ConfigError, match="PALISADE_SECRET_KEY"):
        build(environ, tmp_path)


def test_production_refuses_to_start_without_keys(tmp_path: Path) -> None:
    environ = {"PALISADE_ENV": "production", "PALISADE_SECRET_KEY": STRONG_SECRET}
    with pytest.raises(ConfigError, match="no encryption keys"):
        build(environ, tmp_path)
    # ...and it did not quietly generate a key file on the way.
    assert not (tmp_path / "instance" / "palisade-keys.json").exists()


def test_production_names_every_problem_at_once(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        build({"PALISADE_ENV": "production"}, tmp_path)
    assert "PALISADE_SECRET_KEY" in str(info.value)
    assert "no encryption keys" in str(info.value)


def test_production_starts_with_a_strong_secret_and_a_key_file(tmp_path: Path) -> None:
    key_file = tmp_path / "instance" / "palisade-keys.json"
    ring = generate_keyring()
    write_keyring_file(key_file, ring)
    rt = build({"PALISADE_ENV": "production", "PALISADE_SECRET_KEY": STRONG_SECRET}, tmp_path)
    assert rt.keys.current().data_keys == ring.data_keys
    assert rt.secret_key == STRONG_SECRET.encode()


def test_production_starts_with_a_strong_secret_and_env_keys(tmp_path: Path) -> None:
    environ = {"PALISADE_ENV": "production", "PALISADE_SECRET_KEY": STRONG_SECRET, **env_keys()}
    rt = build(environ, tmp_path)
    assert rt.keys.current().active_id == "d2"
    assert not (tmp_path / "instance" / "palisade-keys.json").exists()


def test_create_app_in_production_refuses_a_missing_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if name.startswith("PALISADE_") or name == "DATABASE_URL":
            monkeypatch.delenv(name)
    monkeypatch.setenv("PALISADE_ENV", "production")
    for name, value in env_keys().items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match="PALISADE_SECRET_KEY"):
        create_app({"instance_path": tmp_path / "instance", "database_url": "sqlite://"})
    monkeypatch.setenv("PALISADE_SECRET_KEY", STRONG_SECRET)
    app = create_app({"instance_path": tmp_path / "instance", "database_url": "sqlite://"})
    assert app.config["SECRET_KEY"] == STRONG_SECRET.encode()
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_production_refuses_a_key_file_readable_by_others(tmp_path: Path) -> None:
    key_file = tmp_path / "instance" / "palisade-keys.json"
    write_keyring_file(key_file, generate_keyring())
    key_file.chmod(0o644)
    with pytest.raises(KeyRingError, match="chmod 600"):
        build({"PALISADE_ENV": "production", "PALISADE_SECRET_KEY": STRONG_SECRET}, tmp_path)


# --- development mode -----------------------------------------------------------------------


def test_development_generates_a_0600_key_file_on_first_start(tmp_path: Path) -> None:
    key_file = tmp_path / "instance" / "palisade-keys.json"
    assert not key_file.exists()
    first = build({}, tmp_path)
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert first.keys.path == key_file
    # The second start reuses the file instead of generating new keys.
    second = build({}, tmp_path)
    assert second.keys.current().data_keys == first.keys.current().data_keys
    assert second.keys.current().blind_index_key == first.keys.current().blind_index_key
    assert second.secret_key == first.secret_key


def test_development_defaults_to_sqlite_in_the_instance_folder(tmp_path: Path) -> None:
    settings = Settings.from_env(environ={"PALISADE_INSTANCE": str(tmp_path / "inst")})
    assert settings.env == "development" and not settings.is_production
    assert settings.database_url == f"sqlite:///{tmp_path / 'inst' / 'palisade.db'}"
    assert settings.key_file == tmp_path / "inst" / "palisade-keys.json"


def test_env_keys_are_used_without_a_key_file(tmp_path: Path) -> None:
    keys = env_keys()
    rt = build({**keys, "PALISADE_ACTIVE_DATA_KEY": "d1"}, tmp_path)
    ring = rt.keys.current()
    assert set(ring.data_keys) == {"d1", "d2"} and ring.active_id == "d1"
    assert ring.blind_index_key == base64.b64decode(keys["PALISADE_BLIND_INDEX_KEY"])
    assert rt.keys.path is None
    assert not (tmp_path / "instance" / "palisade-keys.json").exists()
    blob = rt.cipher.encrypt_text("analyst@lab.example", "users.email:1")
    assert rt.cipher.decrypt_text(blob, "users.email:1") == "analyst@lab.example"


def test_env_keys_win_over_an_existing_key_file(tmp_path: Path) -> None:
    write_keyring_file(tmp_path / "instance" / "palisade-keys.json", generate_keyring())
    keys = env_keys()
    rt = build(keys, tmp_path)
    assert rt.keys.path is None
    assert rt.keys.current().blind_index_key == base64.b64decode(keys["PALISADE_BLIND_INDEX_KEY"])


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"PALISADE_DATA_KEYS": f"d1:{_b64(os.urandom(32))}"}, "PALISADE_BLIND_INDEX_KEY"),
        (
            {"PALISADE_DATA_KEYS": "d1:not-base64!", "PALISADE_BLIND_INDEX_KEY": _b64(b"x" * 32)},
            "not valid base64",
        ),
        (
            {
                "PALISADE_DATA_KEYS": f"d1:{_b64(b'short')}",
                "PALISADE_BLIND_INDEX_KEY": _b64(b"x" * 32),
            },
            "32 bytes",
        ),
        (
            {"PALISADE_DATA_KEYS": "no-separator", "PALISADE_BLIND_INDEX_KEY": _b64(b"x" * 32)},
            "d1:<base64>",
        ),
    ],
    ids=["no-index-key", "bad-base64", "short-key", "malformed"],
)
def test_malformed_env_keys_are_refused(tmp_path: Path, environ: dict[str, str], message: str):
    with pytest.raises(KeyRingError, match=message):
        build(environ, tmp_path)


def test_a_key_file_path_can_be_set_explicitly(tmp_path: Path) -> None:
    key_file = tmp_path / "secrets" / "keys.json"
    rt = build({"PALISADE_KEY_FILE": str(key_file)}, tmp_path)
    assert rt.keys.path == key_file and key_file.stat().st_mode & 0o777 == 0o600


# --- parsing --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "variable",
    [
        "PALISADE_MAX_CONTENT_LENGTH",
        "PALISADE_MAX_OBJECTS_PER_BUNDLE",
        "PALISADE_MAX_MATCH_ITEMS",
        "PALISADE_TRUSTED_PROXIES",
    ],
)
def test_a_non_integer_limit_is_a_config_error_naming_the_variable(variable: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        Settings.from_env(environ={variable: "20MB"})


def test_integer_limits_and_flags_are_parsed() -> None:
    settings = Settings.from_env(
        environ={
            "PALISADE_MAX_CONTENT_LENGTH": "1048576",
            "PALISADE_TRUSTED_PROXIES": "2",
            "PALISADE_LOG_JSON": "yes",
            "DATABASE_URL": "postgresql+psycopg://db/palisade",
        }
    )
    assert settings.max_content_length == 1048576
    assert settings.trusted_proxies == 2
    assert settings.log_json is True
    assert settings.database_url == "postgresql+psycopg://db/palisade"


def test_the_app_enforces_the_configured_body_limit(tmp_path: Path) -> None:
    settings = Settings.from_env(
        environ={"PALISADE_MAX_CONTENT_LENGTH": "64"},
        overrides={"instance_path": tmp_path / "instance"},
    )
    app = create_app({"settings": settings, "database": Database("sqlite://")})
    assert app.config["MAX_CONTENT_LENGTH"] == 64
