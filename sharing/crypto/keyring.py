"""The server's key ring: versioned data keys, the blind-index key and the session secret.

Held in a JSON key file created with mode 0600 in the instance folder, or in environment
variables (``PALISADE_DATA_KEYS="d1:<b64>,d2:<b64>"``, ``PALISADE_ACTIVE_DATA_KEY``,
``PALISADE_BLIND_INDEX_KEY``) for deployments whose secrets live in a secret manager. Several
stateless workers share one file: :class:`KeySource` re-reads it when it changes, so a
``palisade keys rotate`` run is picked up by every worker without a restart.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import re
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

FILE_FORMAT = "palisade-server-keys/1"
KEY_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")


class KeyRingError(Exception):
    """The key file or key variables are missing, malformed or unsafe."""


def _b64decode(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except (ValueError, TypeError) as exc:
        raise KeyRingError(f"{what} is not valid base64") from exc
    if len(raw) != 32:
        raise KeyRingError(f"{what} must be 32 bytes, got {len(raw)}")
    return raw


@dataclass
class KeyRing:
    data_keys: dict[str, bytes]
    active_id: str
    blind_index_key: bytes
    secret_key: bytes
    created: dict[str, str] = field(default_factory=dict)
    _aeads: dict[str, AESGCM] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.active_id not in self.data_keys:
            raise KeyRingError(f"active data key {self.active_id!r} is not in the key ring")
        for key_id in self.data_keys:
            if not KEY_ID_RE.match(key_id):
                raise KeyRingError(f"bad data key id {key_id!r}")

    def __repr__(self) -> str:  # never print secrets, even by accident
        return f"KeyRing(active_id={self.active_id!r}, data_keys={sorted(self.data_keys)})"

    def aead(self, key_id: str) -> AESGCM:
        aead = self._aeads.get(key_id)
        if aead is None:
            aead = self._aeads[key_id] = AESGCM(self.data_keys[key_id])
        return aead

    def with_new_active_key(self) -> KeyRing:
        """A copy with one more data key, made active; old keys stay for reading."""
        number = 1 + max(
            (int(k[1:]) for k in self.data_keys if re.fullmatch(r"d\d+", k)), default=0
        )
        new_id = f"d{number}"
        keys = dict(self.data_keys)
        keys[new_id] = AESGCM.generate_key(bit_length=256)
        created = dict(self.created)
        created[new_id] = datetime.now(UTC).isoformat(timespec="seconds")
        return KeyRing(keys, new_id, self.blind_index_key, self.secret_key, created)

    def without_keys(self, key_ids: set[str]) -> KeyRing:
        if self.active_id in key_ids:
            raise KeyRingError("cannot retire the active data key")
        keys = {k: v for k, v in self.data_keys.items() if k not in key_ids}
        return KeyRing(keys, self.active_id, self.blind_index_key, self.secret_key, self.created)

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": FILE_FORMAT,
                "active": self.active_id,
                "data_keys": [
                    {
                        "id": key_id,
                        "secret": base64.b64encode(secret).decode(),
                        "created": self.created.get(key_id),
                    }
                    for key_id, secret in self.data_keys.items()
                ],
                "blind_index_key": base64.b64encode(self.blind_index_key).decode(),
                "secret_key": base64.b64encode(self.secret_key).decode(),
            },
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str) -> KeyRing:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise KeyRingError("key file is not valid JSON") from exc
        if not isinstance(data, dict) or data.get("format") != FILE_FORMAT:
            raise KeyRingError(f"key file format must be {FILE_FORMAT!r}")
        try:
            keys = {
                entry["id"]: _b64decode(entry["secret"], f"data key {entry['id']!r}")
                for entry in data["data_keys"]
            }
            created = {e["id"]: e.get("created") for e in data["data_keys"] if e.get("created")}
            return cls(
                keys,
                data["active"],
                _b64decode(data["blind_index_key"], "blind_index_key"),
                _b64decode(data["secret_key"], "secret_key"),
                created,
            )
        except (KeyError, TypeError) as exc:
            raise KeyRingError(f"key file is missing a field: {exc}") from exc

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> KeyRing | None:
        spec = env.get("PALISADE_DATA_KEYS")
        if not spec:
            return None
        keys: dict[str, bytes] = {}
        for part in spec.split(","):
            key_id, sep, secret = part.strip().partition(":")
            if not sep:
                raise KeyRingError("PALISADE_DATA_KEYS must look like 'd1:<base64>,d2:<base64>'")
            keys[key_id] = _b64decode(secret, f"data key {key_id!r}")
        if "PALISADE_BLIND_INDEX_KEY" not in env:
            raise KeyRingError("PALISADE_DATA_KEYS is set but PALISADE_BLIND_INDEX_KEY is not")
        blind_index_key = _b64decode(env["PALISADE_BLIND_INDEX_KEY"], "PALISADE_BLIND_INDEX_KEY")
        # Without PALISADE_SECRET_KEY, derive one from key material every worker shares, so
        # sessions and paging tokens stay valid across workers and hosts.
        secret_key = (
            env.get("PALISADE_SECRET_KEY", "").encode()
            or hmac.new(blind_index_key, b"palisade-session-secret", hashlib.sha256).digest()
        )
        return cls(
            keys,
            env.get("PALISADE_ACTIVE_DATA_KEY", list(keys)[-1]),
            blind_index_key,
            secret_key,
        )


def generate_keyring() -> KeyRing:
    now = datetime.now(UTC).isoformat(timespec="seconds")
    return KeyRing(
        {"d1": AESGCM.generate_key(bit_length=256)},
        "d1",
        secrets.token_bytes(32),
        secrets.token_bytes(32),
        {"d1": now},
    )


def write_keyring_file(path: Path, keyring: KeyRing, *, overwrite: bool = False) -> None:
    """Write atomically with mode 0600: a temp file in the same folder, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and not overwrite:
        raise KeyRingError(f"{path} already exists; refusing to overwrite keys")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(keyring.to_json())
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def load_keyring_file(path: Path) -> KeyRing:
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError as exc:
        raise KeyRingError(f"key file {path} does not exist") from exc
    if mode & 0o077:
        raise KeyRingError(
            f"key file {path} is readable by others (mode {mode:o}); run chmod 600 {path}"
        )
    return KeyRing.from_json(path.read_text())


