"""Sightings and false positives: members telling each other what their matches turned out to be.

``seen`` raises an indicator's corroboration (one more member has seen it: +5 to the score's
base per distinct sighting member) and refreshes its score (``last_seen`` moves to now);
``false_positive`` marks it disputed for everyone who can see it, which halves the score. Each is
kept once per (indicator, member, kind) in ``sightings`` (repeats bump a count) and carried into
the TAXII feed as a STIX ``sighting`` or ``opinion`` object stored as a context object, under the
member's anonymity choice: anonymous ones carry no ``created_by_ref``.

Audience: a sighting is readable where the indicator is. If the caller can see a report on it
with no sharing group, the sighting is for everyone; otherwise it stays in the caller's sharing
group that the indicator was shared in, so it never tells outsiders that a group-only indicator
exists. Writes take the ingest lock and append feed-log rows for the sighting object and for the
indicator (its corroboration changed), exactly as a bundle submission does.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from sharing import audit, ledger
from sharing.accounts.principal import Principal
from sharing.corroboration import TLP_ORDER, Summary, summarise
from sharing.crypto.cipher import FieldCipher
from sharing.errors import InvalidInput, NotFound
from sharing.identifiers import KINDS, TLP_MARKING_IDS, InvalidHash, parse_hash
from sharing.ingest.outcomes import stix_timestamp
from sharing.models.base import utcnow
from sharing.models.context import ContextObject
from sharing.models.indicators import Indicator, Report
from sharing.models.sightings import SIGHTING_KINDS, Sighting
from sharing.runtime import Runtime
from sharing.visibility import Viewer

MAX_COUNT = 999_999_999  # STIX sighting count limit
#: Namespace of the deterministic STIX identity of each member organization.
ORG_IDENTITY_NAMESPACE = uuid.UUID("5b0f3a8e-6c1d-4f57-9a5e-2f7c3e1d8b40")
_INDICATOR_ID_LEN = len("indicator--") + 36


def org_identity_id(org_id: int) -> str:
    """The STIX identity standing for a member organization in objects it authored."""
    return f"identity--{uuid.uuid5(ORG_IDENTITY_NAMESPACE, f'palisade-org:{org_id}')}"


@dataclass(frozen=True)
class SightingIn:
    kind: str  # seen | false_positive
    indicator_id: str | None = None
    indicator_kind: str | None = None
    value: str | None = None
    count: int = 1
    anonymous: bool = False
    tlp: str | None = None

    def check(self) -> None:
        if self.kind not in SIGHTING_KINDS:
            raise InvalidInput(f"type must be one of {', '.join(SIGHTING_KINDS)}")
        if (self.indicator_id is None) == (self.value is None):
            raise InvalidInput("name the indicator by indicator_id or by kind and value")
        if self.indicator_id is not None and (
            not self.indicator_id.startswith("indicator--")
            or len(self.indicator_id) != _INDICATOR_ID_LEN
        ):
            raise InvalidInput("indicator_id must be a canonical indicator--<UUID>")
        if self.value is not None:
            if self.indicator_kind not in KINDS:
                raise InvalidInput(f"kind must be one of {', '.join(KINDS)}")
            try:
                parse_hash(self.value)
            except InvalidHash as exc:
                raise InvalidInput(f"value is not a valid hash ({exc.reason})") from None
        if not 1 <= self.count <= MAX_COUNT:
            raise InvalidInput(f"count must be between 1 and {MAX_COUNT}")
        if self.tlp is not None and self.tlp not in TLP_ORDER:
            raise InvalidInput(f"tlp must be one of {', '.join(TLP_ORDER)}")


def report_sighting(rt: Runtime, principal: Principal, sighting: SightingIn) -> dict[str, Any]:
    """Store a sighting or false positive and return the indicator as the caller now sees it."""
    principal.require_scope("write")
    sighting.check()
    viewer = Viewer.of(principal, rt.cipher)
    now = utcnow()
    with rt.db.transaction(write=True) as session:
        ledger.acquire(session)
        indicator_id = _resolve(session, rt.cipher, sighting)
        before = summarise(session, rt.cipher, viewer, [indicator_id], now).get(indicator_id)
        if before is None or not before.matchable:
            raise _not_found()
        group_id = _audience(viewer, before)
        tlp = sighting.tlp or before.tlp
        if tlp == "red" and group_id is None:
            raise InvalidInput("a TLP:RED sighting needs an indicator shared in a sharing group")
        writer = _Writer(session, rt.cipher, principal, viewer, now)
        stix_id = writer.upsert(before, sighting, group_id, tlp)
        ledger.append(session, writer.changes(indicator_id, sighting.kind))
        audit.record(
            session,
            principal.actor,
            f"sighting.{sighting.kind}",
            f"indicator:{before.stix_id}",
            {"count": sighting.count, "anonymous": sighting.anonymous},
        )
        after = summarise(session, rt.cipher, viewer, [indicator_id], now)[indicator_id]
    return {
        "id": stix_id,
        "type": sighting.kind,
        "indicator_id": after.stix_id,
        "reporter_count": after.reporter_count,
        "sighting_count": after.sighting_count,
        "disputed": after.disputed,
        "score": after.score,
        "last_seen": stix_timestamp(after.last_seen),
    }


def _not_found() -> NotFound:
    # One message whether the indicator does not exist or is invisible to the caller.
    return NotFound("no indicator that you can see matches that id or hash")


def _resolve(session: Session, cipher: FieldCipher, sighting: SightingIn) -> int:
    if sighting.indicator_id is not None:
        where = Indicator.stix_id == sighting.indicator_id
    else:
        assert sighting.indicator_kind is not None and sighting.value is not None
        where = Indicator.blind_index == cipher.indicator_blind_index(
            sighting.indicator_kind, sighting.value
        )
    found = session.scalar(select(Indicator.id).where(where))
    if found is None:
        raise _not_found()
    return found


def _audience(viewer: Viewer, summary: Summary) -> int | None:
    """Public if a visible active report is; else the caller's group the indicator is in."""
    groups = {r.group_id for r in summary.active_reports}
    if None in groups:
        return None
    shared = sorted(g for g in groups if g is not None and g in viewer.group_ids)
    if shared:
        return shared[0]
    own = sorted(r.group_id for r in summary.active_reports if r.own and r.group_id is not None)
    return own[0] if own else min(g for g in groups if g is not None)


