"""Marshmallow schemas for REST responses, shared by views and the OpenAPI document."""

from __future__ import annotations

from marshmallow import Schema, fields


class StatusDetailSchema(Schema):
    id = fields.String(required=True)
    version = fields.String()
    message = fields.String()


class StatusSchema(Schema):
    """TAXII 2.1 status resource shape."""

    id = fields.String(required=True)
    status = fields.String(required=True)
    request_timestamp = fields.String()
    total_count = fields.Integer(required=True)
    success_count = fields.Integer(required=True)
    successes = fields.List(fields.Nested(StatusDetailSchema))
    failure_count = fields.Integer(required=True)
    failures = fields.List(fields.Nested(StatusDetailSchema))
    pending_count = fields.Integer(required=True)
    pendings = fields.List(fields.Nested(StatusDetailSchema))
