"""Settings, read from the environment when an app or command is built, never at import.

Every setting has a safe default for the embedded single-machine deployment (SQLite in the
instance folder, keys generated on first start). Production mode (``PALISADE_ENV=production``)
refuses defaults that are only safe on a laptop: see :func:`Settings.check_production`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any


class ConfigError(Exception):
    """A setting is missing or unsafe; the message says which and how to fix it."""


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    instance_path: Path
    env: str = "development"
    database_url: str = ""
    key_file: Path | None = None
    secret_key: str | None = None
    exchange_name: str = "Palisade"
    max_content_length: int = 20 * 1024 * 1024
    max_objects_per_bundle: int = 100_000
    max_match_items: int = 10_000
    # TAXII: the largest (and the default) ``limit`` of a feed page, in objects
    taxii_max_page_size: int = 1000
    raw_bundle_retention_days: int = 90
    trusted_proxies: int = 0
    ratelimit_uri: str = "memory://"
    log_json: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
    ) -> Settings:
        """Build settings from ``PALISADE_*``/``DATABASE_URL`` variables plus explicit overrides."""
        env = os.environ if environ is None else environ
        overrides = dict(overrides or {})
        instance = Path(
            overrides.pop("instance_path", None) or env.get("PALISADE_INSTANCE", "instance")
        ).resolve()
        values: dict[str, Any] = {
            "instance_path": instance,
            "env": env.get("PALISADE_ENV", "development"),
            "database_url": env.get("DATABASE_URL", ""),
            "secret_key": env.get("PALISADE_SECRET_KEY") or None,
            "exchange_name": env.get("PALISADE_EXCHANGE_NAME", "Palisade"),
            "ratelimit_uri": env.get("PALISADE_RATELIMIT_URI", "memory://"),
            "log_json": _bool(env.get("PALISADE_LOG_JSON", "0")),
        }
        if "PALISADE_KEY_FILE" in env:
            values["key_file"] = Path(env["PALISADE_KEY_FILE"])
        for name, var in (
            ("max_content_length", "PALISADE_MAX_CONTENT_LENGTH"),
            ("max_objects_per_bundle", "PALISADE_MAX_OBJECTS_PER_BUNDLE"),
            ("max_match_items", "PALISADE_MAX_MATCH_ITEMS"),
            ("taxii_max_page_size", "PALISADE_TAXII_MAX_PAGE_SIZE"),
            ("raw_bundle_retention_days", "PALISADE_RAW_BUNDLE_RETENTION_DAYS"),
            ("trusted_proxies", "PALISADE_TRUSTED_PROXIES"),
        ):
            if var in env:
                try:
                    values[name] = int(env[var])
                except ValueError as exc:
                    raise ConfigError(f"{var} must be an integer, got {env[var]!r}") from exc
        known = {f.name for f in fields(cls)}
        extra = {k: overrides.pop(k) for k in list(overrides) if k not in known}
        values.update(overrides)
        values["extra"] = extra
        settings = cls(**values)
        if settings.taxii_max_page_size < 1:
            raise ConfigError(
                "PALISADE_TAXII_MAX_PAGE_SIZE must be at least 1, got "
                f"{settings.taxii_max_page_size}"
            )
        if not settings.database_url:
            settings = settings.replace(
                database_url=f"sqlite:///{settings.instance_path / 'palisade.db'}"
            )
        if settings.key_file is None:
            settings = settings.replace(key_file=settings.instance_path / "palisade-keys.json")
        return settings

    def replace(self, **changes: Any) -> Settings:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data.update(changes)
        return Settings(**data)

    def check_production(self, *, keys_present: bool) -> None:
        """Refuse to run in production with laptop defaults."""
        if not self.is_production:
            return
        problems = []
        if not self.secret_key or self.secret_key in {"dev", "debug", "changeme", "secret"}:
            problems.append("PALISADE_SECRET_KEY must be set to a long random value")
        elif len(self.secret_key) < 32:
            problems.append("PALISADE_SECRET_KEY must be at least 32 characters")
        if not keys_present:
            problems.append(
                "no encryption keys: run `palisade keys init` or set PALISADE_DATA_KEYS and "
                "PALISADE_BLIND_INDEX_KEY (production never generates keys on its own)"
            )
        if problems:
            raise ConfigError("refusing to start in production mode: " + "; ".join(problems))
