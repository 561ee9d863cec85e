"""Login (password, then TOTP or forced enrolment), logout, logout everywhere, account page."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from sharing import audit
from sharing.accounts import users
from sharing.errors import InvalidInput, Unauthenticated
from sharing.models.accounts import User
from sharing.portal import mfa
from sharing.portal import session as ps
from sharing.portal.forms import CodeForm, ConfirmForm, LoginForm
from sharing.portal.web import blueprint
from sharing.web.context import runtime

ENROL_SECRET = "enrol_secret"  # noqa: S105  (a session key name, not a secret)


@blueprint.route("/")
def index() -> Response:
    return ps.redirect_to("portal.dashboard" if ps.load() else "portal.login")


@blueprint.route("/login", methods=["GET", "POST"])
def login() -> Response | str | tuple[str, int]:
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    if not form.validate_on_submit():
        return render_template(
            "portal/login.html", form=form
        ), 200 if request.method == "GET" else 400
    rt = runtime()
    failure: Unauthenticated | None = None
    with rt.db.transaction(write=True) as db:
        try:
            user = users.check_password(db, form.username.data or "", form.password.data or "")
        except Unauthenticated as exc:  # commit the failure count, then answer
            failure = exc
        else:
            step = "totp" if mfa.is_enrolled(user) else "enrol" if mfa.must_enrol(user) else None
            if step is None:
                mfa.note_login(db, user)
                audit.record(
                    db,
                    audit.Actor(f"user:{user.username}", user.org_id),
                    "user.login",
                    f"user:{user.username}",
                )
    if failure is not None:
        flash(failure.message, "error")
        return render_template("portal/login.html", form=form), 401
    session["next"] = ps.safe_next(form.next.data)
    if step is None:
        target = session.pop("next")
        ps.start(user, mfa_done=False)
        return redirect(target)
    ps.start_pending(user, step)
    session["next"] = ps.safe_next(form.next.data)
    return ps.redirect_to("portal.login_totp" if step == "totp" else "portal.enrol")


def _pending_user() -> str | None:
    return ps.pending_user_id()


@blueprint.route("/login/code", methods=["GET", "POST"])
def login_totp() -> Response | str | tuple[str, int]:
    uid = _pending_user()
    if uid is None or session.get("pending_step") != "totp":
        flash("Your login has expired; please start again.", "error")
        return ps.redirect_to("portal.login")
    form = CodeForm()
    if not form.validate_on_submit():
        return render_template(
            "portal/totp.html", form=form
        ), 200 if request.method == "GET" else 400
    rt = runtime()
    failure: Unauthenticated | None = None
    with rt.db.transaction(write=True) as db:
        user = db.get(User, uid)
        if user is None or not user.is_active:
            failure = Unauthenticated("unknown user")
        else:
            try:
                mfa.verify(db, rt.cipher, user, form.code.data or "")
                audit.record(
                    db,
                    audit.Actor(f"user:{user.username}", user.org_id),
                    "user.login",
                    f"user:{user.username}",
                    {"mfa": True},
                )
            except Unauthenticated as exc:
                failure = exc
    if failure is not None or user is None:
        flash(failure.message if failure else "login failed", "error")
        return render_template("portal/totp.html", form=form), 401
    target = session.get("next") or url_for("portal.dashboard")
    ps.start(user, mfa_done=True)
    return redirect(ps.safe_next(target))


@blueprint.route("/enrol", methods=["GET", "POST"])
def enrol() -> Response | str | tuple[str, int]:
    """TOTP enrolment: forced after the password for admins, optional for members."""
    me = ps.load()
    uid = me.id if me else (_pending_user() if session.get("pending_step") == "enrol" else None)
    if uid is None:
        return ps.redirect_to("portal.login")
    rt = runtime()
    form = CodeForm()
    secret = session.get(ENROL_SECRET)
    secret = (
        rt.cipher.decrypt_text(bytes.fromhex(secret), f"portal.enrol:{uid}") if secret else None
    )
    if secret is None or request.method == "GET":
        secret = mfa.new_secret()
        session[ENROL_SECRET] = rt.cipher.encrypt_text(secret, f"portal.enrol:{uid}").hex()
    with rt.db.transaction(write=True) as db:
        user = db.get(User, uid)
        assert user is not None
        if mfa.is_enrolled(user) and me is not None:
            flash("A second factor is already enrolled.", "info")
            return ps.redirect_to("portal.account")
        uri = mfa.provisioning_uri(secret, user.username, rt.settings.exchange_name)
        error = None
        if form.validate_on_submit():
            try:
                mfa.enrol(db, rt.cipher, user, secret, form.code.data or "")
            except InvalidInput as exc:
                error = exc.message
            else:
                session.pop(ENROL_SECRET, None)
                target = session.get("next") or url_for("portal.dashboard")
                ps.start(user, mfa_done=True)
                flash("Two-factor authentication is on.", "info")
                return redirect(ps.safe_next(target))
    if error:
        flash(error, "error")
    return render_template("portal/enrol.html", form=form, qr=mfa.qr_svg(uri), secret=secret), (
        400 if error else 200
    )


@blueprint.route("/logout", methods=["POST"])
def logout() -> Response:
    ConfirmForm()  # the token was already checked by the blueprint's CSRF guard
    ps.end()
    flash("You are logged out.", "info")
    return ps.redirect_to("portal.login")


@blueprint.route("/account", methods=["GET"])
@ps.login_required
def account() -> str:
    return render_template("portal/account.html", form=ConfirmForm())


@blueprint.route("/account/logout-everywhere", methods=["POST"])
@ps.login_required
def logout_everywhere() -> Response:
    me = ps.current()
    rt = runtime()
    with rt.db.transaction(write=True) as db:
        user = db.get(User, me.id)
        assert user is not None
        users.logout_everywhere(db, user, actor=me.principal.actor)
    ps.end()
    flash("Every session of yours, this one included, has been ended.", "info")
    return ps.redirect_to("portal.login")
