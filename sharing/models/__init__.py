"""SQLAlchemy 2.0 models: the storage boundary. Schema changes only through Alembic migrations.

Split by aggregate so no module grows into a catch-all: ``accounts`` (organizations, users, API
keys, sharing groups), ``audit`` (the hash-chained log), ``keyring`` (key metadata; never
secrets). Later issues add their own modules (indicators, reports, change log).
"""

from sharing.models.accounts import ApiKey, Organization, SharingGroup, SharingGroupMember, User
from sharing.models.audit import AuditEntry
from sharing.models.base import Base
from sharing.models.consortium import ConsortiumKeyId
from sharing.models.context import ContextLink, ContextObject
from sharing.models.feed import FeedEntry
from sharing.models.indicators import Indicator, PromptBand, Report, Reporter
from sharing.models.keyring import DataKeyRecord
from sharing.models.portal import PortalUserState  # noqa: F401
from sharing.models.sightings import Sighting
from sharing.models.submissions import Submission

__all__ = [
    "ApiKey",
    "AuditEntry",
    "Base",
    "ConsortiumKeyId",
    "ContextLink",
    "ContextObject",
    "DataKeyRecord",
    "FeedEntry",
    "Indicator",
    "Organization",
    "PromptBand",
    "Report",
    "Reporter",
    "SharingGroup",
    "SharingGroupMember",
    "Sighting",
    "Submission",
    "User",
]
