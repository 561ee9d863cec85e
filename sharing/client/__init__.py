"""The member SDK: hash locally, then submit, match, look up and pull over REST and TAXII.

Everything a member lab runs against Palisade lives here and in ``palisade``'s member
commands (which are thin wrappers over it).  The package imports neither Flask nor
SQLAlchemy, so a lab can install and audit it without the server: the only thing it ever
sends is what :mod:`sharing.identifiers` produced from the raw values with the consortium key.
"""

from .api import MatchResult, PalisadeClient, RangeResult, SubmitResult
from .bundle import BundleBuilder, chunk_objects, iter_bundle_objects, load_bundle
from .errors import (
    ApiError,
    AuthenticationError,
    EndpointNotFound,
    PalisadeClientError,
    PermissionDenied,
    RowRejected,
    ServerUnavailable,
    SubmissionTimeout,
)
from .rows import InputError, RowError, RowHasher, guess_kind, read_rows
from .stix import REPORT_EXTENSION_ID
from .stream import HashJob, HashStats, StrictStop

__all__ = [
    "REPORT_EXTENSION_ID",
    "ApiError",
    "AuthenticationError",
    "BundleBuilder",
    "EndpointNotFound",
    "HashJob",
    "HashStats",
    "InputError",
    "MatchResult",
    "PalisadeClient",
    "PalisadeClientError",
    "PermissionDenied",
    "RangeResult",
    "RowError",
    "RowHasher",
    "RowRejected",
    "ServerUnavailable",
    "StrictStop",
    "SubmissionTimeout",
    "SubmitResult",
    "chunk_objects",
    "guess_kind",
    "iter_bundle_objects",
    "load_bundle",
    "read_rows",
]
