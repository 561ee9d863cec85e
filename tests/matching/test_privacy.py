"""The asker's privacy: a queried value is never stored or logged; the audit keeps only counts."""

from __future__ import annotations

import json
import logging

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from sharing.identifiers import hash_identifier, hash_prefixes, prompt_signature
from sharing.models import AuditEntry, Base
from tests.matching.conftest import Exchange
from tests.stix_factories import TEST_CONSORTIUM_KEY, make_indicator

K = TEST_CONSORTIUM_KEY


def _text(value: object) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return repr(value)


def _dump(exchange: Exchange) -> str:
    """Every row of every table, blobs as hex: what an operator with the database could read."""
    lines = []
    with exchange.rt.db.transaction() as session:
        for table in Base.metadata.sorted_tables:
            for row in session.execute(select(table)):
                lines.append(" ".join(_text(v) for v in row))
    return "\n".join(lines)


def test_queried_values_leave_no_trace_in_the_database_or_the_logs(
    exchange: Exchange, client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    alice, bob = exchange.member("alice"), exchange.member("bob")
    exchange.submit(alice, make_indicator("known@example.com"))
    canary = hash_identifier(K, "email", "canary-4711@example.com")
    canary_ip = hash_prefixes(K, "198.18.7.7")
    canary_prompt = "canary prompt about the secret weights of the frontier model"
    items = [
        {"kind": "email", "value": canary},
        {"kind": "ip", "prefixes": canary_ip},
        {
            "kind": "prompt",
            "value": hash_identifier(K, "prompt", canary_prompt),
            "minhash": prompt_signature(K, canary_prompt).encode(),
        },
        {"kind": "email", "value": hash_identifier(K, "email", "known@example.com")},
    ]
    caplog.set_level(logging.DEBUG)
    response = client.post("/api/v1/match", json={"items": items}, headers=bob.headers)
    assert response.status_code == 200 and response.json["matched_count"] == 1
    client.get(f"/api/v1/range/{canary.rsplit(':', 1)[1][:5]}", headers=bob.headers)

    secrets_asked = [canary, *canary_ip]
    needles = set()
    for value in secrets_asked:
        digest = value.rsplit(":", 1)[1]
        kind = "email" if value == canary else "ip"
        blind_index = exchange.rt.cipher.indicator_blind_index(kind, value)
        needles |= {value, digest, digest[5:], blind_index.hex()}
    needles.add(items[2]["minhash"][:40])
    dump = _dump(exchange)
    logs = caplog.text + "\n".join(str(r.__dict__) for r in caplog.records)
    for needle in needles:
        assert needle not in dump
        assert needle not in logs

    with exchange.rt.db.transaction() as session:
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "match").order_by(AuditEntry.id.desc())
        ).first()
    assert entry is not None and entry.actor.startswith("key:")
    assert entry.actor_org_id == bob.org.id
    assert json.loads(entry.details) == {"items": 4, "matched": 1}
