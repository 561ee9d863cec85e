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

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from sharing.accounts.principal import Principal
from sharing.corroboration import org_names, summarise
from sharing.errors import Forbidden, NotFound
from sharing.feeds import tokens
from sharing.feeds.collections import Collection, collections_for, get_collection
from sharing.feeds.query import Filters, PageRow, feed_rows, latest_versions, resolve_targets
from sharing.feeds.render import (
    STATIC_DATE_ADDED,
    IndicatorRow,
    Stamps,
    render_context,
    render_indicators,
    stamp,
    static_objects,
)
from sharing.models.base import utcnow
from sharing.models.context import ContextObject
from sharing.models.indicators import Indicator, Report
from sharing.runtime import Runtime
from sharing.visibility import Viewer, audience_filter

STIX_MEDIA_TYPE = "application/stix+json;version=2.1"


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
        return stamp(self.entries[0].date_added) if self.entries else None

    @property
    def date_added_last(self) -> str | None:
        return stamp(self.entries[-1].date_added) if self.entries else None

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
        stamps = Stamps()
        records = [
            {
                "id": e.id,
                "date_added": stamps[e.date_added],
                "version": stamps[e.version],
                "media_type": STIX_MEDIA_TYPE,
            }
            for e in self.entries
        ]
        return self._tail({"objects": records} if records else {})

    def versions(self) -> dict[str, Any]:
        stamps = Stamps()
        body = {"versions": [stamps[e.version] for e in self.entries]}
        return self._tail(body if self.entries else {})


def max_page_size(rt: Runtime) -> int:
    """The largest and default ``limit`` (``Settings.taxii_max_page_size``)."""
    return rt.settings.taxii_max_page_size


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
    rt: Runtime,
    session: Session,
    viewer: Viewer,
    filters: Filters,
    rows: list[PageRow],
    render: bool,
) -> list[Entry]:
    indicator_ids = [r.indicator_id for r in rows if r.indicator_id is not None]
    context_ids = [r.context_id for r in rows if r.context_id is not None]
    current: dict[int, datetime] = {}
    if indicator_ids:
        if filters.versions == ("last",):
            # each row is its object's latest visible change by construction
            current = {r.indicator_id: r.date_added for r in rows if r.indicator_id is not None}
        else:
            current = latest_versions(session, viewer, indicator_ids)
    # indicators the reader may see (a visible report), by id: rendered, or their STIX ids
    rendered: dict[int, tuple[str, dict[str, Any]]] = {}
    stix_ids: dict[int, str] = {}
    if render:
        rendered = _render_indicators(rt, session, viewer, indicator_ids, current)
    else:
        stix_ids = _visible_indicators(session, viewer, indicator_ids)
    contexts = _contexts(rt, session, viewer, context_ids, render)
    out: list[Entry] = []
    for row in rows:
        if row.indicator_id is not None:
            if render:
                found = rendered.get(row.indicator_id)
                if found is None or current.get(row.indicator_id) != row.date_added:
                    continue  # invisible, or not its latest version (docs/TAXII.md)
                out.append(Entry(row.seq, row.date_added, found[0], row.date_added, found[1]))
            elif (stix_id := stix_ids.get(row.indicator_id)) is not None:
                out.append(Entry(row.seq, row.date_added, stix_id, row.date_added))
        elif (context := contexts.get(row.context_id)) is not None:  # type: ignore[arg-type]
            stix_id, modified, obj = context
            if filters.version_matches(modified, is_latest=True, is_first=True):
                out.append(Entry(row.seq, row.date_added, stix_id, modified, obj))
    return out


def _visible_indicators(session: Session, viewer: Viewer, ids: list[int]) -> dict[int, str]:
    """STIX ids of those of ``ids`` with at least one report the reader may see."""
    if not ids:
        return {}
    stmt = select(Indicator.id, Indicator.stix_id).where(
        Indicator.id.in_(bindparam("ids", expanding=True)),
        select(Report.id)
        .where(
            Report.indicator_id == Indicator.id,
            audience_filter(viewer, Report.group_id, Report.reporter_bi),
        )
        .exists(),
    )
    rows = session.connection().execute(stmt, {"ids": sorted(set(ids))})
    return {indicator_id: stix_id for indicator_id, stix_id in rows}


def _render_indicators(
    rt: Runtime,
    session: Session,
    viewer: Viewer,
    ids: list[int],
    current: dict[int, datetime],
) -> dict[int, tuple[str, dict[str, Any]]]:
    """Indicator id -> (STIX id, object at its current version), for those it may see."""
    if not ids:
        return {}
    summaries = summarise(session, rt.cipher, viewer, ids, utcnow(), org_names=org_names(session))
    stmt = select(
        Indicator.id, Indicator.value_ct, Indicator.signature_ct, Indicator.consortium_key_id
    ).where(Indicator.id.in_(bindparam("ids", expanding=True)))
    items = [
        IndicatorRow(summaries[indicator_id], value_ct, signature_ct, key_id, version)
        for indicator_id, value_ct, signature_ct, key_id in session.connection().execute(
            stmt, {"ids": sorted(summaries)}
        )
        if (version := current.get(indicator_id)) is not None
    ]
    return {
        item.summary.indicator_id: (item.summary.stix_id, obj)
        for item, obj in zip(items, render_indicators(rt.cipher, items), strict=True)
    }


def _contexts(
    rt: Runtime, session: Session, viewer: Viewer, ids: list[int], render: bool
) -> dict[int, tuple[str, datetime, dict[str, Any] | None]]:
    """Context objects the reader may see, by id: STIX id, version, object if ``render``."""
    if not ids:
        return {}
    columns = [ContextObject.id, ContextObject.stix_id, ContextObject.modified]
    if render:
        columns += [ContextObject.body_ct, ContextObject.anonymous, ContextObject.reporter_bi]
    stmt = select(*columns).where(
        ContextObject.id.in_(bindparam("ids", expanding=True)),
        audience_filter(viewer, ContextObject.group_id, ContextObject.reporter_bi),
    )
    found: dict[int, tuple[str, datetime, dict[str, Any] | None]] = {}
    for row in session.connection().execute(stmt, {"ids": sorted(set(ids))}):
        obj = None
        if render:
            obj = render_context(
                rt.cipher,
                row.stix_id,
                row.body_ct,
                anonymous=row.anonymous,
                own=bytes(row.reporter_bi) == viewer.reporter_bi,
            )
        found[row.id] = (row.stix_id, row.modified, obj)
    return found
