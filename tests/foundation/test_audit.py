"""The hash-chained audit log detects changed and deleted rows."""

from __future__ import annotations

import itertools

from sqlalchemy import delete, update

from sharing import audit
from sharing.models.audit import AuditEntry


def _append(session, n):
    for i in range(n):
        audit.record(session, audit.Actor("cli"), "test.act", f"thing:{i}", {"n": i})


def test_an_untouched_chain_verifies(db):
    with db.transaction(write=True) as s:
        _append(s, 5)
    with db.transaction() as s:
        result = audit.verify(s)
    assert result.ok and result.checked >= 5 and len(result.head_hash) == 64


def test_each_entry_links_to_the_previous_one(db):
    with db.transaction(write=True) as s:
        _append(s, 3)
        rows = s.query(AuditEntry).order_by(AuditEntry.id).all()
    assert rows[0].prev_hash == audit.GENESIS_HASH or rows[0].id > 1
    for before, after in itertools.pairwise(rows):
        assert after.prev_hash == before.row_hash
        assert after.id == before.id + 1


def test_a_modified_row_breaks_verification_at_that_row(db):
    with db.transaction(write=True) as s:
        _append(s, 5)
        target = s.query(AuditEntry).order_by(AuditEntry.id).all()[2].id
        s.execute(update(AuditEntry).where(AuditEntry.id == target).values(details='{"n":99}'))
    with db.transaction() as s:
        result = audit.verify(s)
    assert not result.ok
    assert result.broken_at == target
    assert "modified" in (result.reason or "")


def test_a_deleted_row_breaks_verification(db):
    with db.transaction(write=True) as s:
        _append(s, 5)
        target = s.query(AuditEntry).order_by(AuditEntry.id).all()[2].id
        s.execute(delete(AuditEntry).where(AuditEntry.id == target))
    with db.transaction() as s:
        result = audit.verify(s)
    assert not result.ok
    assert result.broken_at == target
    assert "missing" in (result.reason or "")


def test_a_row_rewritten_with_a_recomputed_hash_still_breaks_the_next_link(db):
    with db.transaction(write=True) as s:
        _append(s, 4)
        rows = s.query(AuditEntry).order_by(AuditEntry.id).all()
        victim = rows[1]
        victim.details = '{"n":"forged"}'
        victim.row_hash = audit.compute_hash(victim.prev_hash, victim)
        s.flush()
    with db.transaction() as s:
        result = audit.verify(s)
    assert not result.ok
    assert result.broken_at == rows[2].id


def test_the_first_entry_of_an_empty_log_starts_from_the_genesis_hash(db):
    with db.transaction(write=True) as s:
        s.execute(delete(AuditEntry))
        first = audit.record(s, audit.Actor("key:abc", None), "match", "org:1", {"items": 1})
        second = audit.record(s, audit.CLI, "test.act", "thing:é", {"n": "ü"})
        stored = {row.id: row for row in s.query(AuditEntry).all()}
    assert (first.id, first.prev_hash) == (1, audit.GENESIS_HASH)
    assert (second.id, second.prev_hash) == (2, first.row_hash)
    # The hash PostgreSQL computes in the INSERT is the one the verifier recomputes in Python.
    for entry in (first, second):
        assert stored[entry.id].row_hash == entry.row_hash
        assert audit.compute_hash(entry.prev_hash, stored[entry.id]) == entry.row_hash
    with db.transaction() as s:
        assert audit.verify(s).ok
