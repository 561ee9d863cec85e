"""Indicator matching: "have other members seen this?" answered from the database, per viewer.

Plain Python over SQLAlchemy (no Flask): :mod:`.request` turns a match request body into typed
items (refusing malformed ones by index), :mod:`.service` looks them up by blind index and LSH
band and renders each visible match through :func:`sharing.corroboration.summarise`, and
:mod:`.range` answers the k-anonymity range lookup. Nothing here caches: every answer reads the
committed state of the database, so a new indicator matches as soon as its submission is
acknowledged and a revoked or expired one stops matching at once.
"""

from sharing.matching.range import RANGE_MIN_SUFFIXES, range_lookup
from sharing.matching.request import MatchItem, MatchRequest, parse_match_request
from sharing.matching.service import match

__all__ = [
    "RANGE_MIN_SUFFIXES",
    "MatchItem",
    "MatchRequest",
    "match",
    "parse_match_request",
    "range_lookup",
]
