"""``palisade check`` passes on a healthy store and catches each kind of damage it promises to."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, select, update

from sharing.accounts import api_keys
from sharing.check import run_checks
from sharing.cli import cli
from sharing.ingest import submit_bundle
from sharing.models import AuditEntry, FeedEntry, Indicator, Report, Submission
from tests.conftest import fresh_database_url
from tests.live import LiveServer
from tests.stix_factories import body, make_bundle, make_indicator


@pytest.fixture
def store(backend: str, tmp_path: Path) -> Iterator[LiveServer]:
    server = LiveServer(fresh_database_url(backend, tmp_path, "palisade_check"), tmp_path / "inst")
    for lab in ("lab-a", "lab-b"):
        key = server.member(lab)
        with server.db.transaction() as session:
            principal = api_keys.authenticate(session, key, None)
        shared = [make_indicator(f"shared{i}@example.test") for i in range(5)]
        own = [make_indicator(f"{lab}{i}@example.test") for i in range(5)]
        submit_bundle(server.rt, principal, body(make_bundle(*shared, *own)))
    try:
        yield server
    finally:
        server.stop()


def _failed(server: LiveServer) -> set[str]:
    return {r.name for r in run_checks(server.rt).results if not r.ok}


def test_a_healthy_store_passes(store: LiveServer) -> None:
    report = run_checks(store.rt)
    assert report.ok, report.as_dict()
    details = {r.name: r.detail for r in report.results}
    assert details["blind-index uniqueness"].startswith("15 canonical")


def test_a_torn_ciphertext_is_found(store: LiveServer) -> None:
    with store.db.transaction(write=True) as session:
        first, blob = session.execute(select(Indicator.id, Indicator.value_ct).limit(1)).one()
        session.execute(
            # Flip the tag's last byte (writing a fixed byte left it intact 1 time in 256).
            update(Indicator)
            .where(Indicator.id == first)
            .values(value_ct=blob[:-1] + bytes([blob[-1] ^ 0xFF]))
        )
    assert _failed(store) == {"ciphertexts decrypt"}


def test_a_ciphertext_moved_to_another_row_is_found(store: LiveServer) -> None:
    with store.db.transaction(write=True) as session:
        rows = session.execute(select(Indicator.id, Indicator.value_ct).limit(2)).all()
        session.execute(
            update(Indicator).where(Indicator.id == rows[0][0]).values(value_ct=rows[1][1])
        )
    assert _failed(store) == {"ciphertexts decrypt"}


def test_a_gap_in_the_feed_log_is_found(store: LiveServer) -> None:
    with store.db.transaction(write=True) as session:
        session.execute(delete(FeedEntry).where(FeedEntry.seq == 3))
    assert "feed log gap-free" in _failed(store)


def test_a_feed_log_going_back_in_time_is_found(store: LiveServer) -> None:
    with store.db.transaction(write=True) as session:
        first = session.scalar(select(FeedEntry.changed_at).where(FeedEntry.seq == 1))
        last = session.scalar(select(func_max(FeedEntry.seq)))
        session.execute(update(FeedEntry).where(FeedEntry.seq == last).values(changed_at=first))
        session.execute(
            update(FeedEntry)
            .where(FeedEntry.seq == 1)
            .values(changed_at=first.replace(year=first.year + 1))
        )
    assert _failed(store) == {"feed log gap-free"}


def func_max(column):  # type: ignore[no-untyped-def]
    from sqlalchemy import func

    return func.max(column)


def test_a_changed_audit_row_is_found(store: LiveServer) -> None:
    with store.db.transaction(write=True) as session:
        session.execute(update(AuditEntry).where(AuditEntry.id == 2).values(target="forged"))
    assert _failed(store) == {"audit chain"}


def test_inconsistent_counts_are_found(store: LiveServer) -> None:
    with store.db.transaction(write=True) as session:
        session.execute(update(Submission).values(success_count=Submission.success_count + 1))
    assert _failed(store) == {"counts consistent"}
    with store.db.transaction(write=True) as session:
        session.execute(update(Submission).values(success_count=Submission.success_count - 1))
        victim = session.scalar(select(Report.indicator_id).limit(1))
        session.execute(delete(Report).where(Report.indicator_id == victim))
    assert _failed(store) == {"counts consistent"}


def test_the_command(store: LiveServer) -> None:
    env = {
        "DATABASE_URL": store.database_url,
        "PALISADE_INSTANCE": str(store.instance),
        "PALISADE_KEY_FILE": str(store.key_file),
    }
    ok = CliRunner().invoke(cli, ["check", "--json"], env=env)
    assert ok.exit_code == 0, ok.output
    assert '"ok": true' in ok.stdout
    with store.db.transaction(write=True) as session:
        session.execute(delete(FeedEntry).where(FeedEntry.seq == 2))
    bad = CliRunner().invoke(cli, ["check"], env=env)
    assert bad.exit_code == 1
    assert "FAIL feed log gap-free" in bad.stderr
