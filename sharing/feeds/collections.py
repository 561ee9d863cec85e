"""The TAXII collections a member sees: everything visible, one per sharing group, its own.

A collection decides *which* canonical objects it lists (by the feed-log rows in its scope);
the object itself is always everything the reader may see about it (one summary, shared with
match and the portal), so the same indicator never reads differently in two collections.
Ids are UUIDv5 from a fixed namespace and the scope, so they are stable across workers, hosts
and restarts. A collection the caller may not see answers exactly like one that does not exist.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sharing.accounts.principal import Principal
from sharing.errors import NotFound
from sharing.models.accounts import SharingGroup

#: Fixed namespace for collection ids (changing it renames every collection).
COLLECTION_NAMESPACE = uuid.UUID("5b0c3c1e-6a83-4c1f-9d57-2f4f1b7d8a61")
STIX_MEDIA_TYPE = "application/stix+json;version=2.1"

ALL, GROUP, OWN = "all", "group", "own"


@dataclass(frozen=True)
class Collection:
    id: str
    kind: str  # all | group | own
    title: str
    description: str
    can_read: bool
    can_write: bool
    group_id: int | None = None

    def as_taxii(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "can_read": self.can_read,
            "can_write": self.can_write,
            "media_types": [STIX_MEDIA_TYPE],
        }


def collection_id(scope: str) -> str:
    return str(uuid.uuid5(COLLECTION_NAMESPACE, scope))


def collections_for(session: Session, principal: Principal) -> list[Collection]:
    readable = "read" in principal.scopes
    writable = "write" in principal.scopes
    found = [
        Collection(
            collection_id(ALL),
            ALL,
            "Everything visible to you",
            "Every canonical indicator and context object your markings and sharing groups let "
            "you see, with the exchange's identity and extension definitions.",
            readable,
            writable,
        )
    ]
    if principal.group_ids:
        groups = session.execute(
            select(SharingGroup.id, SharingGroup.name)
            .where(SharingGroup.id.in_(sorted(principal.group_ids)))
            .order_by(SharingGroup.name)
        ).all()
        for group_id, name in groups:
            found.append(
                Collection(
                    collection_id(f"group:{group_id}"),
                    GROUP,
                    f"Sharing group {name}",
                    f"Objects shared within the sharing group {name}. To share into it, post to "
                    "another collection with the Palisade report extension naming the group.",
                    readable,
                    False,
                    group_id,
                )
            )
    found.append(
        Collection(
            collection_id(OWN),
            OWN,
            "Your submissions",
            "The canonical indicators and context objects your organization reported.",
            readable,
            writable,
        )
    )
    return found


def get_collection(session: Session, principal: Principal, wanted: str) -> Collection:
    for collection in collections_for(session, principal):
        if collection.id == wanted:
            return collection
    raise NotFound(f"no collection {wanted[:64]!r} in this API root")
