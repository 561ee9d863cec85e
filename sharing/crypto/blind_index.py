"""Blind index: equality lookups and deduplication over values the database cannot read.

``HMAC-SHA256(K_idx, kind || 0x1f || value)``, truncated to 128 bits: collisions stay out of
reach (birthday bound 2^64) while the unique index stays small enough to be cached at 10
million indicators.

An indicator's blind index is led by the first 20 bits of the member-side hash (the range
API's k-anonymity bucket, ``hash_prefix_bytes``): the one unique index on it then serves
deduplication, match and ``GET /range/<prefix>`` (a key range), where a second index on the
prefix alone cost every new indicator one more random B-tree insert (at 5 million indicators,
thousands of dirtied pages a bundle). Those 20 bits are no secret from the database: the
range API exists to serve them. Reporter pseudonyms (``BlindIndexer.__call__``) have no hash
and no prefix.
"""

from __future__ import annotations

import hmac
from hashlib import sha256

from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.hmac import HMAC

BLIND_INDEX_BYTES = 16
# 5 hex digits = 20 bits, stored as 3 bytes with the low nibble zero.
PREFIX_HEX_DIGITS = 5
PREFIX_BYTES = 3
INDICATOR_BLIND_INDEX_BYTES = PREFIX_BYTES + BLIND_INDEX_BYTES


def blind_index(key: bytes, kind: str, value: str) -> bytes:
    return hmac.new(key, kind.encode() + b"\x1f" + value.encode(), sha256).digest()[
        :BLIND_INDEX_BYTES
    ]


def hash_prefix_bytes(hex_prefix: str) -> bytes:
    """The stored form of a 5-hex-digit hash prefix (the caller has checked it is hex)."""
    return bytes.fromhex(hex_prefix[:PREFIX_HEX_DIGITS] + "0")


def prefix_range(hex_prefix: str) -> tuple[bytes, bytes | None]:
    """``[low, high)`` of the indicator blind indexes under a 5-hex-digit prefix
    (``high`` is None for ``fffff``, the last bucket)."""
    bucket = int(hex_prefix, 16)
    low = hash_prefix_bytes(hex_prefix)
    if bucket == 16**PREFIX_HEX_DIGITS - 1:
        return low, None
    return low, hash_prefix_bytes(f"{bucket + 1:05x}")


class BlindIndexer:
    """Reuses one keyed HMAC state; ``copy()`` skips re-keying on the hot ingest/match path.

    cryptography's HMAC, not the standard library's: the same MAC (:func:`blind_index` is the
    reference, and tests hold the two equal), but copy, update and finalize cost ~0.85 µs
    against ~1.5 µs through ``hmac.HMAC``'s Python wrapper, ~7 ms of a 10,000-indicator
    bundle."""

    def __init__(self, key: bytes) -> None:
        self._base = HMAC(key, SHA256())

    def __call__(self, kind: str, value: str) -> bytes:
        mac = self._base.copy()
        mac.update(kind.encode() + b"\x1f" + value.encode())
        return mac.finalize()[:BLIND_INDEX_BYTES]

    def indicator(self, kind: str, value: str) -> bytes:
        """An indicator's blind index: hash prefix, then the MAC (see the module docstring)."""
        return hash_prefix_bytes(value.rpartition(":")[2]) + self(kind, value)
