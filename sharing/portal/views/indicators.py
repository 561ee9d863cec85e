"""Indicator search (keyset paging) and detail: what the viewer may see, via ``summarise``."""

from __future__ import annotations

from flask import abort, render_template, request

from sharing.models.base import utcnow
from sharing.portal import queries
from sharing.portal import session as ps
from sharing.portal.forms import IndicatorFilterForm
from sharing.portal.views.pages import cursor_arg
from sharing.portal.web import blueprint
from sharing.visibility import Viewer
from sharing.web.context import runtime


@blueprint.route("/indicators")
@ps.login_required
def indicators() -> str:
    me = ps.current()
    rt = runtime()
    viewer = Viewer.of(me.principal, rt.cipher)
    form = IndicatorFilterForm(request.args)
    with rt.db.transaction() as db:
        campaigns = queries.visible_campaigns(db, rt.cipher, viewer)
        form.campaign.choices = [("", "any"), *campaigns]
        form.validate()
        filters = queries.IndicatorFilter(
            kind=form.kind.data or None,
            tlp=form.tlp.data or None,
            campaign=form.campaign.data or None,
            since=form.since.data if not form.since.errors else None,
            until=form.until.data if not form.until.errors else None,
            mine=bool(form.mine.data),
        )
        ids, next_cursor = queries.search_indicators(db, viewer, filters, before=cursor_arg())
        rows = queries.page_summaries(db, rt.cipher, viewer, ids, utcnow())
    args = {k: v for k, v in request.args.items() if k != "before" and v}
    return render_template(
        "portal/indicators.html", form=form, rows=rows, next_cursor=next_cursor, args=args
    )


@blueprint.route("/indicators/<stix_id>")
@ps.login_required
def indicator(stix_id: str) -> str:
    me = ps.current()
    rt = runtime()
    viewer = Viewer.of(me.principal, rt.cipher)
    with rt.db.transaction() as db:
        indicator_id = queries.indicator_id_of(db, stix_id)
        summaries = queries.page_summaries(
            db, rt.cipher, viewer, [indicator_id] if indicator_id else [], utcnow()
        )
        if not summaries:  # invisible answers exactly like absent
            abort(404, description="no such indicator")
        summary = summaries[0]
        sightings = queries.sightings_of(db, viewer, summary.indicator_id)
        groups = queries.group_names(db, {r.group_id for r in summary.reports if r.group_id})
    timeline = sorted(summary.reports, key=lambda r: r.created_at)
    return render_template(
        "portal/indicator.html", s=summary, timeline=timeline, sightings=sightings, groups=groups
    )
