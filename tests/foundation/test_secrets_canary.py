"""Secrets never leak: plant canaries through the CLI and the HTTP API, then search everywhere.

A canary is a value that must never be written down in the clear: a user's password, an API
key's plaintext (and its secret half), a user's e-mail, the server's key material, and the wrong
passwords and bad keys that failed attempts present. After exercising the real entry points we
search the logs (every logger at DEBUG), the CLI's stderr, the audit details, HTTP error bodies
and a dump of every column of every table.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import MetaData, select

from sharing import create_app
from sharing.accounts import api_keys, users
from sharing.cli import cli
from sharing.config import Settings
from sharing.crypto.keyring import KeySource, load_keyring_file
from sharing.db import Database
from sharing.errors import Unauthenticated
from sharing.models.audit import AuditEntry
from tests.conftest import fresh_database_url


def _canary(label: str) -> str:
    return f"CANARY{label}{secrets.token_hex(8)}"


def _dump_every_table(db: Database) -> str:
    """Every column of every table in the database (not just the models'), as text."""
    metadata = MetaData()
    metadata.reflect(db.engine)
    parts = []
    with db.engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in conn.execute(select(table)):
                for value in row:
                    if isinstance(value, bytes | bytearray | memoryview):
                        parts.append(bytes(value).decode("latin-1"))
                    else:
                        parts.append(str(value))
    return "\n".join(parts)


def _secret_forms(raw: bytes) -> list[str]:
    return [base64.b64encode(raw).decode(), raw.hex(), raw.decode("latin-1")]


def test_no_secret_appears_in_logs_stderr_audit_or_any_table(
    backend: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Statements and their parameters too (what an operator sees with echo on): no secret is
    # ever sent to the database in the clear. (set_level also sets the capture handler's level,
    # so the DEBUG calls come last.)
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")
    caplog.set_level(logging.DEBUG, logger="sharing")
    caplog.set_level(logging.DEBUG)  # root: every other logger
    instance = tmp_path / "instance"
    url = fresh_database_url(backend, tmp_path, "leakcheck")
    env = {
        "PALISADE_INSTANCE": str(instance),
        "DATABASE_URL": url,
        "PALISADE_ENV": None,
        "PALISADE_DATA_KEYS": None,
        "PALISADE_KEY_FILE": None,
    }
    runner = CliRunner()
    stderr: list[str] = []

    def run(*args: str, input: str | None = None, code: int = 0) -> Result:
        result = runner.invoke(cli, list(args), env=env, input=input)
        stderr.append(result.stderr)
        assert result.exit_code == code, (result.stderr, result.exception)
        return result

    password = _canary("pw")
    email = f"{_canary('mail').lower()}@lab.example"
    wrong_password = _canary("wrongpw")
    run("db", "upgrade")
    run("org", "create", "aurora-labs")
    run("user", "create", "--org", "aurora-labs", "--username", "alice", "--email", email,
        "--password-stdin", input=password + "\n")  # fmt: skip
    generated = run("user", "create", "--org", "aurora-labs", "--username", "bob").stdout.strip()
    # Failing CLI commands that carry a secret must not echo it either.
    run("user", "create", "--org", "aurora-labs", "--username", "alice", "--password-stdin",
        input=_canary("dup") + "\n", code=4)  # fmt: skip
    key = json.loads(
        run("key", "create", "--org", "aurora-labs", "--scopes", "read,match", "--json").stdout
    )["key"]
    parts = api_keys.split_key(key)
    assert parts is not None
    key_prefix, key_secret = parts  # the secret may itself contain "_"

    ring = load_keyring_file(instance / "palisade-keys.json")
    db = Database(url)
    try:
        # Failed logins, with a wrong password for a real user and for an unknown one.
        for username in ("alice", "nobody"):
            with db.transaction(write=True) as session, pytest.raises(Unauthenticated):
                users.check_password(session, username, wrong_password)
        with db.transaction(write=True) as session:
            users.check_password(session, "alice", password)

        # The HTTP API, with the good key and with bad ones that carry canaries.
        settings = Settings.from_env(environ={}, overrides={"instance_path": instance})
        app = create_app(
            {
                "settings": settings,
                "database": db,
                "key_source": KeySource(ring, instance / "palisade-keys.json"),
                "TESTING": True,
            }
        )
        client = app.test_client()
        good = client.get("/api/v1/whoami", headers={"Authorization": f"Bearer {key}"})
        assert good.status_code == 200
        assert key not in good.get_data(as_text=True)
        bad_key = f"pal_{key_prefix}_{_canary('badkey')}"  # a real prefix, wrong secret
        other_bad = f"pal_zzzzzzzzzz_{_canary('unknownkey')}"
        bodies = []
        for header in (
            f"Bearer {bad_key}",
            f"Token {other_bad}",
            "Basic " + base64.b64encode(f"x:{_canary('basic')}".encode()).decode(),
            f"Bearer {_canary('garbage')}",
        ):
            response = client.get("/api/v1/whoami", headers={"Authorization": header})
            assert response.status_code == 401
            bodies.append(response.get_data(as_text=True) + str(response.headers))

        table_dump = _dump_every_table(db)
        with db.transaction() as session:
            audit_details = "\n".join(
                f"{e.actor} {e.action} {e.target} {e.details}"
                for e in session.scalars(select(AuditEntry))
            )
    finally:
        db.dispose()

    canaries = {
        "password": password,
        "generated password": generated,
        "wrong password": wrong_password,
        "email": email,
        "api key": key,
        "api key secret": key_secret,
        "bad api key": bad_key,
        "unknown api key": other_bad,
    }
    for key_id, raw in ring.data_keys.items():
        for i, form in enumerate(_secret_forms(raw)):
            canaries[f"data key {key_id} ({i})"] = form
    for name, raw in (("blind index key", ring.blind_index_key), ("secret key", ring.secret_key)):
        for i, form in enumerate(_secret_forms(raw)):
            canaries[f"{name} ({i})"] = form
    # Every planted canary string ("CANARY...") too, whatever it was used for.
    haystacks = {
        "logs": "\n".join(f"{r.name} {r.getMessage()} {r.args!r}" for r in caplog.records),
        "cli stderr": "\n".join(stderr),
        "audit log": audit_details,
        "database": table_dump,
        "http errors": "\n".join(bodies),
    }
    assert "alice" in haystacks["database"]  # the dump does see the data
    assert "user.login_failed" in haystacks["audit log"]
    for where, text in haystacks.items():
        assert "CANARY" not in text.upper(), f"a canary leaked into the {where}"
        for what, canary in canaries.items():
            assert canary not in text, f"the {what} leaked into the {where}"
