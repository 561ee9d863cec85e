"""Fuzz targets: each takes raw bytes and asserts one invariant of a parser or normaliser.

Why: the bundle validator, the TAXII query parser, the ``next`` token check and the
identifier normalisers see whatever a client sends. Their contract is that bad input ends in
one of our typed errors (which the adapters map to a precise 4xx), never in any other
exception (a 500); and that a normalised value normalises to itself. Any other exception
escaping a target is a finding: atheris reports it with the input that caused it.

The targets use no atheris API, so hypothesis tests and plain replays of a crash file can call
them too (``python -m tests.fuzz.harness <target> crash-...`` replays one).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import quote

from flask import Flask, request

from sharing.errors import InvalidInput, PayloadTooLarge
from sharing.feeds import tokens
from sharing.identifiers.constants import KINDS
from sharing.identifiers.normalise import InvalidIdentifier, normalise
from sharing.ingest.bundle import parse_bundle
from sharing.ingest.validate import Rejected, check_object
from sharing.taxii.protocol import parse_filters, parse_limit

NOW = datetime(2030, 1, 1, tzinfo=UTC)  # after every seed's timestamps
SECRET = b"fuzz-secret-" * 3
SCOPE = "0123456789abcdef0123456789abcdef"
_BARE = Flask(__name__)


def bundle(data: bytes) -> None:
    """Bundle bytes: only InvalidInput/PayloadTooLarge for the body, Rejected per object."""
    try:
        parsed = parse_bundle(data, max_objects=50)
    except (InvalidInput, PayloadTooLarge):
        return
    for index, obj in enumerate(parsed["objects"]):
        with contextlib.suppress(Rejected):
            check_object(obj, index, now=NOW)


def taxii_query(data: bytes) -> None:
    """A query string as it reaches the app (non-ASCII percent-encoded): parsed or InvalidInput."""
    query = quote(data, safe="&=[],%;+:")
    with _BARE.test_request_context("/", environ_overrides={"QUERY_STRING": query}):
        try:
            filters = parse_filters()
            limit = parse_limit()
        except InvalidInput:
            return
        assert limit is None or limit >= 1, limit
        filters.fingerprint()
        token = request.args.get("next")
    if token is not None:
        _refused(token)


def _refused(token: str, secret: bytes = SECRET) -> None:
    try:
        tokens.verify(secret, token, SCOPE)
    except InvalidInput:
        return
    raise AssertionError(f"a token not signed with this secret was accepted: {token!r}")


def next_token(data: bytes) -> None:
    """Token text not signed with the secret is refused with InvalidInput; so is any *signed*
    payload but ``[version, scope, after]``. (The seeds hold a token signed with SECRET, so
    mutations of it are checked against another secret, which they cannot forge.)"""
    _refused(data.decode("utf-8", "replace"), secret=b"another exchange's secret key....")
    # Correctly signed but arbitrary payloads: what a future or buggy signer might emit.
    tag = hmac.new(tokens._key(SECRET), data, hashlib.sha256).digest()[: tokens._TAG_BYTES]
    token = f"{tokens._b64(data)}.{tokens._b64(tag)}"
    try:
        after = tokens.verify(SECRET, token, SCOPE)
    except InvalidInput:
        return
    assert json.loads(data) == [tokens.TOKEN_VERSION, SCOPE, after], data


def normalisers(data: bytes) -> None:
    """Every kind: InvalidIdentifier or a value that normalises to itself."""
    if not data:
        return
    kinds = sorted(KINDS)
    kind = kinds[data[0] % len(kinds)]
    raw = data[1:].decode("utf-8", "replace")
    try:
        value = normalise(kind, raw)
    except InvalidIdentifier:
        return
    assert isinstance(value, str), value
    again = normalise(kind, value)
    assert again == value, (kind, raw, value, again)


TARGETS: dict[str, Callable[[bytes], None]] = {
    "bundle": bundle,
    "taxii_query": taxii_query,
    "next_token": next_token,
    "normalisers": normalisers,
}
