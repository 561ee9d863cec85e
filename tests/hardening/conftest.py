"""Hardening fixtures: an in-process exchange whose app settings a test chooses, plus members.

``redis_url`` is a real ``redis-server`` (the Debian package) on a free loopback port, one per
test session and xdist worker, emptied before each test. Without the binary the Redis tests are
skipped with a message, unless ``PALISADE_REQUIRE_REDIS=1`` (CI, like PostgreSQL), where that is
a failure.

Long variants are marked ``@pytest.mark.slow`` and skipped unless asked for (``-m slow`` or
``PALISADE_SLOW=1``), so the CI part of tests/hardening stays within a few minutes; see
docs/OPERATIONS.md ("Proving it") for the long runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from sharing import create_app
from sharing.accounts import consortium
from sharing.config import Settings
from sharing.crypto.keyring import KeySource
from sharing.db import Database
from tests.factories import TEST_ACTOR, make_api_key, make_org
from tests.live import free_port
from tests.stix_factories import TEST_CONSORTIUM_KEY

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    markexpr = config.getoption("-m") or ""
    if "slow" in markexpr or os.environ.get("PALISADE_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="long variant: run with -m slow or PALISADE_SLOW=1")
    for item in items:
        if item.get_closest_marker("slow") and HERE in Path(str(item.fspath)).parents:
            item.add_marker(skip)


@dataclass
class Member:
    name: str
    org_id: int
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


class Exchange:
    """Members and keys in the per-test (rolled back) database."""

    def __init__(self, db: Database) -> None:
        self.db = db
        with db.transaction(write=True) as session:
            consortium.register(session, TEST_CONSORTIUM_KEY.key_id, actor=TEST_ACTOR)

    def member(self, name: str, scopes: str = "read,write,match", **kwargs: Any) -> Member:
        with self.db.transaction(write=True) as session:
            org = make_org(session, name)
            key, _ = make_api_key(session, org, scopes=scopes, **kwargs)
            return Member(name, org.id, key)

    def key_for(self, member: Member, scopes: str = "read,write,match", **kwargs: Any) -> str:
        from sharing.accounts import orgs

        with self.db.transaction(write=True) as session:
            org = orgs.get_org(session, member.name)
            key, _ = make_api_key(session, org, scopes=scopes, **kwargs)
            return key


@pytest.fixture
def exchange(db: Database) -> Exchange:
    return Exchange(db)


@pytest.fixture
def make_app(db: Database, key_source: KeySource, tmp_path: Path) -> Callable[..., Flask]:
    """Build an app over the test database with Settings overrides (``ratelimit_match=...``)."""

    def build(**overrides: Any) -> Flask:
        settings = Settings.from_env(
            environ={}, overrides={"instance_path": tmp_path / "instance", **overrides}
        )
        return create_app(
            {"settings": settings, "database": db, "key_source": key_source, "TESTING": True}
        )

    return build


# ---- a real Redis --------------------------------------------------------------------------


def require_redis() -> str:
    """Path of ``redis-server``; skip (or, under PALISADE_REQUIRE_REDIS=1, fail) without it."""
    found = shutil.which("redis-server")
    if found:
        return found
    message = "Redis tests need redis-server (apt-get install redis-server; .ci/run does)"
    if os.environ.get("PALISADE_REQUIRE_REDIS") == "1":
        pytest.fail(message)
    pytest.skip(message)


class RedisServer:
    """``redis-server`` on 127.0.0.1 without persistence, started and stopped by a test."""

    def __init__(self, workdir: Path) -> None:
        import redis

        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = subprocess.Popen(
            [
                require_redis(),
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(workdir),
            ],
            stdout=(workdir / "redis.log").open("ab"),
            stderr=subprocess.STDOUT,
        )
        self.client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 20
        while True:
            try:
                self.client.ping()
                return
            except redis.ConnectionError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    log = (workdir / "redis.log").read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"redis-server did not start: {log}") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.client.close()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    require_redis()
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """URL of the session's Redis, emptied so no test sees another's counters."""
    redis_server.client.flushdb()
    return redis_server.url
