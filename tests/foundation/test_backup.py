"""Backups restore to identical rows, across backends, and restore never overwrites data."""

from __future__ import annotations

import base64
import io
import json
import tarfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from sharing import audit, migrate
from sharing.accounts import api_keys, orgs, users
from sharing.backup import restore_backup, write_backup
from sharing.cli import cli
from sharing.config import Settings
from sharing.crypto.cipher import FieldCipher
from sharing.crypto.keyring import KeySource, load_keyring_file
from sharing.db import Database
from sharing.errors import InvalidInput
from sharing.keyrotation import ensure_key_records
from sharing.models import Base
from sharing.models.accounts import Organization, User
from sharing.models.base import utcnow
from sharing.runtime import Runtime
from tests.conftest import fresh_database_url

ACTOR = audit.Actor("system:test")
EMAILS = {"alice": "alice@aurora.example", "bob": "bob@borealis.example"}


@pytest.fixture(autouse=True)
def _fast_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    # Password hashes are copied as opaque strings; argon2's cost adds nothing here.
    monkeypatch.setattr(users, "hash_password", lambda password: f"$argon2id$fake${len(password)}")


def build_runtime(url: str, instance: Path) -> Runtime:
    settings = Settings.from_env(
        environ={}, overrides={"instance_path": instance, "database_url": url}
    )
    return Runtime.build(settings, environ={}, create_keys=True)


def populate(rt: Runtime) -> None:
    migrate.upgrade(rt.db.engine)
    ensure_key_records(rt.db, rt.keys.current())
    with rt.db.transaction(write=True) as session:
        aurora = orgs.create_org(session, "aurora-labs", "Aurora Labs", actor=ACTOR)
        borealis = orgs.create_org(session, "borealis-ai", actor=ACTOR)
        users.create_user(
            session, rt.cipher, aurora, "alice", "x" * 12, email=EMAILS["alice"], actor=ACTOR
        )
        users.create_user(
            session, rt.cipher, borealis, "bob", "y" * 12, email=EMAILS["bob"], actor=ACTOR,
            role="org-admin",
        )  # fmt: skip
        users.create_user(session, rt.cipher, borealis, "carol", "z" * 12, actor=ACTOR)
        api_keys.create_key(
            session, aurora, name="pipeline", scopes="read,match", actor=ACTOR,
            expires_at=utcnow() + timedelta(days=30), allowed_ips=["203.0.113.0/24"],
        )  # fmt: skip
        _, revoked = api_keys.create_key(session, borealis, name="old", scopes="write", actor=ACTOR)
        api_keys.revoke_key(session, None, revoked.prefix, actor=ACTOR)
        group = orgs.create_group(session, "trust-circle", "TLP:RED peers", actor=ACTOR)
        orgs.add_group_member(session, group, aurora, actor=ACTOR)
        orgs.add_group_member(session, group, borealis, actor=ACTOR)


