"""Feed pages for one reader: objects, manifest and versions of a collection, keyset-paged.

One function, :func:`read_page`, serves every TAXII read: it checks the collection and the
``read`` scope, continues from a signed ``next`` token, pulls the next feed-log rows
(``sharing.feeds.query``), and turns them into entries with their ``date_added`` and version,
rendering content only for the objects endpoint. A row whose object the reader can no longer
see (a report moved to a group it is not in) still advances the position but yields nothing,
so a page may hold fewer entries than ``limit`` while ``more`` is true.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sharing.accounts.principal import Principal
from sharing.corroboration import org_names, summarise
from sharing.errors import Forbidden, NotFound
from sharing.feeds import tokens
from sharing.feeds.collections import Collection, collections_for, get_collection
from sharing.feeds.query import (
    Filters,
    Row,
    feed_rows,
    latest_versions,
    resolve_targets,
)
from sharing.feeds.render import STATIC_DATE_ADDED, render_context, render_indicator, static_objects
from sharing.ingest.outcomes import stix_timestamp
from sharing.models.base import utcnow
from sharing.models.context import ContextObject
from sharing.models.indicators import Indicator, Report
from sharing.runtime import Runtime
from sharing.visibility import Viewer, audience_filter

STIX_MEDIA_TYPE = "application/stix+json;version=2.1"
DEFAULT_MAX_PAGE_SIZE = 1000


@dataclass
class Entry:
    position: int
    date_added: datetime
    id: str
    version: datetime
    obj: dict[str, Any] | None = None


@dataclass
class Page:
    entries: list[Entry] = field(default_factory=list)
    more: bool = False
    next: str | None = None

    @property
    def date_added_first(self) -> str | None:
        return stix_timestamp(self.entries[0].date_added) if self.entries else None

    @property
    def date_added_last(self) -> str | None:
        return stix_timestamp(self.entries[-1].date_added) if self.entries else None

    def _tail(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.more:
            body["more"] = True
            body["next"] = self.next
        elif body:
            body["more"] = False
        return body

    def envelope(self) -> dict[str, Any]:
        body = {"objects": [e.obj for e in self.entries]} if self.entries else {}
        return self._tail(body)

    def manifest(self) -> dict[str, Any]:
        records = [
            {
                "id": e.id,
                "date_added": stix_timestamp(e.date_added),
                "version": stix_timestamp(e.version),
                "media_type": STIX_MEDIA_TYPE,
            }
            for e in self.entries
        ]
        return self._tail({"objects": records} if records else {})

    def versions(self) -> dict[str, Any]:
        body = {"versions": [stix_timestamp(e.version) for e in self.entries]}
        return self._tail(body if self.entries else {})


def max_page_size(rt: Runtime) -> int:
    return int(rt.settings.extra.get("taxii_max_page_size", DEFAULT_MAX_PAGE_SIZE))


def list_collections(rt: Runtime, principal: Principal) -> list[Collection]:
    with rt.db.transaction() as session:
        return collections_for(session, principal)


def find_collection(rt: Runtime, principal: Principal, collection_id: str) -> Collection:
    with rt.db.transaction() as session:
        return get_collection(session, principal, collection_id)


def _scope(collection: Collection, endpoint: str, principal: Principal, filters: Filters) -> str:
    text = f"{collection.id}|{endpoint}|{principal.org_id}|{filters.fingerprint()}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def read_page(
    rt: Runtime,
    principal: Principal,
    collection_id: str,
    endpoint: str,
    filters: Filters,
    *,
    limit: int | None = None,
    token: str | None = None,
) -> Page:
    """One page of ``endpoint`` (objects | manifest | versions) of a collection."""
    limit = min(limit or max_page_size(rt), max_page_size(rt))
    with rt.db.transaction() as session:
        collection = get_collection(session, principal, collection_id)
        if not collection.can_read:
            raise Forbidden("this credential may not read collections (it lacks 'read')")
        scope = _scope(collection, endpoint, principal, filters)
        statics = static_objects()
        after = tokens.verify(rt.secret_key, token, scope) if token else -len(statics) - 1
        viewer = Viewer.of(principal, rt.cipher)
        entries: list[Entry] = []
        # statics sit at positions -n..-1, before every feed-log row
        for index, obj in enumerate(statics):
            position = index - len(statics)
            if position > after and _static_matches(obj, filters):
                entries.append(Entry(position, STATIC_DATE_ADDED, obj["id"], STATIC_DATE_ADDED))
                entries[-1].obj = obj if endpoint == "objects" else None
        targets = resolve_targets(session, filters)
        rows = feed_rows(
            session, viewer, collection, filters, targets, after, limit + 1 - len(entries)
        )
        positions = [e.position for e in entries] + [r.seq for r in rows]
        more = len(positions) > limit
        if more:
            cut = positions[limit - 1]
            entries = [e for e in entries if e.position <= cut]
            rows = [r for r in rows if r.seq <= cut]
        entries += _row_entries(rt, session, viewer, filters, rows, render=endpoint == "objects")
        page = Page(entries, more)
        if more:
            page.next = tokens.sign(rt.secret_key, tokens.Position(scope, cut))
        return page


def object_exists(rt: Runtime, principal: Principal, collection_id: str, object_id: str) -> bool:
    """Whether the collection holds ``object_id`` for this reader, whatever the filters."""
    page = read_page(rt, principal, collection_id, "manifest", Filters(ids=(object_id,)), limit=1)
    return bool(page.entries)


def require_object(rt: Runtime, principal: Principal, collection_id: str, object_id: str) -> None:
    if not object_exists(rt, principal, collection_id, object_id):
        raise NotFound(f"no object {object_id[:120]!r} in this collection")


def _static_matches(obj: dict[str, Any], filters: Filters) -> bool:
    if filters.ids and obj["id"] not in filters.ids:
        return False
    if filters.types and obj["type"] not in filters.types:
        return False
    if filters.spec_versions and "2.1" not in filters.spec_versions:
        return False
    if filters.added_after is not None and filters.added_after >= STATIC_DATE_ADDED:
        return False
    return filters.version_matches(STATIC_DATE_ADDED, is_latest=True, is_first=True)


def _row_entries(
    rt: Runtime, session: Session, viewer: Viewer, filters: Filters, rows: list[Row], render: bool
) -> list[Entry]:
    indicator_ids = [r.indicator_id for r in rows if r.indicator_id is not None]
    context_ids = [r.context_id for r in rows if r.context_id is not None]
    rendered: dict[int, dict[str, Any]] = {}
    stix_ids: dict[int, str] = {}
    if indicator_ids:
        if filters.versions == ("last",):
            # each row is its object's latest visible change by construction
            current = {r.indicator_id: r.date_added for r in rows if r.indicator_id is not None}
        else:
            current = latest_versions(session, viewer, indicator_ids)
        if render:
            rendered, stix_ids = _render_indicators(rt, session, viewer, indicator_ids, current)
        else:
            stix_ids = _visible_indicators(session, viewer, indicator_ids)
    contexts = _contexts(rt, session, viewer, context_ids, render)
    out: list[Entry] = []
    for row in rows:
        if row.indicator_id is not None:
            stix_id = stix_ids.get(row.indicator_id)
            if stix_id is None:
                continue
            if render:
                obj = rendered.get(row.indicator_id)
                if obj is None or current.get(row.indicator_id) != row.date_added:
                    continue  # only the latest version's content is held
                out.append(Entry(row.seq, row.date_added, stix_id, row.date_added, obj))
            else:
                out.append(Entry(row.seq, row.date_added, stix_id, row.date_added))
        else:
            found = contexts.get(row.context_id)  # type: ignore[arg-type]
            if found is None:
                continue
            stix_id, modified, obj = found
            if not filters.version_matches(modified, is_latest=True, is_first=True):
                continue
            out.append(Entry(row.seq, row.date_added, stix_id, modified, obj))
    return out


def _visible_indicators(session: Session, viewer: Viewer, ids: list[int]) -> dict[int, str]:
    rows = session.execute(
        select(Indicator.id, Indicator.stix_id).where(
            Indicator.id.in_(sorted(set(ids))),
            select(Report.id)
            .where(
                Report.indicator_id == Indicator.id,
                audience_filter(viewer, Report.group_id, Report.reporter_bi),
            )
            .exists(),
        )
    )
    return {row[0]: row[1] for row in rows}


def _render_indicators(
    rt: Runtime, session: Session, viewer: Viewer, ids: list[int], current: dict[int, Any]
) -> tuple[dict[int, dict[str, Any]], dict[int, str]]:
    summaries = summarise(session, rt.cipher, viewer, ids, utcnow(), org_names=org_names(session))
    values = {
        row.id: row
        for row in session.execute(
            select(
                Indicator.id,
                Indicator.value_ct,
                Indicator.signature_ct,
                Indicator.consortium_key_id,
            ).where(Indicator.id.in_(sorted(summaries)))
        )
    }
    rendered: dict[int, dict[str, Any]] = {}
    for indicator_id, summary in summaries.items():
        version = current.get(indicator_id)
        if version is None:
            continue
        row = values[indicator_id]
        rendered[indicator_id] = render_indicator(
            rt.cipher, summary, row.value_ct, row.signature_ct, row.consortium_key_id, version
        )
    return rendered, {i: s.stix_id for i, s in summaries.items()}


def _contexts(
    rt: Runtime, session: Session, viewer: Viewer, ids: list[int], render: bool
) -> dict[int, tuple[str, datetime, dict[str, Any] | None]]:
    if not ids:
        return {}
    found: dict[int, tuple[str, datetime, dict[str, Any] | None]] = {}
    for row in session.execute(
        select(ContextObject).where(
            ContextObject.id.in_(sorted(set(ids))),
            audience_filter(viewer, ContextObject.group_id, ContextObject.reporter_bi),
        )
    ).scalars():
        obj = None
        if render:
            own = bytes(row.reporter_bi) == viewer.reporter_bi
            obj = render_context(
                rt.cipher, row.stix_id, row.body_ct, anonymous=row.anonymous, own=own
            )
        found[row.id] = (row.stix_id, row.modified, obj)
    return found
