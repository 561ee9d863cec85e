"""Portal users: creation, roles and password checks with lockout."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from sharing import audit
from sharing.crypto.cipher import FieldCipher
from sharing.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from sharing.models.accounts import ROLES, Organization, User
from sharing.models.base import new_uuid, utcnow
from sharing.passwords import (
    DUMMY_HASH,
    MIN_PASSWORD_LENGTH,
    hash_password,
    needs_rehash,
    verify_password,
)

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,63}$")
LOCKOUT_THRESHOLD = 5
LOCKOUT_BASE = timedelta(seconds=30)
LOCKOUT_MAX = timedelta(minutes=15)


def create_user(
    session: Session,
    cipher: FieldCipher,
    org: Organization,
    username: str,
    password: str,
    *,
    role: str = "member",
    email: str | None = None,
    actor: audit.Actor,
) -> User:
    username = username.strip().lower()
    if not USERNAME_RE.match(username):
        raise InvalidInput(
            f"username {username!r} must be 2-64 characters of a-z, 0-9, '.', '_', '@' or '-'"
        )
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"user {username!r} already exists")
    user = User(id=new_uuid(), org_id=org.id, username=username, role=role)
    user.password_hash = hash_password(password)
    if email:
        user.email_ct = cipher.encrypt_text(email, f"users.email:{user.id}")
    session.add(user)
    session.flush()
    audit.record(session, actor, "user.create", f"user:{username}", {"org": org.name, "role": role})
    return user


def get_user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None:
        raise NotFound(f"no user named {username!r}")
    return user


def user_email(cipher: FieldCipher, user: User) -> str | None:
    if user.email_ct is None:
        return None
    return cipher.decrypt_text(user.email_ct, f"users.email:{user.id}")


def set_role(session: Session, user: User, role: str, *, actor: audit.Actor) -> None:
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    old, user.role = user.role, role
    audit.record(
        session, actor, "user.set_role", f"user:{user.username}", {"from": old, "to": role}
    )


def check_password(session: Session, username: str, password: str) -> User:
    """Verify a login; back off exponentially after repeated failures. Same error either way."""
    now = utcnow()
    user = session.scalar(select(User).where(User.username == username.strip().lower()))
    failure = Unauthenticated("unknown username or wrong password")
    if user is None or not user.is_active:
        verify_password(DUMMY_HASH, password)  # same cost as a real check
        raise failure
    if user.locked_until is not None and user.locked_until > now:
        raise Unauthenticated(
            "too many failed attempts; try again after "
            f"{user.locked_until.isoformat(timespec='seconds')}"
        )
    if not verify_password(user.password_hash, password):
        user.failed_logins += 1
        if user.failed_logins >= LOCKOUT_THRESHOLD:
            backoff = LOCKOUT_BASE * 2 ** (user.failed_logins - LOCKOUT_THRESHOLD)
            user.locked_until = now + min(backoff, LOCKOUT_MAX)
        audit.record(
            session,
            audit.Actor(f"user:{user.username}", user.org_id),
            "user.login_failed",
            f"user:{user.username}",
            {"failed_logins": user.failed_logins},
        )
        raise failure
    user.failed_logins = 0
    user.locked_until = None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def set_active(session: Session, user: User, active: bool, *, actor: audit.Actor) -> None:
    """Deactivate (or reactivate) a user; deactivation also ends every session they hold."""
    if user.is_active == active:
        return
    user.is_active = active
    if not active:
        user.session_version += 1
    action = "user.reactivate" if active else "user.deactivate"
    audit.record(session, actor, action, f"user:{user.username}")


def logout_everywhere(session: Session, user: User, *, actor: audit.Actor) -> None:
    user.session_version += 1
    audit.record(session, actor, "user.logout_everywhere", f"user:{user.username}")