def dump(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every model table, in primary-key order."""
    out = {}
    with db.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            query = select(table).order_by(*table.primary_key.columns)
            out[table.name] = [tuple(row) for row in conn.execute(query)]
    return out


def emails_of(db: Database, cipher: FieldCipher) -> dict[str, str | None]:
    with db.transaction() as session:
        return {u.username: users.user_email(cipher, u) for u in session.scalars(select(User))}


PAIRS = [
    ("sqlite", "sqlite"),
    ("sqlite", "postgresql"),
    ("postgresql", "sqlite"),
    ("postgresql", "postgresql"),
]


@pytest.mark.parametrize(("source", "target"), PAIRS, ids=[f"{s}-to-{t}" for s, t in PAIRS])
def test_a_restore_into_an_empty_database_gives_identical_rows(
    source: str, target: str, tmp_path: Path
) -> None:
    src = build_runtime(fresh_database_url(source, tmp_path, "backup_src"), tmp_path / "src")
    dst_url = fresh_database_url(target, tmp_path, "backup_dst")
    try:
        populate(src)
        archive = tmp_path / "palisade.tar.gz"
        manifest = write_backup(src, archive)
        original = dump(src.db)
        assert manifest["tables"]["organizations"] == 2
        assert manifest["tables"]["audit_log"] == len(original["audit_log"]) > 0

        dst_settings = Settings.from_env(
            environ={}, overrides={"instance_path": tmp_path / "dst", "database_url": dst_url}
        )
        restore_backup(dst_settings, archive)

        dst_db = Database(dst_url)
        try:
            assert migrate.is_at_head(dst_db.engine)
            assert dump(dst_db) == original
            with dst_db.transaction() as session:
                verified = audit.verify(session)
            assert verified.ok and verified.checked == len(original["audit_log"])
            # The restored key file (0600) decrypts what the source encrypted.
            key_file = dst_settings.key_file
            assert key_file is not None and key_file.stat().st_mode & 0o777 == 0o600
            restored = FieldCipher(KeySource(load_keyring_file(key_file), key_file))
            assert emails_of(dst_db, restored) == {**EMAILS, "carol": None}
            # New rows get fresh ids after the restored ones (sequences moved on PostgreSQL).
            with dst_db.transaction(write=True) as session:
                new = orgs.create_org(session, "cirrus-research", actor=ACTOR)
                highest = max(row[0] for row in original["organizations"])
                assert new.id > highest
                audit.record(session, ACTOR, "test.after_restore")
            with dst_db.transaction() as session:
                assert audit.verify(session).ok
        finally:
            dst_db.dispose()
    finally:
        src.db.dispose()


# --- through the CLI -------------------------------------------------------------------------


class Instance:
    def __init__(self, url: str, path: Path) -> None:
        self.url = url
        self.path = path
        self.env = {
            "PALISADE_INSTANCE": str(path),
            "DATABASE_URL": url,
            "PALISADE_ENV": None,
            "PALISADE_DATA_KEYS": None,
            "PALISADE_KEY_FILE": None,
        }

    @property
    def key_file(self) -> Path:
        return self.path / "palisade-keys.json"

    def run(self, *args: str) -> Result:
        return CliRunner().invoke(cli, list(args), env=self.env)

    def ok(self, *args: str) -> Result:
        result = self.run(*args)
        assert result.exit_code == 0, (result.stderr, result.exception)
        return result


@pytest.fixture
def source(backend: str, tmp_path: Path) -> Instance:
    inst = Instance(fresh_database_url(backend, tmp_path, "backup_cli_src"), tmp_path / "src")
    inst.ok("db", "upgrade")
    inst.ok("org", "create", "aurora-labs")
    inst.ok("user", "create", "--org", "aurora-labs", "--username", "alice",
            "--email", EMAILS["alice"])  # fmt: skip
    return inst


@pytest.fixture
def target(backend: str, tmp_path: Path) -> Instance:
    return Instance(fresh_database_url(backend, tmp_path, "backup_cli_dst"), tmp_path / "dst")


def _members(archive: Path) -> set[str]:
    with tarfile.open(archive, "r:gz") as tar:
        return set(tar.getnames())


def test_cli_backup_and_restore_round_trip(source: Instance, target: Instance, tmp_path: Path):
    archive = tmp_path / "out.tar.gz"
    result = source.ok("backup", str(archive))
    assert "backup written to" in result.stderr and result.stdout == ""
    assert archive.stat().st_mode & 0o777 == 0o600
    assert "keys.json" in _members(archive)

    restored = target.ok("restore", str(archive))
    assert "restored" in restored.stderr
    assert target.key_file.read_text() == source.key_file.read_text()
    head = source.ok("audit", "verify").stdout
    assert target.ok("audit", "verify").stdout == head


def test_a_backup_over_an_existing_file_is_still_mode_0600(source: Instance, tmp_path: Path):
    archive = tmp_path / "out.tar.gz"
    archive.write_bytes(b"old")
    archive.chmod(0o644)
    source.ok("backup", str(archive))
    assert archive.stat().st_mode & 0o777 == 0o600
    assert "manifest.json" in _members(archive)


def test_without_keys_leaves_the_key_file_out(
    source: Instance, target: Instance, tmp_path: Path
) -> None:
    archive = tmp_path / "nokeys.tar.gz"
    source.ok("backup", "--without-keys", str(archive))
    names = _members(archive)
    assert "keys.json" not in names and "manifest.json" in names
    with tarfile.open(archive, "r:gz") as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
        blobs = b"".join(
            tar.extractfile(m).read()  # type: ignore[union-attr]
            for m in tar.getmembers()
            if m.isfile()
        )
    assert manifest["includes_keys"] is False
    secret = load_keyring_file(source.key_file).data_keys["d1"]
    assert base64.b64encode(secret) not in blobs

    # The rows restore; the keys must be brought separately.
    target.ok("restore", str(archive))
    assert not target.key_file.exists()
    db = Database(target.url)
    try:
        with db.transaction() as session:
            assert session.scalar(select(User.username)) == "alice"
    finally:
        db.dispose()


def test_restore_into_a_database_with_data_refuses_and_changes_nothing(
    source: Instance, target: Instance, tmp_path: Path
) -> None:
    archive = tmp_path / "out.tar.gz"
    source.ok("backup", str(archive))
    target.ok("db", "upgrade")
    target.ok("org", "create", "someone-else")
    key_before = target.key_file.read_bytes()
    db = Database(target.url)
    try:
        before = dump(db)
        result = target.run("restore", str(archive))
        assert result.exit_code == 4
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ")
        assert "already holds data" in lines[0]
        assert dump(db) == before
        assert target.key_file.read_bytes() == key_before
        with db.transaction() as session:
            assert session.scalars(select(Organization.name)).all() == ["someone-else"]
    finally:
        db.dispose()


def test_restore_refuses_to_replace_a_different_key_file(
    source: Instance, target: Instance, tmp_path: Path
) -> None:
    archive = tmp_path / "out.tar.gz"
    source.ok("backup", str(archive))
    target.ok("keys", "init")  # an empty database, but keys of its own
    key_before = target.key_file.read_bytes()
    result = target.run("restore", str(archive))
    assert result.exit_code == 4
    assert "differs from the backup" in result.stderr
    assert target.key_file.read_bytes() == key_before


def test_a_garbage_file_is_a_clear_error_exit_2(target: Instance, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.tar.gz"
    garbage.write_bytes(b"this is not a backup\x00\xff" * 10)
    result = target.run("restore", str(garbage))
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "is not a Palisade backup" in lines[0]


def test_a_truncated_backup_exits_2(source: Instance, target: Instance, tmp_path: Path):
    archive = tmp_path / "out.tar.gz"
    source.ok("backup", str(archive))
    data = archive.read_bytes()
    archive.write_bytes(data[: len(data) // 2])
    result = target.run("restore", str(archive))
    assert result.exit_code == 2, (result.stderr, result.exception)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")


def _tar_with(path: Path, files: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"hello.txt": b"hi"}, "missing manifest.json"),
        ({"manifest.json": b"{not json"}, "manifest"),
        ({"manifest.json": b'{"format": "something-else/9"}'}, "palisade-backup/1"),
    ],
    ids=["no-manifest", "manifest-not-json", "wrong-format"],
)
def test_a_tarball_that_is_not_a_palisade_backup_exits_2(
    target: Instance, tmp_path: Path, files: dict[str, bytes], message: str
) -> None:
    archive = tmp_path / "other.tar.gz"
    _tar_with(archive, files)
    result = target.run("restore", str(archive))
    assert result.exit_code == 2, (result.stderr, result.exception)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]


def test_restore_backup_raises_invalid_input_for_garbage(tmp_path: Path) -> None:
    garbage = tmp_path / "x.tar.gz"
    garbage.write_bytes(b"\x1f\x8b garbage")
    settings = Settings.from_env(environ={}, overrides={"instance_path": tmp_path / "i"})
    with pytest.raises(InvalidInput):
        restore_backup(settings, garbage)
    assert not (tmp_path / "i" / "palisade.db").exists()
