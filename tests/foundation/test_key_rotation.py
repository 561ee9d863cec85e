"""Data-key rotation re-encrypts every stored value without losing one, on both backends.

Rotation opens its own transactions, so these tests use a real database of their own rather
than the per-test rollback fixture.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from sharing import audit, migrate
from sharing.accounts import orgs, users
from sharing.cli import cli
from sharing.crypto.aead import key_id_of
from sharing.crypto.cipher import FieldCipher
from sharing.crypto.keyring import (
    KeyRingError,
    KeySource,
    generate_keyring,
    load_keyring_file,
    write_keyring_file,
)
from sharing.db import Database
from sharing.errors import NotFound
from sharing.keyrotation import ensure_key_records, rotate
from sharing.models.accounts import User
from sharing.models.audit import AuditEntry
from sharing.models.keyring import DataKeyRecord
from tests.conftest import fresh_database_url

ACTOR = audit.Actor("system:test")
EMAILS = [f"analyst{i}@lab{i % 3}.example" for i in range(7)]


class Deployment:
    def __init__(self, db: Database, key_file: Path) -> None:
        self.db = db
        self.key_file = key_file
        ring = generate_keyring()
        write_keyring_file(key_file, ring)
        self.source = KeySource(ring, key_file)
        self.cipher = FieldCipher(self.source)
        ensure_key_records(db, ring)

    def add_users(self, emails: list[str], cipher: FieldCipher | None = None) -> None:
        with self.db.transaction(write=True) as session:
            try:
                org = orgs.get_org(session, "aurora-labs")
            except NotFound:
                org = orgs.create_org(session, "aurora-labs", actor=ACTOR)
            for email in emails:
                users.create_user(
                    session,
                    cipher or self.cipher,
                    org,
                    email.split("@")[0] + "-" + email.split("@")[1].split(".")[0],
                    "correct horse battery staple",
                    email=email,
                    actor=ACTOR,
                )

    def blobs(self) -> dict[str, bytes]:
        with self.db.transaction() as session:
            return {
                u.id: u.email_ct for u in session.scalars(select(User)) if u.email_ct is not None
            }

    def emails(self, cipher: FieldCipher | None = None) -> dict[str, str]:
        with self.db.transaction() as session:
            return {
                u.username: users.user_email(cipher or self.cipher, u)
                for u in session.scalars(select(User))
            }

    def records(self) -> dict[str, DataKeyRecord]:
        with self.db.transaction() as session:
            return {r.key_id: r for r in session.scalars(select(DataKeyRecord))}


@pytest.fixture
def deployment(backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # Passwords play no part in rotation; skip argon2's deliberate slowness.
    monkeypatch.setattr(users, "hash_password", lambda password: "argon2-skipped")
    db = Database(fresh_database_url(backend, tmp_path, "rotation"))
    migrate.upgrade(db.engine)
    dep = Deployment(db, tmp_path / "instance" / "palisade-keys.json")
    dep.add_users(EMAILS)
    yield dep
    db.dispose()


def test_rotation_reencrypts_every_value_under_the_new_key(deployment: Deployment) -> None:
    before = deployment.emails()
    assert {key_id_of(b) for b in deployment.blobs().values()} == {"d1"}

    result = rotate(deployment.db, deployment.source, actor=ACTOR, grace_seconds=0)

    assert result.new_key_id == "d2"
    assert result.reencrypted == len(EMAILS)
    assert result.passes == 2  # the catch-up pass found nothing left
    blobs = deployment.blobs()
    assert len(blobs) == len(EMAILS)
    assert {key_id_of(b) for b in blobs.values()} == {"d2"}
    assert deployment.emails() == before


def test_values_written_under_the_old_key_still_decrypt_after_rotation(
    deployment: Deployment,
) -> None:
    old_blobs = deployment.blobs()
    plaintexts = {
        uid: deployment.cipher.decrypt_text(b, f"users.email:{uid}") for uid, b in old_blobs.items()
    }

    rotate(deployment.db, deployment.source, actor=ACTOR, grace_seconds=0)

    ring = deployment.source.current()
    assert ring.active_id == "d2" and set(ring.data_keys) == {"d1", "d2"}
    for uid, blob in old_blobs.items():
        assert key_id_of(blob) == "d1"
        assert deployment.cipher.decrypt_text(blob, f"users.email:{uid}") == plaintexts[uid]


def test_the_key_file_holds_both_keys_with_mode_0600(deployment: Deployment) -> None:
    original = load_keyring_file(deployment.key_file)

    rotate(deployment.db, deployment.source, actor=ACTOR, grace_seconds=0)

    assert deployment.key_file.stat().st_mode & 0o777 == 0o600
    on_disk = load_keyring_file(deployment.key_file)
    assert on_disk.active_id == "d2"
    assert set(on_disk.data_keys) == {"d1", "d2"}
    assert on_disk.data_keys["d1"] == original.data_keys["d1"]
    assert on_disk.blind_index_key == original.blind_index_key
    assert on_disk.secret_key == original.secret_key
    assert "d2" in on_disk.created
    # A worker that only has the file (fresh process) reads every rotated value.
    fresh = FieldCipher(KeySource(on_disk, deployment.key_file))
    assert sorted(deployment.emails(fresh).values()) == sorted(EMAILS)


def test_key_records_and_audit_entries_reflect_the_rotation(deployment: Deployment) -> None:
    rotate(deployment.db, deployment.source, actor=ACTOR, grace_seconds=0)

    records = deployment.records()
    assert records["d1"].status == "reading"
    assert records["d2"].status == "active"
    assert records["d2"].activated_at is not None
    assert records["d2"].rotation_started_at is not None
    assert records["d2"].rotation_finished_at is not None
    assert records["d2"].rows_reencrypted == len(EMAILS)
    with deployment.db.transaction() as session:
        entries = session.scalars(
            select(AuditEntry)
            .where(AuditEntry.action.like("keys.rotate.%"))
            .order_by(AuditEntry.id)
        ).all()
        assert [(e.action, e.target, e.actor) for e in entries] == [
            ("keys.rotate.start", "datakey:d2", "system:test"),
            ("keys.rotate.finish", "datakey:d2", "system:test"),
        ]
        assert json.loads(entries[1].details) == {"reencrypted": len(EMAILS), "passes": 2}
        assert audit.verify(session).ok


def test_a_second_rotation_moves_everything_to_a_third_key(deployment: Deployment) -> None:
    rotate(deployment.db, deployment.source, actor=ACTOR, grace_seconds=0)
    deployment.add_users(["late@lab9.example"])  # written under d2
    result = rotate(deployment.db, deployment.source, actor=ACTOR, grace_seconds=0)

    assert result.new_key_id == "d3"
    assert result.reencrypted == len(EMAILS) + 1
    assert {key_id_of(b) for b in deployment.blobs().values()} == {"d3"}
    assert set(load_keyring_file(deployment.key_file).data_keys) == {"d1", "d2", "d3"}
    statuses = {k: r.status for k, r in deployment.records().items()}
    assert statuses == {"d1": "reading", "d2": "reading", "d3": "active"}
    assert sorted(deployment.emails().values()) == sorted([*EMAILS, "late@lab9.example"])


def test_a_value_written_under_the_old_key_during_rotation_is_caught_up(
    deployment: Deployment,
) -> None:
    # A worker that has not yet re-read the key file keeps encrypting under d1.
    stale = FieldCipher(KeySource(load_keyring_file(deployment.key_file)))
    written = []

    def progress(_count: int) -> None:
        if not written:
            written.append(True)
            deployment.add_users(["straggler@lab7.example"], cipher=stale)

    result = rotate(
        deployment.db, deployment.source, actor=ACTOR, grace_seconds=0, batch_size=3,
        progress=progress,
    )  # fmt: skip

    assert written
    assert result.reencrypted == len(EMAILS) + 1
    assert {key_id_of(b) for b in deployment.blobs().values()} == {"d2"}
    assert "straggler@lab7.example" in deployment.emails().values()


def test_rotation_refuses_keys_that_live_only_in_the_environment(
    deployment: Deployment,
) -> None:
    env_only = KeySource(deployment.source.current())  # no file to write the new key to
    before = deployment.blobs()
    with pytest.raises(KeyRingError, match="PALISADE_DATA_KEYS"):
        rotate(deployment.db, env_only, actor=ACTOR, grace_seconds=0)
    assert deployment.blobs() == before
    assert set(deployment.records()) == {"d1"}


def test_keys_rotate_on_the_command_line(backend: str, tmp_path: Path) -> None:
    url = fresh_database_url(backend, tmp_path, "rotation_cli")
    env = {
        "PALISADE_INSTANCE": str(tmp_path / "instance"),
        "DATABASE_URL": url,
        "PALISADE_ENV": None,
        "PALISADE_DATA_KEYS": None,
        "PALISADE_KEY_FILE": None,
    }
    runner = CliRunner()

    def ok(*args: str) -> str:
        result = runner.invoke(cli, list(args), env=env)
        assert result.exit_code == 0, (result.stderr, result.exception)
        return result.stdout + result.stderr

    ok("db", "upgrade")
    ok("org", "create", "aurora-labs")
    for name in ("alice", "bob"):
        ok("user", "create", "--org", "aurora-labs", "--username", name,
           "--email", f"{name}@aurora.example")  # fmt: skip

    out = ok("keys", "rotate", "--grace-seconds", "0", "--batch-size", "1")
    assert "active data key is now d2; re-encrypted 2 values" in out

    status = json.loads(runner.invoke(cli, ["keys", "status"], env=env).stdout)
    assert status["active"] == "d2"
    by_id = {k["id"]: k for k in status["keys"]}
    assert by_id["d1"]["values"] == 0 and by_id["d1"]["status"] == "reading"
    assert by_id["d2"]["values"] == 2 and by_id["d2"]["status"] == "active"
    assert by_id["d2"]["rotation_finished_at"] is not None

    key_file = tmp_path / "instance" / "palisade-keys.json"
    assert key_file.stat().st_mode & 0o777 == 0o600
    ring = load_keyring_file(key_file)
    db = Database(url)
    try:
        with db.transaction() as session:
            emails = {
                u.username: users.user_email(FieldCipher(KeySource(ring)), u)
                for u in session.scalars(select(User))
            }
            assert audit.verify(session).ok
    finally:
        db.dispose()
    assert emails == {"alice": "alice@aurora.example", "bob": "bob@aurora.example"}
    assert "audit chain intact" in ok("audit", "verify")
