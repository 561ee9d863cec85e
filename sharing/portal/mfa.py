"""TOTP second factor for portal users (RFC 6238 via pyotp), with enrolment by QR code.

Plain Python over a SQLAlchemy session, no Flask. Why each rule:

* the secret is stored encrypted in ``users.totp_secret_ct`` (context
  ``users.totp_secret:<user id>``), so a database dump does not hand out second factors;
* a code is accepted at most once (``portal_user_state.totp_last_step``): a code read over a
  shoulder or from a proxy log cannot be replayed inside its window;
* wrong codes count towards the same lockout as wrong passwords (``users.check_password``'s
  back-off), so the six-digit space cannot be walked;
* org and platform administrators must enrol before they can use the portal.
"""

from __future__ import annotations

import io
from datetime import datetime

import pyotp
import qrcode
import qrcode.image.svg
from sqlalchemy.orm import Session

from sharing import audit
from sharing.accounts import users
from sharing.crypto.cipher import FieldCipher
from sharing.errors import InvalidInput, Unauthenticated
from sharing.models.accounts import User
from sharing.models.base import utcnow
from sharing.models.portal import PortalUserState

ISSUER = "Palisade"
#: Accept the previous and next 30-second step too (clock drift on phones).
VALID_WINDOW = 1
MFA_REQUIRED_ROLES = frozenset({"org-admin", "platform-admin"})


def context(user_id: str) -> str:
    return f"users.totp_secret:{user_id}"


def is_enrolled(user: User) -> bool:
    return user.totp_secret_ct is not None


def must_enrol(user: User) -> bool:
    return user.role in MFA_REQUIRED_ROLES and not is_enrolled(user)


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, username: str, issuer: str = ISSUER) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=issuer)


def qr_svg(uri: str) -> str:
    """The enrolment QR code as an SVG document (rendered server-side, no script needed)."""
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    out = io.BytesIO()
    image.save(out)
    text = out.getvalue().decode("utf-8")
    return text[text.index("<svg") :] if "<svg" in text else text


def _state(session: Session, user: User) -> PortalUserState:
    state = session.get(PortalUserState, user.id)
    if state is None:
        state = PortalUserState(user_id=user.id)
        session.add(state)
    return state


def _matching_step(secret: str, code: str, now: datetime) -> int | None:
    code = code.strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    step = totp.timecode(now)
    for offset in range(-VALID_WINDOW, VALID_WINDOW + 1):
        if pyotp.utils.strings_equal(totp.generate_otp(step + offset), code):
            return step + offset
    return None


def _fail(session: Session, user: User, now: datetime) -> Unauthenticated:
    user.failed_logins += 1
    if user.failed_logins >= users.LOCKOUT_THRESHOLD:
        backoff = users.LOCKOUT_BASE * 2 ** (user.failed_logins - users.LOCKOUT_THRESHOLD)
        user.locked_until = now + min(backoff, users.LOCKOUT_MAX)
    audit.record(
        session,
        audit.Actor(f"user:{user.username}", user.org_id),
        "user.totp_failed",
        f"user:{user.username}",
        {"failed_logins": user.failed_logins},
    )
    return Unauthenticated("wrong or already used code")


def verify(session: Session, cipher: FieldCipher, user: User, code: str) -> None:
    """Check a login code; raises Unauthenticated (after recording the failure) if wrong.

    The caller must commit even when this raises, so the failure count sticks.
    """
    now = utcnow()
    if user.locked_until is not None and user.locked_until > now:
        raise Unauthenticated(
            "too many failed attempts; try again after "
            f"{user.locked_until.isoformat(timespec='seconds')}"
        )
    if user.totp_secret_ct is None:
        raise Unauthenticated("no second factor is enrolled")
    secret = cipher.decrypt_text(user.totp_secret_ct, context(user.id))
    state = _state(session, user)
    step = _matching_step(secret, code, now)
    if step is None or (state.totp_last_step is not None and step <= state.totp_last_step):
        raise _fail(session, user, now)
    state.totp_last_step = step
    state.last_login_at = now
    user.failed_logins = 0
    user.locked_until = None


def enrol(session: Session, cipher: FieldCipher, user: User, secret: str, code: str) -> None:
    """Confirm enrolment: the code must match the new secret; then store it encrypted."""
    now = utcnow()
    step = _matching_step(secret, code, now)
    if step is None:
        raise InvalidInput("that code does not match; check the phone's clock and try again")
    user.totp_secret_ct = cipher.encrypt_text(secret, context(user.id))
    state = _state(session, user)
    state.totp_enrolled_at = now
    state.totp_last_step = step
    state.last_login_at = now
    audit.record(
        session,
        audit.Actor(f"user:{user.username}", user.org_id),
        "user.totp_enrol",
        f"user:{user.username}",
    )


def note_login(session: Session, user: User) -> None:
    _state(session, user).last_login_at = utcnow()


def last_logins(session: Session, user_ids: list[str]) -> dict[str, datetime | None]:
    from sqlalchemy import select

    rows = session.execute(
        select(PortalUserState.user_id, PortalUserState.last_login_at).where(
            PortalUserState.user_id.in_(user_ids)
        )
    )
    return {user_id: when for user_id, when in rows}
