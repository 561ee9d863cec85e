"""TAXII DELETE: a member withdraws its own reports of an object, never anyone else's.

Deleting from a shared exchange cannot erase what others reported, so DELETE on a canonical
indicator marks the caller's own reports of it revoked (as submitting it with ``revoked: true``
would) and appends the feed-log changes, under the ingest lock, so every reader who could see
those reports gets a new version. On a context object the caller submitted, it revokes the
object (a new ``modified``). Anything else is refused: 403 if the caller can see the object but
holds no report of it, 404 if the caller cannot see it at all.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select, update

from sharing import audit, ledger
from sharing.accounts.principal import Principal
from sharing.errors import Forbidden
from sharing.feeds.service import require_object
from sharing.ingest.outcomes import stix_timestamp
from sharing.models.base import utcnow
from sharing.models.context import ContextObject
from sharing.models.indicators import Indicator, Report
from sharing.runtime import Runtime
from sharing.visibility import reporter_index


def withdraw(rt: Runtime, principal: Principal, collection_id: str, object_id: str) -> int:
    """Revoke the caller's reports of ``object_id``; returns how many were withdrawn now."""
    principal.require_scope("write")
    require_object(rt, principal, collection_id, object_id)
    reporter_bi = reporter_index(rt.cipher, principal.org_id)
    with rt.db.transaction(write=True) as session:
        ledger.acquire(session)
        now = utcnow()
        changes: dict[int | None, ledger.Change] = {}
        if object_id.startswith("indicator--"):
            indicator_id = session.scalar(
                select(Indicator.id).where(Indicator.stix_id == object_id)
            )
            own = session.execute(
                select(Report.id, Report.group_id, Report.revoked).where(
                    Report.indicator_id == indicator_id, Report.reporter_bi == reporter_bi
                )
            ).all()
            if not own:
                raise Forbidden("you may delete only your own reports, and hold none of this one")
            active = [r for r in own if not r.revoked]
            if active:
                session.execute(
                    update(Report)
                    .where(Report.id.in_([r.id for r in active]))
                    .values(revoked=True, updated_at=now)
                )
            for r in active:
                changes[r.group_id] = ledger.Change(
                    "revoke", r.group_id is None, r.group_id, reporter_bi, indicator_id=indicator_id
                )
            count = len(active)
        else:
            row = session.scalar(select(ContextObject).where(ContextObject.stix_id == object_id))
            if row is None or bytes(row.reporter_bi) != reporter_bi:
                raise Forbidden("you may delete only objects your organization submitted")
            count = 0
            if not row.revoked:
                _revoke_context(rt, row, now)
                changes[row.group_id] = ledger.Change(
                    "revoke", row.group_id is None, row.group_id, reporter_bi, context_id=row.id
                )
                count = 1
        ledger.append(session, list(changes.values()))
        audit.record(
            session, principal.actor, "taxii.delete", f"object:{object_id}", {"withdrawn": count}
        )
    return count


def _revoke_context(rt: Runtime, row: ContextObject, now: Any) -> None:
    context = f"context.body:{row.stix_id}"
    body = json.loads(rt.cipher.decrypt(row.body_ct, context))
    body["revoked"] = True
    body["modified"] = stix_timestamp(now)
    row.body_ct = rt.cipher.encrypt(json.dumps(body, separators=(",", ":")).encode(), context)
    row.revoked = True
    row.modified = now
