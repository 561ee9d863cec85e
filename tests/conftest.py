"""Shared fixtures: every database test runs once on SQLite and once on PostgreSQL.

The schema is built by the real migrations (``alembic upgrade head``) once per backend and test
session; each test then runs inside a transaction that is rolled back, so tests are isolated
without rebuilding anything. PostgreSQL comes from ``PALISADE_TEST_POSTGRES_URL`` (``.ci/run``
starts one); without it the PostgreSQL half is skipped with a message, unless
``PALISADE_REQUIRE_POSTGRES=1`` (CI), where a missing server is an error.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.engine import make_url

from sharing import create_app, migrate
from sharing.config import Settings
from sharing.crypto.cipher import FieldCipher
from sharing.crypto.keyring import KeySource, generate_keyring
from sharing.db import Database, make_engine
from sharing.runtime import Runtime

BACKENDS = ["sqlite", "postgresql"]


def _worker_suffix() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def _postgres_url() -> str | None:
    return os.environ.get("PALISADE_TEST_POSTGRES_URL")


def postgres_admin(*statements: str) -> list[Any]:
    """Run ``statements`` as the test server's superuser, outside any transaction; the first
    column of each one's first row (None when it returns none)."""
    admin_url = _postgres_url()
    assert admin_url
    admin = make_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            results = [conn.execute(text(statement)) for statement in statements]
            return [result.scalar() if result.returns_rows else None for result in results]
    finally:
        admin.dispose()


def create_postgres_database(name: str) -> str:
    """(Re)create database ``name`` on the test server and return its URL."""
    postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
    admin_url = _postgres_url()
    assert admin_url
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def fresh_database_url(backend: str, tmp_path: Path, name: str) -> str:
    """An empty database of ``backend`` for tests that need their own (live servers, CLI)."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / (name + '.db')}"
    require_postgres()
    return create_postgres_database(f"{name}_{_worker_suffix()}")


def require_postgres() -> None:
    if _postgres_url():
        return
    message = (
        "PostgreSQL tests need PALISADE_TEST_POSTGRES_URL "
        "(run `source .ci/postgres.sh` to start a local server)"
    )
    if os.environ.get("PALISADE_REQUIRE_POSTGRES") == "1":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgresql":
        require_postgres()
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def migrated_database(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    url = fresh_database_url(backend, tmp_path_factory.mktemp("db"), "palisade_test")
    database = Database(url)
    migrate.upgrade(database.engine)
    yield database
    database.dispose()


@pytest.fixture
def db(migrated_database: Database) -> Iterator[Database]:
    """The migrated database, inside a transaction rolled back after the test."""
    connection = migrated_database.engine.connect()
    outer = connection.begin()
    migrated_database.bind_to_connection(connection)
    try:
        yield migrated_database
    finally:
        migrated_database.unbind()
        outer.rollback()
        connection.close()


@pytest.fixture(scope="session")
def key_source() -> KeySource:
    return KeySource(generate_keyring())


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.from_env(environ={}, overrides={"instance_path": tmp_path / "instance"})


@pytest.fixture
def rt(settings: Settings, db: Database, key_source: KeySource) -> Runtime:
    return Runtime(settings, db, key_source, FieldCipher(key_source))


@pytest.fixture
def app(settings: Settings, db: Database, key_source: KeySource) -> Flask:
    return create_app(
        {"settings": settings, "database": db, "key_source": key_source, "TESTING": True}
    )


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def session(db: Database) -> Iterator[Any]:
    with db.transaction(write=True) as s:
        yield s


def pytest_report_header(config: pytest.Config) -> str:
    if _postgres_url():
        return f"PostgreSQL backend: {make_url(_postgres_url()).render_as_string()}"
    return (
        "PostgreSQL backend: not configured, its half of the suite is skipped "
        "(source .ci/postgres.sh to run it)"
    )


@pytest.fixture
def live(backend: str, tmp_path: Path) -> Iterator[Any]:
    """A real server on loopback over a fresh database of each backend (see tests/live.py)."""
    from tests.live import live_server

    url = fresh_database_url(backend, tmp_path, "palisade_live")
    with live_server(url, tmp_path / "live-instance") as server:
        yield server
