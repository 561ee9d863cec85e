"""Lab administration (users, roles, groups) and platform administration (labs, sharing
groups, key-rotation state). Every change goes through the accounts services, so it is audited
exactly like the same change made with the CLI."""

from __future__ import annotations

from flask import abort, flash, render_template
from werkzeug.wrappers import Response

from sharing import keystatus
from sharing.accounts import orgs, users
from sharing.errors import PalisadeError
from sharing.models.accounts import Organization
from sharing.models.base import utcnow
from sharing.portal import mfa, queries
from sharing.portal import session as ps
from sharing.portal.forms import (
    ActiveForm,
    ConfirmForm,
    GroupForm,
    GroupMemberForm,
    OrgForm,
    RoleForm,
    UserForm,
)
from sharing.portal.web import blueprint
from sharing.web.context import runtime


def _lab_page(form: UserForm, status: int = 200) -> tuple[str, int]:
    me = ps.current()
    with runtime().db.transaction() as db:
        people = queries.org_users(db, me.org_id)
        logins = mfa.last_logins(db, [u.id for u in people])
        groups = queries.org_groups(db, me.org_id)
    return render_template(
        "portal/lab.html",
        form=form,
        people=people,
        logins=logins,
        groups=groups,
    ), status


@blueprint.route("/lab")
@ps.org_admin_required
def lab() -> tuple[str, int]:
    return _lab_page(UserForm())


@blueprint.route("/lab/users", methods=["POST"])
@ps.org_admin_required
def add_user() -> tuple[str, int] | Response:
    me = ps.current()
    form = UserForm()
    if not form.validate_on_submit():
        return _lab_page(form, 400)
    rt = runtime()
    try:
        with rt.db.transaction(write=True) as db:
            org = db.get(Organization, me.org_id)
            assert org is not None
            users.create_user(
                db,
                rt.cipher,
                org,
                form.username.data or "",
                form.password.data or "",
                role=form.role.data or "member",
                actor=me.principal.actor,
            )
    except PalisadeError as exc:
        flash(exc.message, "error")
        return _lab_page(form, 400)
    flash(f"User {form.username.data} added.", "info")
    return ps.redirect_to("portal.lab")


@blueprint.route("/lab/users/<username>/role", methods=["POST"])
@ps.org_admin_required
def set_role(username: str) -> Response:
    me = ps.current()
    form = RoleForm()
    if not form.validate_on_submit():
        abort(400, description="unknown role")
    with runtime().db.transaction(write=True) as db:
        user = users.get_user(db, username)
        if user.org_id != me.org_id or user.role == "platform-admin":
            abort(404, description="no such user in your lab")
        users.set_role(db, user, form.role.data or "member", actor=me.principal.actor)
    flash(f"{username} is now {form.role.data}.", "info")
    return ps.redirect_to("portal.lab")


@blueprint.route("/lab/users/<username>/active", methods=["POST"])
@ps.org_admin_required
def set_active(username: str) -> Response:
    """Deactivate or reactivate a member of the admin's own lab (never oneself)."""
    me = ps.current()
    form = ActiveForm()
    if not form.validate_on_submit():
        abort(400, description="bad request")
    active = form.active.data == "1"
    with runtime().db.transaction(write=True) as db:
        user = users.get_user(db, username)
        if user.org_id != me.org_id or user.role == "platform-admin" or user.id == me.id:
            abort(404, description="no such user in your lab")
        users.set_active(db, user, active, actor=me.principal.actor)
    flash(f"{username} is now {'active' if active else 'deactivated'}.", "info")
    return ps.redirect_to("portal.lab")


# ---- platform ------------------------------------------------------------------------------


def _platform_page(org_form: OrgForm, group_form: GroupForm, status: int = 200) -> tuple[str, int]:
    with runtime().db.transaction() as db:
        labs = queries.platform_orgs(db, utcnow())
        groups = queries.groups_with_members(db)
    member_form = GroupMemberForm(formdata=None)
    member_form.org.choices = [(o.name, o.name) for o in labs]
    return render_template(
        "portal/platform.html",
        labs=labs,
        groups=groups,
        org_form=org_form,
        group_form=group_form,
        member_form=member_form,
        remove=ConfirmForm(),
    ), status


@blueprint.route("/platform")
@ps.platform_admin_required
def platform() -> tuple[str, int]:
    return _platform_page(
        OrgForm(formdata=None, prefix="org"), GroupForm(formdata=None, prefix="group")
    )


@blueprint.route("/platform/labs", methods=["POST"])
@ps.platform_admin_required
def add_lab() -> tuple[str, int] | Response:
    form = OrgForm(prefix="org")
    if form.validate_on_submit():
        try:
            with runtime().db.transaction(write=True) as db:
                orgs.create_org(
                    db,
                    form.name.data or "",
                    form.display_name.data or None,
                    actor=ps.current().principal.actor,
                )
            return ps.redirect_to("portal.platform")
        except PalisadeError as exc:
            flash(exc.message, "error")
    return _platform_page(form, GroupForm(formdata=None, prefix="group"), 400)


@blueprint.route("/platform/groups", methods=["POST"])
@ps.platform_admin_required
def add_group() -> tuple[str, int] | Response:
    form = GroupForm(prefix="group")
    if form.validate_on_submit():
        try:
            with runtime().db.transaction(write=True) as db:
                orgs.create_group(
                    db,
                    form.name.data or "",
                    form.description.data or "",
                    actor=ps.current().principal.actor,
                )
            return ps.redirect_to("portal.platform")
        except PalisadeError as exc:
            flash(exc.message, "error")
    return _platform_page(OrgForm(formdata=None, prefix="org"), form, 400)


@blueprint.route("/platform/groups/<group>/members", methods=["POST"])
@ps.platform_admin_required
def add_group_member(group: str) -> Response:
    form = GroupMemberForm()
    with runtime().db.transaction(write=True) as db:
        form.org.choices = [(o.name, o.name) for o in orgs.list_orgs(db)]
        if not form.validate_on_submit():
            abort(400, description="unknown lab")
        orgs.add_group_member(
            db,
            orgs.get_group(db, group),
            orgs.get_org(db, form.org.data or ""),
            actor=ps.current().principal.actor,
        )
    return ps.redirect_to("portal.platform")


@blueprint.route("/platform/groups/<group>/members/<org>/remove", methods=["POST"])
@ps.platform_admin_required
def remove_group_member(group: str, org: str) -> Response:
    with runtime().db.transaction(write=True) as db:
        orgs.remove_group_member(
            db, orgs.get_group(db, group), orgs.get_org(db, org), actor=ps.current().principal.actor
        )
    return ps.redirect_to("portal.platform")


@blueprint.route("/platform/keys")
@ps.platform_admin_required
def key_rotation() -> str:
    """Rotation records only: counting values per key reads every ciphertext (CLI's job)."""
    status = keystatus.key_status(runtime(), count_values=False)
    return render_template("portal/keystatus.html", status=status)
