"""A bundle lands whole or not at all; what lands is unreadable without the keys."""

from __future__ import annotations

import gzip
import itertools
import json

import pytest
from sqlalchemy import select, text

from sharing.ingest.service import GZIP_ASIDE_MIN_BYTES
from sharing.ingest.writer import BundleWriter
from sharing.models.audit import AuditEntry
from sharing.models.context import ContextObject
from sharing.models.feed import FeedEntry
from sharing.models.indicators import Indicator, Report
from sharing.models.submissions import Submission
from tests.stix_factories import body, make_bundle, make_campaign, make_indicator


class Boom(RuntimeError):
    pass


def test_a_failure_mid_bundle_rolls_back_everything_and_a_retry_lands_it_all(exchange, monkeypatch):
    member = exchange.member("lab-a")
    objects = [make_indicator(f"crash{i}@evil.test") for i in range(20)] + [make_campaign()]
    audit_before = exchange.count(AuditEntry)

    def explode(self, items):
        raise Boom("simulated crash after the indicators were written")

    with monkeypatch.context() as patch:
        patch.setattr(BundleWriter, "write_contexts", explode)
        with pytest.raises(Boom):
            exchange.submit(member, *objects)
    for model in (Indicator, Report, ContextObject, FeedEntry, Submission):
        assert exchange.count(model) == 0, model.__name__
    assert exchange.count(AuditEntry) == audit_before

    report = exchange.submit(member, *objects)
    assert report.as_taxii()["success_count"] == 21
    assert exchange.count(Indicator) == 20 and exchange.count(ContextObject) == 1


def test_every_change_lands_in_the_feed_log_in_sequence(exchange):
    member = exchange.member("lab-a")
    exchange.submit(member, make_indicator("f1@evil.test"), make_campaign())
    exchange.submit(member, make_indicator("f2@evil.test"))
    rows = exchange.session.execute(select(FeedEntry).order_by(FeedEntry.seq)).scalars().all()
    assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
    assert len(rows) == 3
    assert all(a.changed_at <= b.changed_at for a, b in itertools.pairwise(rows))


def _dump(session) -> bytes:
    """Every value of every row of every table, as one blob of bytes."""
    out = bytearray()
    tables = [Indicator, Report, ContextObject, Submission, FeedEntry]
    for model in tables:
        for row in session.execute(text(f"SELECT * FROM {model.__tablename__}")):
            for value in row:
                if isinstance(value, bytes | memoryview):
                    out += bytes(value)
                else:
                    out += str(value).encode()
    return bytes(out)


def test_hashes_descriptions_and_attribution_are_encrypted_at_rest(exchange):
    member = exchange.member("attribution-canary-lab")
    indicator = make_indicator("stored@evil.test", description="canary-description-7731")
    campaign = make_campaign("canary-campaign-name-5512")
    exchange.submit(member, indicator, campaign)
    hash_value = indicator["pattern"].split("value = '")[1].rstrip("']")
    dump = _dump(exchange.session)
    assert hash_value.encode() not in dump
    assert hash_value.split(":")[2].encode() not in dump
    assert b"canary-description-7731" not in dump
    assert b"canary-campaign-name-5512" not in dump
    assert b"attribution-canary-lab" not in dump


def test_the_audit_log_records_a_submission_without_linking_it_to_its_contents(exchange):
    member = exchange.member("lab-a")
    report = exchange.submit(member, make_indicator("audited@evil.test"))
    entry = exchange.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "bundle.submit")
    ).one()
    assert entry.actor_org_id == member.principal.org_id
    assert json.loads(entry.details) == {"failed": 0, "objects": 1, "succeeded": 1}
    assert report.id not in entry.target + entry.details


@pytest.mark.parametrize("count", [1, 800], ids=["small", "large"])
def test_the_raw_bundle_is_kept_encrypted_for_provenance(exchange, count):
    member = exchange.member("lab-a")
    bundle = make_bundle(*(make_indicator(f"prov{i}@evil.test") for i in range(count)))
    # 800 indicators take the side thread (sharing.ingest.service._gzipped_aside)
    assert (len(body(bundle)) >= GZIP_ASIDE_MIN_BYTES) == (count > 1)
    report = exchange.submit(member, *bundle["objects"])
    row = exchange.session.get(Submission, report.id)
    raw = gzip.decompress(exchange.rt.cipher.decrypt(row.raw_ct, f"submissions.raw:{row.id}"))
    assert json.loads(raw)["objects"] == bundle["objects"]
    assert row.raw_expires_at is not None and row.raw_expires_at > row.received_at
    assert b"prov" not in bytes(row.raw_ct) and body(bundle)[:40] not in bytes(row.raw_ct)


@pytest.mark.parametrize("count", [1, 800], ids=["small", "large"])
def test_with_retention_off_no_raw_copy_is_kept(exchange, monkeypatch, count):
    rt = exchange.rt
    monkeypatch.setattr(rt, "settings", rt.settings.replace(raw_bundle_retention_days=0))
    member = exchange.member("lab-a")
    objects = [make_indicator(f"noraw{i}@evil.test") for i in range(count)]
    report = exchange.submit(member, *objects)
    row = exchange.session.get(Submission, report.id)
    assert row.success_count == count
    assert row.raw_ct is None and row.raw_expires_at is None


def test_raw_bundles_past_their_retention_are_dropped_by_the_next_submission(exchange):
    member = exchange.member("lab-a")
    old = exchange.submit(member, make_indicator("old@evil.test"))
    row = exchange.session.get(Submission, old.id)
    row.raw_expires_at = row.received_at  # as if its retention had run out
    exchange.session.flush()
    fresh = exchange.submit(member, make_indicator("fresh@evil.test"))
    exchange.session.expire_all()
    assert exchange.session.get(Submission, old.id).raw_ct is None
    assert exchange.session.get(Submission, fresh.id).raw_ct is not None
    # the status resource outlives the raw copy
    assert exchange.session.get(Submission, old.id).outcomes_ct is not None
