"""Who is logged in to the portal, and for how long: the Flask side of portal sessions.

Flask's signed cookie carries only ids and times (never a secret). Each request re-reads the
user so that "log out everywhere" (``users.session_version``), deactivation and role changes
take effect at once. Sessions expire after ``IDLE_TIMEOUT`` without a request and
``ABSOLUTE_TIMEOUT`` after login, whatever the activity.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar

from flask import g, redirect, request, session, url_for
from werkzeug.wrappers import Response

from sharing.accounts.orgs import group_ids_of
from sharing.accounts.principal import Principal
from sharing.errors import Forbidden
from sharing.models.accounts import SCOPES, User
from sharing.portal import mfa
from sharing.web.context import runtime

F = TypeVar("F", bound=Callable[..., Any])

IDLE_TIMEOUT = 30 * 60
ABSOLUTE_TIMEOUT = 12 * 3600
#: Refresh the idle clock at most this often, so most requests do not rewrite the cookie.
TOUCH_EVERY = 60
#: A half-finished login (password accepted, code pending) lasts this long.
PENDING_TIMEOUT = 5 * 60


@dataclass(frozen=True)
class PortalUser:
    id: str
    username: str
    role: str
    org_id: int
    org_name: str
    mfa: bool
    principal: Principal


def start(user: User, *, mfa_done: bool) -> None:
    """A fresh session for ``user`` (the old one is dropped: no session fixation)."""
    session.clear()
    now = int(time.time())
    session["uid"] = user.id
    session["sv"] = user.session_version
    session["iat"] = now
    session["seen"] = now
    session["mfa"] = mfa_done


def start_pending(user: User, step: str) -> None:
    """Password accepted; the second factor (``step`` = totp | enrol) is still to come."""
    session.clear()
    session["pending"] = {"uid": user.id, "sv": user.session_version, "at": int(time.time())}
    session["pending_step"] = step


def pending_user_id() -> str | None:
    pending = session.get("pending")
    if not pending or time.time() - pending.get("at", 0) > PENDING_TIMEOUT:
        return None
    return str(pending["uid"])


def end() -> None:
    session.clear()


def load() -> PortalUser | None:
    """The logged-in user for this request, or None (expired, revoked or never logged in)."""
    if "portal_user" in g:
        return g.portal_user  # type: ignore[no-any-return]
    g.portal_user = None
    uid = session.get("uid")
    if uid is None:
        return None
    now = int(time.time())
    if (
        now - session.get("iat", 0) > ABSOLUTE_TIMEOUT
        or now - session.get("seen", 0) > IDLE_TIMEOUT
    ):
        session.clear()
        return None
    rt = runtime()
    with rt.db.transaction() as db:
        user = db.get(User, uid)
        if user is None or not user.is_active or user.session_version != session.get("sv"):
            session.clear()
            return None
        groups = group_ids_of(db, user.org_id)
        org_name = user.org.name
        org_active = user.org.is_active
    if (
        not org_active
        or (mfa.must_enrol(user))
        or (mfa.is_enrolled(user) and not session.get("mfa"))
    ):
        session.clear()
        return None
    if now - session.get("seen", 0) > TOUCH_EVERY:
        session["seen"] = now
    principal = Principal(
        org_id=user.org_id,
        org_name=org_name,
        scopes=frozenset(SCOPES),
        role=user.role,
        user_id=user.id,
        username=user.username,
        group_ids=groups,
    )
    g.portal_user = PortalUser(
        user.id,
        user.username,
        user.role,
        user.org_id,
        org_name,
        bool(session.get("mfa")),
        principal,
    )
    return g.portal_user  # type: ignore[no-any-return]


def current() -> PortalUser:
    user = load()
    if user is None:  # login_required runs first; this is a programming error
        raise Forbidden("not logged in")
    return user


def login_required(view: F) -> F:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if load() is None:
            return redirect(url_for("portal.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def role_required(check: Callable[[Principal], None]) -> Callable[[F], F]:
    def decorator(view: F) -> F:
        @wraps(view)
        @login_required
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            check(current().principal)
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator


org_admin_required = role_required(Principal.require_org_admin)
platform_admin_required = role_required(Principal.require_platform_admin)


def safe_next(target: str | None) -> str:
    """Only local portal paths: never an open redirect."""
    if target and target.startswith("/portal/") and not target.startswith("//"):
        return target
    return url_for("portal.dashboard")


def redirect_to(endpoint: str, **values: Any) -> Response:
    return redirect(url_for(endpoint, **values))
