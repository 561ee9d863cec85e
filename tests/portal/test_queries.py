"""The portal's read models: the dashboard rollup stays exact per viewer, paging is keyset."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import update

from sharing.accounts import api_keys, consortium
from sharing.ingest.service import submit_bundle
from sharing.models.base import utcnow
from sharing.models.indicators import Report
from sharing.portal import queries, rollup
from sharing.visibility import Viewer
from tests.factories import TEST_ACTOR, make_api_key, make_group, make_org
from tests.stix_factories import (
    TEST_CONSORTIUM_KEY,
    body,
    make_bundle,
    make_campaign,
    make_indicator,
    make_relationship,
    ts,
)


def _setup(rt: Any) -> dict[str, Any]:
    with rt.db.transaction(write=True) as s:
        lab_a, lab_b = make_org(s), make_org(s)
        group = make_group(s, lab_b)
        key_a, _ = make_api_key(s, lab_a)
        key_b, _ = make_api_key(s, lab_b)
        consortium.register(s, TEST_CONSORTIUM_KEY.key_id, actor=TEST_ACTOR)
    with rt.db.transaction() as s:
        a = api_keys.authenticate(s, key_a, None)
        b = api_keys.authenticate(s, key_b, None)
    return {"a": a, "b": b, "group": group.name}


def _board(rt: Any, principal: Any, now: Any) -> queries.Dashboard:
    rollup.refresh(rt.db, now)
    with rt.db.transaction() as s:
        return queries.dashboard(
            s, rt.cipher, Viewer.of(principal, rt.cipher), principal.org_id, now
        )


def test_rollup_is_exact_per_viewer_even_when_a_report_changes_audience(rt: Any) -> None:
    p = _setup(rt)
    public = make_indicator("moves@x.example", "email", tlp="green", modified=ts(days=-1))
    red = make_indicator("red@x.example", "email", tlp="red", group=p["group"])
    campaign = make_campaign("Operation Mirror")
    link = make_relationship(public["id"], campaign["id"])
    submit_bundle(rt, p["b"], body(make_bundle(public, red, campaign, link)))
    now = utcnow()
    # Age the reports to yesterday (before any refresh): they come from the stored rollup.
    with rt.db.transaction(write=True) as s:
        yesterday = now - timedelta(days=1)
        s.execute(update(Report).values(created_at=yesterday, updated_at=yesterday))
    board = _board(rt, p["a"], now)
    assert board.total == 1 and sum(board.by_kind["email"]) == 1 and sum(board.mine) == 0
    assert board.top_campaigns == [("Operation Mirror", 1)]
    assert _board(rt, p["b"], now).total == 2 and sum(_board(rt, p["b"], now).mine) == 2
    # Today's reports are counted live.
    submit_bundle(rt, p["b"], body(make_bundle(make_indicator("new@x.example", "email"))))
    board = _board(rt, p["a"], utcnow())
    assert board.total == 2 and board.new_this_week == 2
    # lab-b moves its public report into its own group: lab-a must stop counting it.
    moved = dict(public, modified=ts())
    moved["extensions"] = {
        "extension-definition--f0a96e34-acfe-49d7-b749-2829ecc56ec1": {
            "extension_type": "property-extension",
            "sharing_group": p["group"],
        }
    }
    status = submit_bundle(rt, p["b"], body(make_bundle(moved)))
    assert len(status.successes) == 1, status.as_taxii()
    board = _board(rt, p["a"], utcnow())
    assert board.total == 1 and board.top_campaigns == []
    assert _board(rt, p["b"], utcnow()).total == 3


def test_indicator_search_pages_by_keyset_and_filters(rt: Any) -> None:
    p = _setup(rt)
    objects = [make_indicator(f"user{i}@x.example", "email", tlp="green") for i in range(7)]
    objects.append(make_indicator("1.2.3.0/24", "ip", tlp="amber"))
    submit_bundle(rt, p["b"], body(make_bundle(*objects)))
    viewer = Viewer.of(p["a"], rt.cipher)
    with rt.db.transaction() as s:
        seen: list[int] = []
        cursor = None
        while True:
            ids, cursor = queries.search_indicators(
                s, viewer, queries.IndicatorFilter(), before=cursor, limit=3
            )
            seen += ids
            if cursor is None:
                break
        assert len(seen) == 8 and seen == sorted(seen, reverse=True)
        ips, _ = queries.search_indicators(s, viewer, queries.IndicatorFilter(kind="ip"))
        amber, _ = queries.search_indicators(s, viewer, queries.IndicatorFilter(tlp="amber"))
        assert ips == amber and len(ips) == 1
        mine, _ = queries.search_indicators(s, viewer, queries.IndicatorFilter(mine=True))
        assert mine == []
