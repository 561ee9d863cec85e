"""Keyset paging over the feed log: which objects (and versions) a page holds, in order.

A page is the next ``limit`` feed-log rows after a position (``seq``) that are visible to the
reader, in the collection's scope, match the filters, and are the row that stands for their
object: by default the object's *latest* visible change (no later visible row for the same
object exists). So each object is listed once, at its current version, and a full pull never
repeats or skips one while writes arrive: a write appends rows with a higher ``seq``
(``sharing.ledger`` numbers them in commit order), which only moves an object forward.

``seq`` and ``changed_at`` (TAXII's ``date_added``) grow together, so ascending ``seq`` is
ascending ``date_added`` and ``added_after`` becomes a seek on the ``changed_at`` index.
Versions of an indicator are the distinct visible ``changed_at`` of its rows; a context
object's only known version is its own ``modified`` (the log rows that stand for it are
always its latest). The exchange's identity and extension definitions come first, at
positions below zero.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import and_, exists, func, literal, or_, select, true
from sqlalchemy.orm import Session, aliased

from sharing.feeds.collections import ALL, GROUP, OWN, Collection
from sharing.models.context import ContextObject
from sharing.models.feed import FeedEntry
from sharing.models.indicators import Indicator
from sharing.visibility import Viewer, log_filter

SPEC_VERSION = "2.1"


@dataclass(frozen=True)
class Filters:
    added_after: datetime | None = None
    ids: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    # "last" (default), "first", "all" or explicit version timestamps (datetimes)
    versions: tuple[str | datetime, ...] = ("last",)
    spec_versions: tuple[str, ...] = ()

    @property
    def all_versions(self) -> bool:
        return "all" in self.versions

    @property
    def timestamps(self) -> tuple[datetime, ...]:
        return tuple(v for v in self.versions if isinstance(v, datetime))

    def fingerprint(self) -> str:
        data = [
            self.added_after.isoformat() if self.added_after else None,
            sorted(self.ids),
            sorted(self.types),
            sorted(v.isoformat() if isinstance(v, datetime) else v for v in self.versions),
            sorted(self.spec_versions),
        ]
        return hashlib.sha256(json.dumps(data).encode()).hexdigest()[:32]

    def version_matches(self, version: datetime, *, is_latest: bool, is_first: bool) -> bool:
        """For objects whose versions are known in Python (statics, context objects)."""
        if self.all_versions:
            return True
        return (
            ("last" in self.versions and is_latest)
            or ("first" in self.versions and is_first)
            or version in self.timestamps
        )


class PageRow(NamedTuple):
    """One feed-log row standing for an object version on a page."""

    seq: int
    date_added: datetime
    indicator_id: int | None
    context_id: int | None


@dataclass
class Targets:
    """``match[id]`` / ``match[type]`` resolved to row ids (None: no restriction)."""

    indicator_ids: list[int] | None = None
    context_ids: list[int] | None = None
    context_types: list[str] | None = None
    indicators: bool = True
    contexts: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


def resolve_targets(session: Session, filters: Filters) -> Targets:
    targets = Targets()
    if filters.types:
        targets.indicators = "indicator" in filters.types
        ctypes = [t for t in filters.types if t != "indicator"]
        targets.contexts = bool(ctypes)
        targets.context_types = ctypes
    if filters.ids:
        ind = [i for i in filters.ids if i.startswith("indicator--")]
        ctx = [i for i in filters.ids if not i.startswith("indicator--")]
        targets.indicator_ids = (
            list(session.scalars(select(Indicator.id).where(Indicator.stix_id.in_(ind))))
            if ind
            else []
        )
        targets.context_ids = (
            list(session.scalars(select(ContextObject.id).where(ContextObject.stix_id.in_(ctx))))
            if ctx
            else []
        )
    return targets


def _visible(viewer: Viewer, table: Any) -> Any:
    return log_filter(viewer, table.public, table.group_id, table.reporter_bi)


def _other(log: Any, column: str, viewer: Viewer, *conditions: Any) -> Any:
    other = aliased(FeedEntry)
    return exists(
        select(literal(1))
        .select_from(other)
        .where(
            getattr(other, column) == getattr(log, column),
            _visible(viewer, other),
            *(condition(other) for condition in conditions),
        )
    )


def _indicator_rule(log: Any, viewer: Viewer, filters: Filters) -> Any:
    later = _other(log, "indicator_id", viewer, lambda o: o.seq > log.seq)
    if filters.all_versions:
        same_time_later = _other(
            log,
            "indicator_id",
            viewer,
            lambda o: o.seq > log.seq,
            lambda o: o.changed_at == log.changed_at,
        )
        return ~same_time_later
    rules = []
    if "last" in filters.versions:
        rules.append(~later)
    if "first" in filters.versions:
        rules.append(~_other(log, "indicator_id", viewer, lambda o: o.seq < log.seq))
    if filters.timestamps:
        same_time_later = _other(
            log,
            "indicator_id",
            viewer,
            lambda o: o.seq > log.seq,
            lambda o: o.changed_at == log.changed_at,
        )
        rules.append(and_(log.changed_at.in_(filters.timestamps), ~same_time_later))
    return or_(*rules) if rules else literal(False)


def _scope(log: Any, collection: Collection, viewer: Viewer) -> Any:
    if collection.kind == ALL:
        return true()
    member = aliased(FeedEntry)
    if collection.kind == GROUP:
        condition = member.group_id == collection.group_id
    else:
        assert collection.kind == OWN
        condition = member.reporter_bi == viewer.reporter_bi

    def has(column: str) -> Any:
        return exists(
            select(literal(1))
            .select_from(member)
            .where(getattr(member, column) == getattr(log, column), condition)
        )

    return or_(
        and_(log.indicator_id.is_not(None), has("indicator_id")),
        and_(log.context_id.is_not(None), has("context_id")),
    )


def seek_added_after(session: Session, added_after: datetime) -> int:
    """The highest position whose date_added is not after ``added_after`` (index seek)."""
    seq = session.scalar(
        select(FeedEntry.seq)
        .where(FeedEntry.changed_at <= added_after)
        .order_by(FeedEntry.changed_at.desc())
        .limit(1)
    )
    return int(seq or 0)


def feed_rows(
    session: Session,
    viewer: Viewer,
    collection: Collection,
    filters: Filters,
    targets: Targets,
    after: int,
    limit: int,
) -> list[PageRow]:
    """Up to ``limit`` rows after position ``after``, in ascending ``seq``.

    One statement over the feed log alone: a seek on its primary key (``seq > after ORDER BY
    seq LIMIT n``) with per-row index probes for the latest-visible-change rule, so its cost
    does not depend on the position. Objects are fetched by the caller, by primary key: joined
    here, PostgreSQL's planner may hash the whole joined table for every page.
    Whether the reader may see the object itself (a visible report; the context object's
    audience) is decided by the caller too.
    """
    if limit <= 0 or not (targets.indicators or targets.contexts):
        return []
    if filters.spec_versions and SPEC_VERSION not in filters.spec_versions:
        return []
    log = aliased(FeedEntry, name="l")
    start = max(after, 0)
    where = [_visible(viewer, log)]
    if filters.added_after is not None:
        start = max(start, seek_added_after(session, filters.added_after))
        where.append(log.changed_at > filters.added_after)
    where.append(log.seq > start)

    kinds = []
    if targets.indicators and targets.indicator_ids != []:
        clause = [log.indicator_id.is_not(None), _indicator_rule(log, viewer, filters)]
        if targets.indicator_ids is not None:
            clause.append(log.indicator_id.in_(targets.indicator_ids))
        kinds.append(and_(*clause))
    if targets.contexts and targets.context_ids != []:
        clause = [
            log.context_id.is_not(None),
            ~_other(log, "context_id", viewer, lambda o: o.seq > log.seq),
        ]
        if targets.context_ids is not None:
            clause.append(log.context_id.in_(targets.context_ids))
        if targets.context_types:
            clause.append(
                log.context_id.in_(
                    select(ContextObject.id).where(
                        ContextObject.stix_type.in_(targets.context_types)
                    )
                )
            )
        kinds.append(and_(*clause))
    if not kinds:
        return []
    where.append(or_(*kinds) if len(kinds) > 1 else kinds[0])
    where.append(_scope(log, collection, viewer))
    stmt = (
        select(log.seq, log.changed_at, log.indicator_id, log.context_id)
        .where(*where)
        .order_by(log.seq)
        .limit(limit)
    )
    # Core rows into named tuples: a thousand rows a page, read field by field afterwards
    return [PageRow(*row) for row in session.connection().execute(stmt)]


def latest_versions(session: Session, viewer: Viewer, indicator_ids: list[int]) -> dict[int, Any]:
    """Each indicator's latest visible change (its current version) for ``viewer``."""
    if not indicator_ids:
        return {}
    rows = session.execute(
        select(FeedEntry.indicator_id, func.max(FeedEntry.changed_at))
        .where(FeedEntry.indicator_id.in_(sorted(set(indicator_ids))), _visible(viewer, FeedEntry))
        .group_by(FeedEntry.indicator_id)
    )
    return {row[0]: row[1] for row in rows}
