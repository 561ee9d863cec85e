"""The operator CLI: exit codes, stderr for people, stdout for machines, on both backends."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select, text

from sharing import audit, migrate
from sharing.accounts import api_keys, users
from sharing.cli import cli
from sharing.db import Database
from sharing.errors import Unauthenticated
from sharing.models.accounts import SharingGroup, SharingGroupMember, User
from tests.conftest import fresh_database_url

# Variables that would change what the CLI does if the developer's shell happened to set them.
_CLEARED = {
    name: None
    for name in (
        "PALISADE_ENV",
        "PALISADE_DATA_KEYS",
        "PALISADE_ACTIVE_DATA_KEY",
        "PALISADE_BLIND_INDEX_KEY",
        "PALISADE_KEY_FILE",
        "PALISADE_SECRET_KEY",
    )
}


class Instance:
    """One instance folder and database, driven through the CLI in-process."""

    def __init__(self, url: str, path: Path) -> None:
        self.url = url
        self.path = path
        self.env: dict[str, str | None] = {
            **_CLEARED,
            "PALISADE_INSTANCE": str(path),
            "DATABASE_URL": url,
        }
        self.runner = CliRunner()
        self._db: Database | None = None

    def run(self, *args: str, input: str | None = None) -> Result:
        return self.runner.invoke(cli, list(args), env=self.env, input=input)

    def ok(self, *args: str, input: str | None = None) -> Result:
        result = self.run(*args, input=input)
        assert result.exit_code == 0, (result.exit_code, result.stderr, result.exception)
        return result

    @property
    def db(self) -> Database:
        if self._db is None:
            self._db = Database(self.url)
        return self._db

    def close(self) -> None:
        if self._db is not None:
            self._db.dispose()


@pytest.fixture
def instance(backend: str, tmp_path: Path):
    inst = Instance(fresh_database_url(backend, tmp_path, "cli"), tmp_path / "instance")
    yield inst
    inst.close()


@pytest.fixture
def upgraded(instance: Instance) -> Instance:
    instance.ok("db", "upgrade")
    return instance


def _one_error_line(result: Result) -> str:
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def test_db_upgrade_brings_an_empty_database_to_head(instance: Instance) -> None:
    result = instance.ok("db", "upgrade")
    assert migrate.is_at_head(instance.db.engine)
    assert f"database at revision {migrate.head_revision()}" in result.stderr
    assert result.stdout == ""
    key_file = instance.path / "palisade-keys.json"
    assert key_file.stat().st_mode & 0o777 == 0o600


def test_db_current_prints_the_revision_on_stdout(upgraded: Instance) -> None:
    assert upgraded.ok("db", "current").stdout.strip() == migrate.head_revision()


def test_org_create_reports_on_stderr_and_prints_nothing_on_stdout(upgraded: Instance) -> None:
    result = upgraded.ok("org", "create", "aurora-labs", "--display-name", "Aurora Labs")
    assert "created organization 'aurora-labs'" in result.stderr
    assert result.stdout == ""
    listed = json.loads(upgraded.ok("org", "list").stdout)
    assert listed == [{"name": "aurora-labs", "display_name": "Aurora Labs", "active": True}]


def test_creating_an_existing_org_exits_4_with_one_error_line(upgraded: Instance) -> None:
    upgraded.ok("org", "create", "aurora-labs")
    result = upgraded.run("org", "create", "aurora-labs")
    assert result.exit_code == 4
    assert "already exists" in _one_error_line(result)
    assert result.stdout == ""


def test_an_invalid_org_name_exits_2(upgraded: Instance) -> None:
    result = upgraded.run("org", "create", "Aurora Labs!")
    assert result.exit_code == 2
    assert "organization name" in _one_error_line(result)
    assert json.loads(upgraded.ok("org", "list").stdout) == []


def test_user_create_prints_a_generated_password_that_logs_in(upgraded: Instance) -> None:
    upgraded.ok("org", "create", "aurora-labs")
    result = upgraded.ok("user", "create", "--org", "aurora-labs", "--username", "alice")
    password = result.stdout.strip()
    assert result.stdout == password + "\n" and len(password) >= 20
    assert "created user 'alice'" in result.stderr and password not in result.stderr
    with upgraded.db.transaction(write=True) as session:
        user = users.check_password(session, "alice", password)
        assert user.role == "member"


def test_user_create_reads_the_password_from_stdin(upgraded: Instance) -> None:
    upgraded.ok("org", "create", "aurora-labs")
    password = "a long stdin password 42"
    result = upgraded.ok(
        "user",
        "create",
        "--org",
        "aurora-labs",
        "--username",
        "bob",
        "--role",
        "org-admin",
        "--email",
        "bob@aurora.example",
        "--password-stdin",
        input=password + "\n",
    )
    assert result.stdout == ""
    with upgraded.db.transaction(write=True) as session:
        user = users.check_password(session, "bob", password)
        assert user.role == "org-admin"
        assert user.email_ct is not None and b"bob@aurora" not in user.email_ct


def test_user_create_with_a_too_short_stdin_password_exits_2(upgraded: Instance) -> None:
    upgraded.ok("org", "create", "aurora-labs")
    result = upgraded.run(
        "user", "create", "--org", "aurora-labs", "--username", "bob", "--password-stdin",
        input="short\n",
    )  # fmt: skip
    assert result.exit_code == 2
    assert "at least" in _one_error_line(result)


def test_user_create_in_an_unknown_org_exits_3(upgraded: Instance) -> None:
    result = upgraded.run("user", "create", "--org", "nowhere", "--username", "alice")
    assert result.exit_code == 3
    assert "nowhere" in _one_error_line(result)
    assert result.stdout == ""  # no password printed for a user that was not created
    with upgraded.db.transaction() as session:
        assert session.scalar(select(User).where(User.username == "alice")) is None


def test_user_create_with_an_unknown_role_is_a_usage_error(upgraded: Instance) -> None:
    upgraded.ok("org", "create", "aurora-labs")
    result = upgraded.run(
        "user", "create", "--org", "aurora-labs", "--username", "alice", "--role", "god"
    )
    assert result.exit_code == 2
    assert "--role" in result.stderr
    assert result.stdout == ""


def test_key_create_json_prints_a_key_that_authenticates(upgraded: Instance) -> None:
    upgraded.ok("org", "create", "aurora-labs")
    result = upgraded.ok(
        "key", "create", "--org", "aurora-labs", "--scopes", "read,match", "--json"
    )
    info = json.loads(result.stdout)
    assert info["key"].startswith("pal_" + info["prefix"] + "_")
    assert info["scopes"] == ["read", "match"]
    assert info["org"] == "aurora-labs" and info["expires_at"] is None
    assert info["key"] not in result.stderr
    with upgraded.db.transaction() as session:
        principal = api_keys.authenticate(session, info["key"], "203.0.113.9")
    assert principal.org_name == "aurora-labs"
    assert principal.scopes == frozenset({"read", "match"})


def test_key_create_without_json_prints_only_the_key_on_stdout(upgraded: Instance) -> None:
    upgraded.ok("org", "create", "aurora-labs")
    result = upgraded.ok("key", "create", "--org", "aurora-labs", "--scopes", "write")
    assert re.fullmatch(r"pal_[a-z0-9]{10}_\S+\n", result.stdout)
    assert "shown once" in result.stderr


def test_key_create_with_an_unknown_scope_exits_2(upgraded: Instance) -> None:
    upgraded.ok("org", "create", "aurora-labs")
    result = upgraded.run("key", "create", "--org", "aurora-labs", "--scopes", "read,admin")
    assert result.exit_code == 2
    assert "admin" in _one_error_line(result)
    assert result.stdout == ""


def test_key_create_for_an_unknown_org_exits_3(upgraded: Instance) -> None:
    result = upgraded.run("key", "create", "--org", "nowhere", "--scopes", "read", "--json")
    assert result.exit_code == 3
    assert "nowhere" in _one_error_line(result)
    assert result.stdout == ""


def test_a_revoked_key_no_longer_authenticates(upgraded: Instance) -> None:
    upgraded.ok("org", "create", "aurora-labs")
    info = json.loads(
        upgraded.ok("key", "create", "--org", "aurora-labs", "--scopes", "read", "--json").stdout
    )
    result = upgraded.ok("key", "revoke", info["prefix"])
    assert f"revoked API key {info['prefix']}" in result.stderr
    with upgraded.db.transaction() as session, pytest.raises(Unauthenticated):
        api_keys.authenticate(session, info["key"], None)
    listed = json.loads(upgraded.ok("key", "list", "--org", "aurora-labs").stdout)
    assert [k["prefix"] for k in listed] == [info["prefix"]]
    assert listed[0]["revoked_at"] is not None


def test_revoking_an_unknown_prefix_exits_3(upgraded: Instance) -> None:
    result = upgraded.run("key", "revoke", "zzzzzzzzzz")
    assert result.exit_code == 3
    assert "zzzzzzzzzz" in _one_error_line(result)


def test_group_create_and_add_record_the_membership(upgraded: Instance) -> None:
    upgraded.ok("org", "create", "aurora-labs")
    upgraded.ok("org", "create", "borealis-ai")
    upgraded.ok("group", "create", "trust-circle", "--description", "red sharing")
    result = upgraded.ok(
        "group", "add", "trust-circle", "--org", "aurora-labs", "--org", "borealis-ai"
    )
    assert "aurora-labs, borealis-ai" in result.stderr
    with upgraded.db.transaction() as session:
        group = session.scalar(select(SharingGroup).where(SharingGroup.name == "trust-circle"))
        assert group is not None and group.description == "red sharing"
        members = session.scalars(
            select(SharingGroupMember).where(SharingGroupMember.group_id == group.id)
        ).all()
        assert sorted(m.org.name for m in members) == ["aurora-labs", "borealis-ai"]


def test_group_errors_map_to_exit_codes(upgraded: Instance) -> None:
    upgraded.ok("org", "create", "aurora-labs")
    upgraded.ok("group", "create", "trust-circle")
    assert upgraded.run("group", "create", "trust-circle").exit_code == 4
    assert upgraded.run("group", "add", "nope", "--org", "aurora-labs").exit_code == 3
    missing_org = upgraded.run("group", "add", "trust-circle", "--org", "nowhere")
    assert missing_org.exit_code == 3
    assert "nowhere" in _one_error_line(missing_org)


def test_audit_verify_prints_the_head_hash_of_an_intact_chain(upgraded: Instance) -> None:
    upgraded.ok("org", "create", "aurora-labs")
    upgraded.ok("group", "create", "trust-circle")
    result = upgraded.ok("audit", "verify")
    head = result.stdout.strip()
    assert re.fullmatch(r"[0-9a-f]{64}", head)
    assert "audit chain intact: 2 entries" in result.stderr
    with upgraded.db.transaction() as session:
        assert audit.verify(session).head_hash == head


def test_audit_verify_exits_1_naming_a_tampered_entry(upgraded: Instance) -> None:
    for name in ("aurora-labs", "borealis-ai", "cirrus-research"):
        upgraded.ok("org", "create", name)
    with upgraded.db.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET target = 'org:forged' WHERE id = 2"))
    result = upgraded.run("audit", "verify")
    assert result.exit_code == 1
    assert "entry 2" in _one_error_line(result)
    assert result.stdout == ""


def test_keys_status_reports_the_active_key_and_what_it_protects(upgraded: Instance) -> None:
    upgraded.ok("org", "create", "aurora-labs")
    upgraded.ok(
        "user", "create", "--org", "aurora-labs", "--username", "alice",
        "--email", "alice@aurora.example",
    )  # fmt: skip
    status = json.loads(upgraded.ok("keys", "status").stdout)
    assert status["active"] == "d1"
    assert status["keys"] == [
        {
            "id": "d1",
            "active": True,
            "values": 1,
            "status": "active",
            "rotation_finished_at": None,
            "rows_reencrypted": 0,
        }
    ]
    assert status["unknown_key_values"] == {}


def test_keys_init_refuses_to_overwrite_an_existing_key_file(upgraded: Instance) -> None:
    key_file = upgraded.path / "palisade-keys.json"
    before = key_file.read_bytes()
    result = upgraded.run("keys", "init")
    assert result.exit_code == 5
    assert "already exists" in _one_error_line(result)
    assert key_file.read_bytes() == before


def test_the_installed_console_script_creates_an_org_and_a_key(
    upgraded: Instance, tmp_path: Path
) -> None:
    script = shutil.which("palisade") or str(Path(sys.executable).with_name("palisade"))
    assert Path(script).exists(), "the palisade console script is not installed (pip install -e .)"
    env = {k: v for k, v in os.environ.items() if k not in _CLEARED}
    env.update({k: v for k, v in upgraded.env.items() if v is not None})

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [script, *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
        )

    created = run("org", "create", "aurora-labs")
    assert created.returncode == 0, created.stderr
    assert "created organization 'aurora-labs'" in created.stderr
    keyed = run("key", "create", "--org", "aurora-labs", "--scopes", "read,write,match", "--json")
    assert keyed.returncode == 0, keyed.stderr
    info = json.loads(keyed.stdout)
    with upgraded.db.transaction() as session:
        principal = api_keys.authenticate(session, info["key"], None)
    assert principal.org_name == "aurora-labs"


def test_a_command_on_a_database_never_upgraded_says_to_run_db_upgrade(
    instance: Instance,
) -> None:
    result = instance.run("org", "create", "aurora-labs")
    assert result.exit_code == 6
    line = _one_error_line(result)
    assert "palisade db upgrade" in line and "no revision" in line


def test_an_unreachable_database_is_one_error_line_and_exit_6(tmp_path: Path) -> None:
    env = {
        **_CLEARED,
        "PALISADE_INSTANCE": str(tmp_path / "instance"),
        "DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:1/nowhere?connect_timeout=2",
    }
    result = CliRunner().invoke(cli, ["org", "create", "aurora-labs"], env=env)
    assert result.exit_code == 6
    assert "database unavailable" in _one_error_line(result)
