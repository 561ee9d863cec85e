"""Seeding and form helpers shared by the portal's HTTP and browser tests."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pyotp
from sqlalchemy.orm import Session

from sharing.crypto.cipher import FieldCipher
from sharing.identifiers import ConsortiumKeyring
from sharing.models.accounts import User
from sharing.portal import mfa
from tests.factories import PASSWORD, make_user
from tests.stix_factories import TEST_CONSORTIUM_KEY

TOKEN_RE = re.compile(
    r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf-token" content="([^"]+)"'
)


def csrf_from(html: str) -> str:
    match = TOKEN_RE.search(html)
    assert match, "no CSRF token in page"
    return match.group(1) or match.group(2)


def enrolled_user(
    session: Session, cipher: FieldCipher, org: Any, username: str, role: str
) -> tuple[User, str]:
    """A user whose TOTP is enrolled; returns the user and the base32 secret."""
    user = make_user(session, cipher, org, username=username, role=role)
    secret = pyotp.random_base32()
    user.totp_secret_ct = cipher.encrypt_text(secret, mfa.context(user.id))
    session.flush()
    return user, secret


def write_consortium_key(path: Path) -> Path:
    ring = ConsortiumKeyring([TEST_CONSORTIUM_KEY], TEST_CONSORTIUM_KEY.key_id)
    path.write_text(json.dumps(ring.to_json()))
    return path


__all__ = ["PASSWORD", "csrf_from", "enrolled_user", "write_consortium_key"]
