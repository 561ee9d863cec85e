"""Marshmallow schemas of the match, range and sightings resources (OpenAPI and sightings input).

The match request is checked by hand in :mod:`sharing.matching.request` (it runs per item on
batches of 10,000) and its answer is rendered straight to JSON; these schemas are the documented
contract of both, kept beside each other so they cannot drift unnoticed
(``tests/matching/test_openapi.py`` checks the document).
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from sharing.corroboration import TLP_ORDER
from sharing.identifiers import KINDS, MINHASH_THRESHOLD
from sharing.models.sightings import SIGHTING_KINDS

HASH_DOC = "Member-side hash: hmac-sha256:<key_id>:<64 lowercase hex>"


class MatchItemSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    value = fields.String(metadata={"description": HASH_DOC + " (any kind but ip-with-prefixes)"})
    prefixes = fields.List(
        fields.String(),
        validate=validate.Length(1, 29),
        metadata={
            "description": "ip only: hashes of every covering prefix of the address, most "
            "specific first (sharing.identifiers.hash_prefixes)"
        },
    )
    minhash = fields.String(
        metadata={"description": "prompt only: base64 MinHash signature (palisade-minhash-v1)"}
    )
    key_id = fields.String(
        metadata={"description": "prompt only: consortium key of a minhash sent without value"}
    )


class MatchRequestSchema(Schema):
    items = fields.List(
        fields.Nested(MatchItemSchema),
        required=True,
        metadata={"description": "Up to max_match_items (default 10,000) items; more is a 413"},
    )
    min_similarity = fields.Float(
        load_default=MINHASH_THRESHOLD,
        validate=validate.Range(0, 1, min_inclusive=False),
        metadata={"description": "Prompt similarity threshold (estimated Jaccard)"},
    )


class MatchSchema(Schema):
    indicator_id = fields.String(required=True, metadata={"description": "Canonical STIX id"})
    kind = fields.String(required=True)
    similarity = fields.Float(required=True, metadata={"description": "1.0 for exact matches"})
    reporter_count = fields.Integer(required=True)
    reporters = fields.List(
        fields.String(), metadata={"description": 'Organization names, or "a member"'}
    )
    first_seen = fields.String(required=True)
    last_seen = fields.String(required=True)
    confidence = fields.Integer(required=True)
    score = fields.Integer(required=True, metadata={"description": "0-100, decayed"})
    tlp = fields.String(required=True)
    campaigns = fields.List(fields.String(), required=True)
    disputed = fields.Boolean(required=True)
    sighting_count = fields.Integer()
    valid_until = fields.String(allow_none=True)
    prefix_index = fields.Integer(
        metadata={"description": "ip only: position of the matching prefix (0 = most specific)"}
    )


class MatchResultSchema(Schema):
    index = fields.Integer(required=True)
    kind = fields.String(required=True)
    matched = fields.Boolean(required=True)
    matches = fields.List(fields.Nested(MatchSchema), required=True)


class MatchResponseSchema(Schema):
    results = fields.List(fields.Nested(MatchResultSchema), required=True)
    matched_count = fields.Integer(required=True)
    checked_at = fields.String(required=True)


class RangeKeySchema(Schema):
    key_id = fields.String(required=True)
    suffixes = fields.List(
        fields.String(), required=True, metadata={"description": "59 hex digits each, sorted"}
    )


class RangeSchema(Schema):
    prefix = fields.String(required=True)
    min_suffixes = fields.Integer(required=True)
    keys = fields.List(fields.Nested(RangeKeySchema), required=True)


class SightingRequestSchema(Schema):
    type = fields.String(required=True, validate=validate.OneOf(SIGHTING_KINDS))
    indicator_id = fields.String(metadata={"description": "Canonical indicator id from a match"})
    kind = fields.String(
        validate=validate.OneOf(KINDS), metadata={"description": "With value, instead of id"}
    )
    value = fields.String(metadata={"description": HASH_DOC})
    count = fields.Integer(load_default=1, validate=validate.Range(1, 999_999_999))
    anonymous = fields.Boolean(load_default=False)
    tlp = fields.String(validate=validate.OneOf(TLP_ORDER))


class SightingResponseSchema(Schema):
    id = fields.String(required=True, metadata={"description": "STIX sighting/opinion id"})
    type = fields.String(required=True)
    indicator_id = fields.String(required=True)
    reporter_count = fields.Integer(required=True)
    sighting_count = fields.Integer(required=True)
    disputed = fields.Boolean(required=True)
    score = fields.Integer(required=True)
    last_seen = fields.String(required=True)
