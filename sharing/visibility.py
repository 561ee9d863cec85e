"""Who may see what: the one definition every reader (match, feeds, portal) uses.

A report (or context object, or feed-log row) has an audience: everyone in the exchange when it
carries no sharing group, otherwise the members of its group. Its reporter always sees it.
TLP:RED is only accepted with a sharing group, so "no group" never means red. A member must
never learn that something it may not see exists, so readers filter in SQL with these
expressions and count only what survives the filter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, bindparam, false, or_, true

from sharing.accounts.principal import Principal
from sharing.crypto.cipher import FieldCipher

REPORTER_KIND = "org"


def reporter_index(cipher: FieldCipher, org_id: int) -> bytes:
    """The blind index standing for an organization in reports, submissions and the log."""
    return cipher.blind_index(REPORTER_KIND, str(org_id))


@dataclass(frozen=True)
class Viewer:
    """A principal as the visibility rules need it."""

    org_id: int
    reporter_bi: bytes
    group_ids: frozenset[int]

    @classmethod
    def of(cls, principal: Principal, cipher: FieldCipher) -> Viewer:
        return cls(principal.org_id, reporter_index(cipher, principal.org_id), principal.group_ids)

    def can_see(self, group_id: int | None, reporter_bi: bytes | None) -> bool:
        return group_id is None or group_id in self.group_ids or reporter_bi == self.reporter_bi


def _audience(
    group_col: Any, reporter_col: Any, reporter: Any, groups: Any | None
) -> ColumnElement[bool]:
    """The one audience rule in SQL: no sharing group (everyone), the viewer's own report, or a
    group the viewer belongs to (``groups`` None: the viewer is in none)."""
    clauses: list[ColumnElement[bool]] = [group_col.is_(None), reporter_col == reporter]
    if groups is not None:
        clauses.append(group_col.in_(groups))
    return or_(*clauses)


def audience_filter(viewer: Viewer, group_col: Any, reporter_col: Any) -> ColumnElement[bool]:
    """SQL: rows whose audience includes ``viewer``."""
    return _audience(group_col, reporter_col, viewer.reporter_bi, sorted(viewer.group_ids) or None)


def bound_audience_filter(group_col: Any, reporter_col: Any) -> ColumnElement[bool]:
    """:func:`audience_filter` with the viewer as bind parameters (``viewer_bi``, ``viewer_groups``,
    filled by :func:`audience_params`), for statements built once and run on every request:
    building and cache-keying a fresh statement costs more than running a one-row lookup."""
    return _audience(
        group_col,
        reporter_col,
        bindparam("viewer_bi"),
        bindparam("viewer_groups", expanding=True),
    )


def audience_params(viewer: Viewer) -> dict[str, Any]:
    """The parameters :func:`bound_audience_filter` takes (an empty group list matches none)."""
    return {"viewer_bi": viewer.reporter_bi, "viewer_groups": sorted(viewer.group_ids)}


def log_filter(viewer: Viewer, public_col: Any, group_col: Any, reporter_col: Any) -> Any:
    clauses = [public_col == true(), reporter_col == viewer.reporter_bi]
    if viewer.group_ids:
        clauses.append(group_col.in_(sorted(viewer.group_ids)))
    return or_(*clauses) if clauses else false()
