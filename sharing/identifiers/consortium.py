"""The consortium key ``K_c``: the secret that makes indicator hashes unreversible.

Members hold ``K_c``; the Palisade server never does.  Because every hash is an HMAC under this
key, an operator (or anyone who steals the database) cannot brute-force the small input spaces
of e-mail addresses, phone numbers or IPv4 addresses.  Keys carry an id that travels inside
every hash string, so the consortium can rotate: during the overlap a member hashes with both
keys and the server matches either.

The key file is JSON (``palisade-consortium-key/1``) and is created with mode 0600 because it
is the one secret whose leak undoes the exchange's privacy promise.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import secrets
import stat
import tempfile
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from .constants import KEY_ID_PATTERN, KEYFILE_FORMAT, SECRET_LENGTH

__all__ = [
    "ConsortiumKey",
    "ConsortiumKeyring",
    "InvalidKeyFile",
    "generate_keyring",
    "load_keyring",
    "write_keyring",
]

_KEY_ID_RE = re.compile(KEY_ID_PATTERN)


class InvalidKeyFile(ValueError):
    """The key file (or a key in it) is malformed."""


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class ConsortiumKey:
    """One version of ``K_c``.  ``repr`` never shows the secret."""

    key_id: str
    secret: bytes = field(repr=False)
    created: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.key_id, str) or not _KEY_ID_RE.fullmatch(self.key_id):
            raise InvalidKeyFile(f"invalid key id {self.key_id!r} (expected {KEY_ID_PATTERN})")
        if not isinstance(self.secret, bytes) or len(self.secret) != SECRET_LENGTH:
            raise InvalidKeyFile(f"key {self.key_id}: secret must be {SECRET_LENGTH} bytes")

    @classmethod
    def generate(cls, key_id: str) -> ConsortiumKey:
        return cls(key_id, secrets.token_bytes(SECRET_LENGTH), _now())


class ConsortiumKeyring:
    """Every consortium key a member still hashes with, and which one is ``current``."""

    def __init__(self, keys: list[ConsortiumKey] | tuple[ConsortiumKey, ...], current: str):
        self._keys: dict[str, ConsortiumKey] = {}
        for key in keys:
            if key.key_id in self._keys:
                raise InvalidKeyFile(f"duplicate key id {key.key_id!r}")
            self._keys[key.key_id] = key
        if current not in self._keys:
            raise InvalidKeyFile(f"current key {current!r} is not in the keyring")
        self._current = current

    @property
    def current(self) -> ConsortiumKey:
        return self._keys[self._current]

    @property
    def keys(self) -> tuple[ConsortiumKey, ...]:
        """All keys, current first: the order a client should hash in during a rotation."""
        rest = [k for k in self._keys.values() if k.key_id != self._current]
        return (self.current, *rest)

    def __getitem__(self, key_id: str) -> ConsortiumKey:
        return self._keys[key_id]

    def __contains__(self, key_id: object) -> bool:
        return key_id in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:
        return f"ConsortiumKeyring(keys={list(self._keys)}, current={self._current!r})"

    def add_key(
        self, key: ConsortiumKey | None = None, *, make_current: bool = True
    ) -> ConsortiumKey:
        """Add ``key`` (or a freshly generated one named ``c<n>``) for a rotation."""
        if key is None:
            n = len(self._keys) + 1
            while f"c{n}" in self._keys:
                n += 1
            key = ConsortiumKey.generate(f"c{n}")
        if key.key_id in self._keys:
            raise InvalidKeyFile(f"duplicate key id {key.key_id!r}")
        self._keys[key.key_id] = key
        if make_current:
            self._current = key.key_id
        return key

    def remove_key(self, key_id: str) -> None:
        """Drop a retired key once the rotation overlap is over."""
        if key_id == self._current:
            raise InvalidKeyFile("cannot remove the current key")
        del self._keys[key_id]

    def to_json(self) -> dict:
        return {
            "format": KEYFILE_FORMAT,
            "current": self._current,
            "keys": [
                {
                    "id": k.key_id,
                    "secret": base64.b64encode(k.secret).decode("ascii"),
                    **({"created": k.created} if k.created else {}),
                }
                for k in self._keys.values()
            ],
        }

    @classmethod
    def from_json(cls, data: object) -> ConsortiumKeyring:
        if not isinstance(data, dict) or data.get("format") != KEYFILE_FORMAT:
            raise InvalidKeyFile(f"not a {KEYFILE_FORMAT} key file")
        entries = data.get("keys")
        if not isinstance(entries, list) or not entries:
            raise InvalidKeyFile("key file has no keys")
        keys = []
        for entry in entries:
            if not isinstance(entry, dict) or not isinstance(entry.get("secret"), str):
                raise InvalidKeyFile("malformed key entry")
            try:
                secret = base64.b64decode(entry["secret"], validate=True)
            except binascii.Error:
                raise InvalidKeyFile(f"key {entry.get('id')!r}: secret is not base64") from None
            created = entry.get("created")
            keys.append(ConsortiumKey(entry.get("id"), secret, created))
        current = data.get("current")
        if not isinstance(current, str):
            raise InvalidKeyFile("key file has no current key")
        return cls(keys, current)


def generate_keyring(key_id: str | None = None) -> ConsortiumKeyring:
    """A new keyring holding one random key (named ``c1`` unless ``key_id`` is given)."""
    key = ConsortiumKey.generate(key_id or "c1")
    return ConsortiumKeyring([key], key.key_id)


def load_keyring(path: str | os.PathLike[str]) -> ConsortiumKeyring:
    """Read a key file; warns if group or others can read it."""
    path = Path(path)
    if os.name == "posix":
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            warnings.warn(
                f"{path} is accessible by group/others (mode {stat.S_IMODE(mode):o}); chmod 600 it",
                stacklevel=2,
            )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InvalidKeyFile(f"{path}: not JSON ({exc.msg})") from None
    return ConsortiumKeyring.from_json(data)


def write_keyring(
    path: str | os.PathLike[str], keyring: ConsortiumKeyring, *, overwrite: bool = False
) -> None:
    """Write ``keyring`` to ``path`` with mode 0600.

    Refuses to replace an existing file unless ``overwrite``: silently clobbering a key file
    loses the only copy of a secret.  Overwrites go through a 0600 temporary file and an atomic
    rename so a crash never leaves a half-written key file.
    """
    path = Path(path)
    payload = (json.dumps(keyring.to_json(), indent=2) + "\n").encode("utf-8")
    if not overwrite:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        tmp_name = None
    else:
        # mkstemp creates the file 0600 already.
        fd, tmp_name = tempfile.mkstemp(prefix=".palisade-key-", dir=path.parent)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        if tmp_name is not None:
            os.replace(tmp_name, path)
    except BaseException:
        if tmp_name is not None and os.path.exists(tmp_name):
            os.unlink(tmp_name)
        raise
