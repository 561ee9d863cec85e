"""API keys: shown once, stored as a hash, looked up by a public prefix.

A key is ``pal_<prefix>_<secret>``. The prefix (not secret) finds the row with one indexed
lookup; the secret is compared by SHA-256 digest in constant time. A slow KDF is not needed:
keys carry 190 bits of randomness, so a fast hash is safe and keeps authentication off the
match API's latency budget.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import secrets
import string
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from sharing import audit
from sharing.accounts.principal import Principal
from sharing.db import core
from sharing.errors import Forbidden, InvalidInput, NotFound, Unauthenticated
from sharing.models.accounts import SCOPES, ApiKey, Organization, SharingGroupMember
from sharing.models.base import utcnow

KEY_PREFIX = "pal_"
_PREFIX_ALPHABET = string.ascii_lowercase + string.digits
PREFIX_LENGTH = 10
SECRET_BYTES = 24
# last_used_at is advisory; writing it on every request would make each match a write.
LAST_USED_GRANULARITY = timedelta(minutes=1)


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def parse_scopes(scopes: str | Iterable[str]) -> frozenset[str]:
    items = scopes.split(",") if isinstance(scopes, str) else list(scopes)
    result = frozenset(s.strip() for s in items if s.strip())
    unknown = result - set(SCOPES)
    if unknown:
        raise InvalidInput(f"unknown scope {sorted(unknown)[0]!r}; scopes are {', '.join(SCOPES)}")
    if not result:
        raise InvalidInput(f"at least one scope is needed ({', '.join(SCOPES)})")
    return result


def parse_allowed_ips(networks: Iterable[str] | None) -> list[str] | None:
    if networks is None:
        return None
    parsed = []
    for text in networks:
        try:
            parsed.append(str(ipaddress.ip_network(text.strip(), strict=False)))
        except ValueError as exc:
            raise InvalidInput(f"allowed IP {text!r} is not an address or CIDR range") from exc
    return parsed or None


def create_key(
    session: Session,
    org: Organization,
    *,
    name: str,
    scopes: str | Iterable[str],
    expires_at: datetime | None = None,
    allowed_ips: Iterable[str] | None = None,
    created_by: str | None = None,
    actor: audit.Actor,
) -> tuple[str, ApiKey]:
    """Create a key; returns the plaintext (show it once, never store it) and the row."""
    scope_set = parse_scopes(scopes)
    networks = parse_allowed_ips(allowed_ips)
    if expires_at is not None and expires_at <= utcnow():
        raise InvalidInput("expiry must be in the future")
    prefix = "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(PREFIX_LENGTH))
    secret = secrets.token_urlsafe(SECRET_BYTES)
    key = ApiKey(
        org_id=org.id,
        created_by=created_by,
        name=name.strip()[:100] or "unnamed",
        prefix=prefix,
        secret_hash=_digest(secret),
        scopes=",".join(s for s in SCOPES if s in scope_set),
        allowed_ips=json.dumps(networks) if networks else None,
        expires_at=expires_at,
    )
    session.add(key)
    session.flush()
    audit.record(
        session,
        actor,
        "apikey.create",
        f"apikey:{prefix}",
        {"org": org.name, "scopes": key.scopes, "expires_at": expires_at},
    )
    return f"{KEY_PREFIX}{prefix}_{secret}", key


def split_key(presented: str) -> tuple[str, str] | None:
    if not presented.startswith(KEY_PREFIX):
        return None
    prefix, sep, secret = presented[len(KEY_PREFIX) :].partition("_")
    if not sep or len(prefix) != PREFIX_LENGTH or not secret or len(secret) > 128:
        return None
    return prefix, secret


def authenticate(
    session: Session | Connection, presented: str, remote_addr: str | None
) -> Principal:
    """Turn a presented key into a Principal, or raise Unauthenticated/Forbidden.

    Wrong, unknown, expired and revoked keys all answer the same 401 message so that a prober
    learns nothing about which prefixes exist.
    """
    invalid = Unauthenticated("invalid, expired or revoked API key")
    parts = split_key(presented.strip())
    if parts is None:
        raise invalid
    prefix, secret = parts
    # One Core query for the key, its organization and its sharing groups (one row per group):
    # authentication runs on every API request, so it is one round trip and stays off the ORM.
    rows = core(session).execute(_KEY_LOOKUP, {"prefix": prefix}).all()
    if not rows:
        raise invalid
    row = rows[0]
    if not hmac.compare_digest(bytes(row.secret_hash), _digest(secret)):
        raise invalid
    now = utcnow()
    if row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now):
        raise invalid
    if not row.is_active:
        raise invalid
    if row.allowed_ips and not _address_allowed(remote_addr, json.loads(row.allowed_ips)):
        raise Forbidden("this API key may not be used from this address")
    return Principal(
        org_id=row.org_id,
        org_name=row.org_name,
        scopes=frozenset(s for s in row.scopes.split(",") if s),
        api_key_prefix=prefix,
        group_ids=frozenset(r.group_id for r in rows if r.group_id is not None),
        api_key_id=row.id if _stale(row.last_used_at, now) else None,
    )


_KEY_LOOKUP = (
    select(
        ApiKey.id,
        ApiKey.secret_hash,
        ApiKey.scopes,
        ApiKey.allowed_ips,
        ApiKey.expires_at,
        ApiKey.revoked_at,
        ApiKey.last_used_at,
        Organization.id.label("org_id"),
        Organization.name.label("org_name"),
        Organization.is_active,
        SharingGroupMember.group_id,
    )
    .join(Organization, Organization.id == ApiKey.org_id)
    .outerjoin(SharingGroupMember, SharingGroupMember.org_id == Organization.id)
    .where(ApiKey.prefix == bindparam("prefix"))
)


def _stale(last_used_at: datetime | None, now: datetime) -> bool:
    return last_used_at is None or now - last_used_at > LAST_USED_GRANULARITY


def touch_last_used(session: Session, key_id: int) -> None:
    """Record use; advisory, so callers run it in its own short write and may drop it."""
    session.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=utcnow()))


def _address_allowed(remote_addr: str | None, networks: list[str]) -> bool:
    if not remote_addr:
        return False
    try:
        address = ipaddress.ip_address(remote_addr)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address in ipaddress.ip_network(n) for n in networks)


def list_keys(session: Session, org_id: int) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).where(ApiKey.org_id == org_id).order_by(ApiKey.id)))


def revoke_key(session: Session, org_id: int | None, prefix: str, *, actor: audit.Actor) -> ApiKey:
    """Revoke a key; ``org_id`` limits it to one org's keys (None: platform admin / CLI)."""
    query = select(ApiKey).where(ApiKey.prefix == prefix)
    if org_id is not None:
        query = query.where(ApiKey.org_id == org_id)
    key = session.scalar(query)
    if key is None:
        raise NotFound(f"no API key with prefix {prefix!r}")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        audit.record(session, actor, "apikey.revoke", f"apikey:{prefix}")
    return key
