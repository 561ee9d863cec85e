"""The process-wide services an adapter needs: settings, database, keys, field cipher.

Built once per process by the app factory or a CLI command (never at import). Holds no state
that other workers need to see: everything shared lives in the database or the key file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from sharing.config import Settings
from sharing.crypto.cipher import FieldCipher
from sharing.crypto.keyring import KeyRing, KeySource
from sharing.db import Database


@dataclass
class Runtime:
    settings: Settings
    db: Database
    keys: KeySource
    cipher: FieldCipher

    @classmethod
    def build(
        cls,
        settings: Settings,
        *,
        database: Database | None = None,
        key_source: KeySource | None = None,
        environ: Mapping[str, str] | None = None,
        create_keys: bool | None = None,
    ) -> Runtime:
        env = os.environ if environ is None else environ
        if key_source is None:
            assert settings.key_file is not None
            keys_present = KeyRing.from_env(env) is not None or settings.key_file.exists()
            settings.check_production(keys_present=keys_present)
            if create_keys is None:
                create_keys = not settings.is_production
            key_source = KeySource.open(settings.key_file, env, create=create_keys)
        else:
            settings.check_production(keys_present=True)
        db = database or Database(settings.database_url)
        return cls(settings, db, key_source, FieldCipher(key_source))

    @property
    def secret_key(self) -> bytes:
        if self.settings.secret_key:
            return self.settings.secret_key.encode()
        return self.keys.current().secret_key
