"""PostgreSQL pool connections are pinged only after sitting idle (sharing.db).

A connection back in the pool for under ``PING_AFTER_IDLE_SECONDS`` is handed out without the
round trip ``pool_pre_ping`` would spend; one that idled longer is pinged and, if the server
closed it meanwhile, replaced before anyone uses it. A connection that dies inside the window
fails one statement, SQLAlchemy discards the pool, and the web layer answers that request 503
with ``Retry-After`` rather than 500.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from flask import Flask
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from sharing import db as db_module
from sharing.db import Database
from sharing.web import errors
from tests.conftest import fresh_database_url, postgres_admin
from tests.live import live_server


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Database]:
    database = Database(fresh_database_url("postgresql", tmp_path, "palisade_pool_ping"))
    yield database
    database.dispose()


@pytest.fixture
def pings(store: Database, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the real pings (each still runs against the server)."""
    seen: list[int] = []
    real = store.engine.dialect.do_ping

    def counting(dbapi_connection):  # type: ignore[no-untyped-def]
        seen.append(1)
        return real(dbapi_connection)

    monkeypatch.setattr(store.engine.dialect, "do_ping", counting)
    return seen


def _backend_pid(store: Database) -> int:
    with store.connect() as connection:
        return int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _terminate(pid: int) -> None:
    assert postgres_admin(f"SELECT pg_terminate_backend({pid})") == [True]


def test_a_connection_used_a_moment_ago_is_not_pinged_again(
    store: Database, pings: list[int]
) -> None:
    first = _backend_pid(store)
    assert pings == [1]  # a new connection is pinged once
    for _ in range(5):
        assert _backend_pid(store) == first
    assert pings == [1]


def test_an_idle_connection_is_pinged_and_replaced_when_the_server_closed_it(
    store: Database, pings: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _backend_pid(store)
    _terminate(first)
    monkeypatch.setattr(db_module, "PING_AFTER_IDLE_SECONDS", 0.0)  # as if it idled
    second = _backend_pid(store)  # no error: the ping failed and the pool reconnected
    assert second != first
    assert len(pings) >= 2


def test_a_connection_closed_inside_the_window_fails_once_then_the_pool_recovers(
    store: Database,
) -> None:
    first = _backend_pid(store)
    _terminate(first)
    with pytest.raises(OperationalError) as failure:
        _backend_pid(store)
    assert failure.value.connection_invalidated
    assert _backend_pid(store) != first


def test_a_lost_database_connection_is_answered_503_with_retry_after() -> None:
    app = Flask(__name__)
    errors.register(app)

    @app.get("/api/v1/lost")
    def lost() -> str:
        raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))

    response = app.test_client().get("/api/v1/lost")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert response.get_json()["message"] == "the database is unavailable for the moment; retry"


def test_a_live_server_whose_database_connections_are_killed_never_answers_500(
    tmp_path: Path,
) -> None:
    url = fresh_database_url("postgresql", tmp_path, "palisade_pool_ping_live")
    with live_server(url, tmp_path / "instance") as live, requests.Session() as http:
        headers = {"Authorization": f"Bearer {live.member('aurora')}"}
        for _ in range(4):  # every server thread has used a pooled connection
            assert http.get(live.url + "/api/v1/whoami", headers=headers).status_code == 200
        killed = postgres_admin(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            f"WHERE datname = '{make_url(url).database}' AND pid <> pg_backend_pid()"
        )
        assert killed[0] >= 1
        statuses = [
            http.get(live.url + "/api/v1/whoami", headers=headers).status_code for _ in range(12)
        ]
    # A request on a connection killed a moment ago may be refused 503 (and may be retried);
    # none fails with a 500, and the pools recover by themselves.
    assert set(statuses) <= {200, 503}, statuses
    assert statuses[-4:] == [200] * 4, statuses
