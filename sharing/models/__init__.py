"""SQLAlchemy 2.0 models: the storage boundary. Schema changes only through Alembic migrations.

Split by aggregate so no module grows into a catch-all: ``accounts`` (organizations, users, API
keys, sharing groups), ``audit`` (the hash-chained log), ``keyring`` (key metadata; never
secrets). Later issues add their own modules (indicators, reports, change log).
"""

from sharing.models.accounts import ApiKey, Organization, SharingGroup, SharingGroupMember, User
from sharing.models.audit import AuditEntry
from sharing.models.base import Base
from sharing.models.keyring import DataKeyRecord

__all__ = [
    "ApiKey",
    "AuditEntry",
    "Base",
    "DataKeyRecord",
    "Organization",
    "SharingGroup",
    "SharingGroupMember",
    "User",
]
