"""Liveness and readiness probes for load balancers and orchestrators (no auth, no data)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from sharing import migrate
from sharing.web.context import runtime

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
def healthz() -> Response:
    """The process is up and answering."""
    return jsonify(status="ok")


@blueprint.get("/readyz")
def readyz() -> tuple[Response, int]:
    """The database answers and its schema is at the head migration."""
    db = runtime().db
    try:
        with db.transaction() as session:
            session.execute(text("SELECT 1"))
        at_head = migrate.is_at_head(db.engine)
    except SQLAlchemyError:
        return jsonify(status="unavailable", database="unreachable"), 503
    if not at_head:
        return jsonify(status="unavailable", database="schema not at head"), 503
    return jsonify(status="ready", database=db.dialect), 200
