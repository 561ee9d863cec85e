"""API keys of the user's lab: list with last use, create (shown once), revoke.

Members see the list; creating and revoking needs an org admin, as with the CLI.
"""

from __future__ import annotations

from datetime import timedelta

from flask import flash, render_template
from werkzeug.wrappers import Response

from sharing.accounts import api_keys
from sharing.errors import PalisadeError
from sharing.models.accounts import Organization
from sharing.models.base import utcnow
from sharing.portal import session as ps
from sharing.portal.forms import ApiKeyForm, ConfirmForm
from sharing.portal.web import blueprint
from sharing.web.context import runtime


def _page(form: ApiKeyForm, new_key: str | None = None, status: int = 200) -> tuple[str, int]:
    me = ps.current()
    with runtime().db.transaction() as db:
        keys = api_keys.list_keys(db, me.org_id)
    return render_template(
        "portal/keys.html",
        form=form,
        keys=keys,
        new_key=new_key,
        revoke=ConfirmForm(),
        now=utcnow(),
        can_manage=me.principal.is_org_admin,
    ), status


@blueprint.route("/keys")
@ps.login_required
def keys() -> tuple[str, int]:
    return _page(ApiKeyForm())


@blueprint.route("/keys", methods=["POST"])
@ps.org_admin_required
def create_key() -> tuple[str, int]:
    me = ps.current()
    form = ApiKeyForm()
    if not form.validate_on_submit():
        return _page(form, status=400)
    days = form.expires_in_days.data
    ips = [p for p in (form.allowed_ips.data or "").split(",") if p.strip()] or None
    try:
        with runtime().db.transaction(write=True) as db:
            org = db.get(Organization, me.org_id)
            assert org is not None
            plaintext, _ = api_keys.create_key(
                db,
                org,
                name=form.name.data or "",
                scopes=form.scopes.data or [],
                expires_at=utcnow() + timedelta(days=days) if days else None,
                allowed_ips=ips,
                created_by=me.id,
                actor=me.principal.actor,
            )
    except PalisadeError as exc:
        flash(exc.message, "error")
        return _page(form, status=400)
    return _page(ApiKeyForm(formdata=None), new_key=plaintext)


@blueprint.route("/keys/<prefix>/revoke", methods=["POST"])
@ps.org_admin_required
def revoke_key(prefix: str) -> Response:
    me = ps.current()
    with runtime().db.transaction(write=True) as db:
        api_keys.revoke_key(db, me.org_id, prefix, actor=me.principal.actor)
    flash(f"Key {prefix} is revoked.", "info")
    return ps.redirect_to("portal.keys")
