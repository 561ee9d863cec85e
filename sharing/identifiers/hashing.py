"""Exact indicator hashes: ``hmac-sha256:<key_id>:<hex>`` over ``kind 0x1f normalised``.

This is what leaves a member and what the server stores and matches on.  Members hash whole
CSV exports (hundreds of thousands of accounts) before a submission, so the hot path matters:
the HMAC state after absorbing ``K_c`` *and* ``kind 0x1f`` is computed once per (key, kind) and
copied per value, and e-mail normalisation has an ASCII fast path.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable, Iterable
from functools import lru_cache

from .consortium import ConsortiumKey, ConsortiumKeyring
from .constants import HASH_ALGORITHM, KEY_ID_PATTERN, KIND_SEPARATOR, KINDS
from .normalise import InvalidIdentifier, normalise

try:  # CPython's OpenSSL binding: copying its HMAC object is ~3x cheaper than hmac.HMAC.copy().
    from _hashlib import hmac_new as _hmac_new  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - non-CPython or OpenSSL-less builds

    def _hmac_new(key: bytes, msg: bytes, digestmod: str):  # type: ignore[misc]
        return hmac.new(key, msg, digestmod)


__all__ = [
    "HASH_RE",
    "InvalidHash",
    "hash_identifier",
    "hash_many",
    "hash_value",
    "hasher",
    "parse_hash",
]

#: A well-formed exact hash; group 1 is the key id, group 2 the 64 lowercase hex digits.
HASH_RE = re.compile(rf"{HASH_ALGORITHM}:({KEY_ID_PATTERN}):([0-9a-f]{{64}})")

KeyLike = ConsortiumKey | ConsortiumKeyring


class InvalidHash(ValueError):
    """A string that is not a well-formed exact hash; ``reason`` says why."""

    def __init__(self, value: object, reason: str) -> None:
        super().__init__(f"invalid hash: {reason}")
        self.value = value
        self.reason = reason


def _key(key: KeyLike) -> ConsortiumKey:
    return key.current if isinstance(key, ConsortiumKeyring) else key


@lru_cache(maxsize=256)
def _prefixed_state(secret: bytes, kind: str):
    # Keyed by the secret itself (not the key object) so equal keys share a state.
    return _hmac_new(secret, kind.encode("ascii") + KIND_SEPARATOR, "sha256")


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise InvalidIdentifier(str(kind), "unknown kind")


def hash_value(key: KeyLike, kind: str, normalised: str) -> str:
    """Hash an already-normalised value.  Use :func:`hash_identifier` for raw input."""
    _check_kind(kind)
    k = _key(key)
    h = _prefixed_state(k.secret, kind).copy()
    h.update(normalised.encode("utf-8"))
    return f"{HASH_ALGORITHM}:{k.key_id}:{h.hexdigest()}"


def hash_identifier(key: KeyLike, kind: str, raw: str, **normalise_kw: str) -> str:
    """Normalise ``raw`` as ``kind`` and hash it (raises :class:`InvalidIdentifier`)."""
    return hash_value(key, kind, normalise(kind, raw, **normalise_kw))


def hasher(key: KeyLike, kind: str, **normalise_kw: str) -> Callable[[str], str]:
    """A ``raw -> hash`` function bound to one key and kind, for bulk hashing.

    Saves the per-call kind check and key lookup; roughly 20% faster than calling
    :func:`hash_identifier` in a loop.
    """
    _check_kind(kind)
    k = _key(key)
    state = _prefixed_state(k.secret, kind)
    prefix = f"{HASH_ALGORITHM}:{k.key_id}:"

    def one(raw: str) -> str:
        h = state.copy()
        h.update(normalise(kind, raw, **normalise_kw).encode("utf-8"))
        return prefix + h.hexdigest()

    return one


def hash_many(key: KeyLike, kind: str, raws: Iterable[str], **normalise_kw: str) -> list[str]:
    """Hash many raw values of one kind (raises on the first invalid one)."""
    one = hasher(key, kind, **normalise_kw)
    return [one(raw) for raw in raws]


def parse_hash(value: str) -> tuple[str, str]:
    """Split an exact hash into ``(key_id, hexdigest)`` or raise :class:`InvalidHash`."""
    if not isinstance(value, str):
        raise InvalidHash(value, "not a string")
    m = HASH_RE.fullmatch(value)
    if m is not None:
        return m.group(1), m.group(2)
    parts = value.split(":")
    if len(parts) != 3:
        reason = "expected hmac-sha256:<key_id>:<64 hex digits>"
    elif parts[0] != HASH_ALGORITHM:
        reason = f"unknown algorithm {parts[0][:32]!r}"
    elif not re.fullmatch(KEY_ID_PATTERN, parts[1]):
        reason = "invalid key id"
    elif len(parts[2]) != 64:
        reason = "digest must be 64 hex digits"
    else:
        reason = "digest must be lowercase hex"
    raise InvalidHash(value, reason)
