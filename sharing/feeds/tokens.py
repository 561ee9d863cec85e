"""Signed, self-contained paging tokens: the whole keyset position travels with the client.

A ``next`` token names the request it continues (collection, endpoint, filters, reader) and the
last feed-log position served. It is HMAC-signed with the runtime secret key, so any worker on
any host holding the same instance secret honours it and no server keeps paging state (the
failure medallion has behind a load balancer). A token that was altered, signed by another
exchange, or presented with different filters or by another member is refused with a 400.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass

from sharing.errors import InvalidInput

TOKEN_VERSION = 1
_LABEL = b"palisade/taxii-next/v1"
_TAG_BYTES = 16


@dataclass(frozen=True)
class Position:
    """Where a page set stands: the last ``seq`` served, for one request shape and reader."""

    scope: str  # fingerprint of collection + endpoint + filters + reader
    after: int


def _key(secret: bytes) -> bytes:
    return hmac.new(secret, _LABEL, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(secret: bytes, position: Position) -> str:
    payload = json.dumps(
        [TOKEN_VERSION, position.scope, position.after], separators=(",", ":")
    ).encode()
    tag = hmac.new(_key(secret), payload, hashlib.sha256).digest()[:_TAG_BYTES]
    return f"{_b64(payload)}.{_b64(tag)}"


def verify(secret: bytes, token: str, scope: str) -> int:
    """The ``after`` position of a token issued for ``scope``; 400 for anything else."""
    refused = InvalidInput(
        "the 'next' token is invalid: it was altered, expired with a key change, or belongs to "
        "another collection, filter set or member; start again without 'next'"
    )
    if not isinstance(token, str) or len(token) > 512 or token.count(".") != 1:
        raise refused
    body, _, tag_text = token.partition(".")
    try:
        payload, tag = _unb64(body), _unb64(tag_text)
    except (binascii.Error, ValueError):
        raise refused from None
    expected = hmac.new(_key(secret), payload, hashlib.sha256).digest()[:_TAG_BYTES]
    if not hmac.compare_digest(tag, expected):
        raise refused
    try:
        version, token_scope, after = json.loads(payload)
    except (ValueError, TypeError):
        raise refused from None
    if version != TOKEN_VERSION or token_scope != scope or type(after) is not int:
        raise refused
    return after
