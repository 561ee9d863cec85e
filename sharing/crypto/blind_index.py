"""Blind index: equality lookups and deduplication over values the database cannot read.

``HMAC-SHA256(K_idx, kind || 0x1f || value)``, truncated to 128 bits: collisions stay out of
reach (birthday bound 2^64) while the unique index is half the size of a full digest, which
matters when it must stay in cache at 10 million indicators.
"""

from __future__ import annotations

import hmac
from hashlib import sha256

BLIND_INDEX_BYTES = 16


def blind_index(key: bytes, kind: str, value: str) -> bytes:
    return hmac.new(key, kind.encode() + b"\x1f" + value.encode(), sha256).digest()[
        :BLIND_INDEX_BYTES
    ]


class BlindIndexer:
    """Reuses one keyed HMAC state; ``copy()`` skips re-keying on the hot ingest/match path."""

    def __init__(self, key: bytes) -> None:
        self._base = hmac.new(key, digestmod=sha256)

    def __call__(self, kind: str, value: str) -> bytes:
        mac = self._base.copy()
        mac.update(kind.encode() + b"\x1f" + value.encode())
        return mac.digest()[:BLIND_INDEX_BYTES]
