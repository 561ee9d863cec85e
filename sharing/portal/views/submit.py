"""Submit (STIX upload, or a bundle built in the browser from hashed CSV rows) and match.

The raw values and the consortium key stay in the browser (static/js/hashing.js): these views
only ever receive hashes, through the same ``submit_bundle`` and ``matching.match`` services
the REST API calls, so the portal answers exactly what the API would.
"""

from __future__ import annotations

import json

from flask import Response, flash, render_template, request

from sharing import matching
from sharing.errors import PalisadeError
from sharing.ingest.service import submit_bundle
from sharing.portal import queries
from sharing.portal import session as ps
from sharing.portal.forms import TLPS, BundleUploadForm
from sharing.portal.web import blueprint
from sharing.web.after_response import freed_after_response
from sharing.web.context import runtime


def _json(payload: object, status: int = 200) -> Response:
    return Response(
        json.dumps(payload, separators=(",", ":"), default=str),
        status=status,
        mimetype="application/json",
    )


def _groups() -> list[str]:
    me = ps.current()
    with runtime().db.transaction() as db:
        return [g.name for g in queries.org_groups(db, me.org_id)]


@blueprint.route("/submit", methods=["GET", "POST"])
@ps.login_required
def submit() -> str | tuple[str, int]:
    form = BundleUploadForm()
    result = None
    if form.validate_on_submit():
        body = form.bundle.data.read()
        try:
            result = submit_bundle(runtime(), ps.current().principal, body).as_taxii()
        except PalisadeError as exc:
            flash(f"The bundle was refused: {exc.message}", "error")
    status = 400 if request.method == "POST" and result is None else 200
    return render_template(
        "portal/submit.html", form=form, result=result, groups=_groups(), tlps=TLPS
    ), status


@blueprint.route("/submit/hashed", methods=["POST"])
@ps.login_required
def submit_hashed() -> Response:
    """A bundle the page built from hashed rows (JSON body, CSRF token in a header)."""
    with freed_after_response() as after:
        report = submit_bundle(
            runtime(), ps.current().principal, request.get_data(), keep=after.keep
        )
        after.keep.append(report)
        return after.attach(_json(report.as_taxii()))


@blueprint.route("/match")
@ps.login_required
def match() -> str:
    return render_template("portal/match.html")


@blueprint.route("/match/query", methods=["POST"])
@ps.login_required
def match_query() -> Response:
    return _json(matching.match(runtime(), ps.current().principal, request.get_data()))