class _Writer:
    def __init__(
        self,
        session: Session,
        cipher: FieldCipher,
        principal: Principal,
        viewer: Viewer,
        now: datetime,
    ) -> None:
        self.session = session
        self.cipher = cipher
        self.principal = principal
        self.viewer = viewer
        self.now = now
        self.context_id = 0
        self.context_reason = "new"
        self.group_id: int | None = None

    def upsert(self, summary: Summary, sighting: SightingIn, group_id: int | None, tlp: str) -> str:
        existing = self.session.scalar(
            select(Sighting).where(
                Sighting.indicator_id == summary.indicator_id,
                Sighting.reporter_bi == self.viewer.reporter_bi,
                Sighting.kind == sighting.kind,
            )
        )
        if existing is None:
            prefix = "sighting" if sighting.kind == "seen" else "opinion"
            stix_id = f"{prefix}--{uuid.uuid4()}"
            body = self._body(stix_id, summary.stix_id, sighting, tlp, sighting.count, self.now)
            context = ContextObject(
                stix_id=stix_id,
                stix_type=prefix,
                reporter_bi=self.viewer.reporter_bi,
                reporter_ct=self.cipher.encrypt_text(
                    str(self.principal.org_id), f"context.reporter:{stix_id}"
                ),
                modified=self.now,
                tlp=tlp,
                group_id=group_id,
                anonymous=sighting.anonymous,
                revoked=False,
                body_ct=self._encrypt(stix_id, body),
                submission_id=str(uuid.uuid4()),
                created_at=self.now,
            )
            self.session.add(context)
            self.session.flush()
            self.session.add(
                Sighting(
                    indicator_id=summary.indicator_id,
                    reporter_bi=self.viewer.reporter_bi,
                    kind=sighting.kind,
                    count=sighting.count,
                    first_seen=self.now,
                    last_seen=self.now,
                    group_id=group_id,
                    anonymous=sighting.anonymous,
                    context_id=context.id,
                    created_at=self.now,
                    updated_at=self.now,
                )
            )
            self.session.flush()
            self.context_id, self.context_reason = context.id, "new"
            self.group_id = group_id
            return stix_id
        context = self.session.get(ContextObject, existing.context_id)
        assert context is not None
        count = min(MAX_COUNT, existing.count + sighting.count)
        body = self._body(
            context.stix_id, summary.stix_id, sighting, tlp, count, existing.first_seen
        )
        self.session.execute(
            update(Sighting)
            .where(Sighting.id == existing.id)
            .values(
                count=count, last_seen=self.now, anonymous=sighting.anonymous, updated_at=self.now
            )
        )
        self.session.execute(
            update(ContextObject)
            .where(ContextObject.id == context.id)
            .values(
                modified=self.now,
                tlp=tlp,
                anonymous=sighting.anonymous,
                body_ct=self._encrypt(context.stix_id, body),
            )
        )
        self.context_id, self.context_reason = context.id, "update"
        self.group_id = existing.group_id
        return context.stix_id

    def _body(
        self,
        stix_id: str,
        indicator: str,
        sighting: SightingIn,
        tlp: str,
        count: int,
        first_seen: datetime,
    ) -> dict[str, Any]:
        created = stix_timestamp(first_seen)
        body: dict[str, Any] = {
            "type": stix_id.split("--")[0],
            "spec_version": "2.1",
            "id": stix_id,
            "created": created,
            "modified": stix_timestamp(self.now),
        }
        if not sighting.anonymous:
            body["created_by_ref"] = org_identity_id(self.principal.org_id)
        if sighting.kind == "seen":
            body.update(
                sighting_of_ref=indicator,
                count=count,
                first_seen=created,
                last_seen=stix_timestamp(self.now),
            )
        else:
            body.update(
                opinion="strongly-disagree",
                explanation="Reported as a false positive: this indicator matched benign activity.",
                object_refs=[indicator],
            )
        body["object_marking_refs"] = [TLP_MARKING_IDS[tlp]]
        return body

    def _encrypt(self, stix_id: str, body: dict[str, Any]) -> bytes:
        return self.cipher.encrypt(
            json.dumps(body, separators=(",", ":")).encode(), f"context.body:{stix_id}"
        )

    def changes(self, indicator_id: int, kind: str) -> list[ledger.Change]:
        """The sighting object's own row, then one row per audience of the indicator."""
        group_id = self.group_id
        reporter = self.viewer.reporter_bi
        out = [
            ledger.Change(
                self.context_reason,
                group_id is None,
                group_id,
                reporter,
                context_id=self.context_id,
            )
        ]
        audiences = set(
            self.session.scalars(
                select(Report.group_id)
                .where(Report.indicator_id == indicator_id, Report.revoked.is_(False))
                .distinct()
            )
        )
        reason = "sighting" if kind == "seen" else "dispute"
        for audience in sorted(audiences, key=lambda g: (g is not None, g or 0)):
            out.append(
                ledger.Change(
                    reason, audience is None, audience, reporter, indicator_id=indicator_id
                )
            )
        return out
