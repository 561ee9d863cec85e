"""Dashboard, feeds and audit log: read-only pages over queries and the feeds service."""

from __future__ import annotations

import json

from flask import render_template, request, url_for

from sharing.feeds.collections import collections_for
from sharing.models.base import utcnow
from sharing.portal import queries, rollup
from sharing.portal import session as ps
from sharing.portal.forms import AuditFilterForm
from sharing.portal.web import blueprint
from sharing.visibility import Viewer
from sharing.web.context import runtime


def cursor_arg(name: str = "before") -> int | None:
    value = request.args.get(name, "")
    return int(value) if value.isdigit() else None


@blueprint.route("/dashboard")
@ps.login_required
def dashboard() -> str:
    me = ps.current()
    rt = runtime()
    viewer = Viewer.of(me.principal, rt.cipher)
    now = utcnow()
    rollup.refresh(rt.db, now)
    with rt.db.transaction() as db:
        board = queries.dashboard(db, rt.cipher, viewer, me.org_id, now)
    return render_template(
        "portal/dashboard.html", board=board, chart_json=json.dumps(board.chart_data())
    )


@blueprint.route("/feeds")
@ps.login_required
def feeds() -> str:
    me = ps.current()
    rt = runtime()
    with rt.db.transaction() as db:
        found = collections_for(db, me.principal)
    root = url_for("taxii.api_root", _external=True)
    base = url_for("portal.index", _external=True).removesuffix("/portal/")
    return render_template("portal/feeds.html", collections=found, api_root=root, base=base)


@blueprint.route("/audit")
@ps.login_required
def audit_log() -> str:
    me = ps.current()
    form = AuditFilterForm(request.args)
    form.validate()
    filters = queries.AuditFilter(
        action=form.action.data or None,
        actor=form.actor.data or None,
        since=form.since.data if not form.since.errors else None,
        until=form.until.data if not form.until.errors else None,
    )
    rt = runtime()
    with rt.db.transaction() as db:
        rows, next_cursor = queries.audit_events(db, me.org_id, filters, before=cursor_arg())
    args = {k: v for k, v in request.args.items() if k != "before" and v}
    return render_template(
        "portal/audit.html", form=form, rows=rows, next_cursor=next_cursor, args=args
    )