class KeySource:
    """Where the running process gets its key ring; re-reads a changed key file."""

    RECHECK_SECONDS = 2.0

    def __init__(self, keyring: KeyRing, path: Path | None = None) -> None:
        self._keyring = keyring
        self._path = path
        self._lock = threading.Lock()
        self._mtime = path.stat().st_mtime_ns if path is not None else None
        self._checked = time.monotonic()

    @property
    def path(self) -> Path | None:
        return self._path

    def current(self) -> KeyRing:
        if self._path is not None and time.monotonic() - self._checked > self.RECHECK_SECONDS:
            self.refresh()
        return self._keyring

    def refresh(self) -> KeyRing:
        if self._path is None:
            return self._keyring
        with self._lock:
            self._checked = time.monotonic()
            try:
                mtime = self._path.stat().st_mtime_ns
            except FileNotFoundError:
                return self._keyring
            if mtime != self._mtime:
                self._keyring = load_keyring_file(self._path)
                self._mtime = mtime
        return self._keyring

    def replace(self, keyring: KeyRing) -> None:
        """Persist a new ring (rotation) and use it from now on."""
        with self._lock:
            if self._path is not None:
                write_keyring_file(self._path, keyring, overwrite=True)
                self._mtime = self._path.stat().st_mtime_ns
            self._keyring = keyring

    @classmethod
    def open(cls, key_file: Path, env: Mapping[str, str], *, create: bool) -> KeySource:
        """Environment keys win; else the key file; else create it when allowed."""
        from_env = KeyRing.from_env(env)
        if from_env is not None:
            return cls(from_env)
        if not key_file.exists():
            if not create:
                raise KeyRingError(
                    f"no keys: {key_file} does not exist and PALISADE_DATA_KEYS is not set"
                )
            # Another worker may create it first; then read theirs.
            with contextlib.suppress(KeyRingError):
                write_keyring_file(key_file, generate_keyring())
        return cls(load_keyring_file(key_file), key_file)
