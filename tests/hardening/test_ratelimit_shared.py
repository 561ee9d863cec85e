"""Rate limits shared through Redis: two hosts, one budget.

``PALISADE_RATELIMIT_URI=redis://...`` is how several workers and hosts share rate limits
(sharing.web.ratelimit). Proved here against a real ``redis-server`` (tests/hardening/conftest.py):
requests for one key split across two app instances, and across two separate gunicorn
processes, use up one budget and then both answer 429 with ``Retry-After``; with the in-memory
default each instance counts alone; and a Redis that goes away never turns into a 500.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import requests
from flask import Flask

from tests.conftest import fresh_database_url
from tests.hardening.conftest import RedisServer
from tests.live import LiveServer, spawn_gunicorn

WHOAMI = "/api/v1/whoami"


def _assert_refused(status: int, headers: dict[str, str] | object, body: dict) -> None:  # type: ignore[type-arg]
    assert status == 429
    retry_after = int(headers["Retry-After"])  # type: ignore[index]
    assert 1 <= retry_after <= 60
    assert body["status"] == 429 and "feed" in body["message"]


def test_two_app_instances_share_one_budget_through_redis(
    make_app: Callable[..., Flask], exchange, redis_url: str, redis_server: RedisServer
) -> None:  # type: ignore[no-untyped-def]
    hosts = [make_app(ratelimit_uri=redis_url, ratelimit_feed="4/minute") for _ in range(2)]
    first, second = (host.test_client() for host in hosts)
    lab = exchange.member("lab-a")
    for client in (first, second, first, second):
        assert client.get(WHOAMI, headers=lab.headers).status_code == 200
    for client in (first, second):
        refused = client.get(WHOAMI, headers=lab.headers)
        _assert_refused(refused.status_code, refused.headers, refused.get_json())
    # The counters are in Redis, not in either process.
    assert any(b"feed_key" in key for key in redis_server.client.keys("*"))
    # Another member's budget is untouched, on both hosts.
    other = exchange.member("lab-b")
    assert first.get(WHOAMI, headers=other.headers).status_code == 200
    assert second.get(WHOAMI, headers=other.headers).status_code == 200


def test_the_in_memory_default_does_not_share(make_app: Callable[..., Flask], exchange) -> None:  # type: ignore[no-untyped-def]
    hosts = [make_app(ratelimit_feed="2/minute") for _ in range(2)]
    assert all(
        host.extensions["palisade_ratelimit_config"].storage_uri == "memory://" for host in hosts
    )
    first, second = (host.test_client() for host in hosts)
    lab = exchange.member("lab-a")
    # Four requests against a budget of two: each host counts only its own.
    for client in (first, second, first, second):
        assert client.get(WHOAMI, headers=lab.headers).status_code == 200
    assert first.get(WHOAMI, headers=lab.headers).status_code == 429
    assert second.get(WHOAMI, headers=lab.headers).status_code == 429


def test_a_redis_that_goes_away_never_becomes_a_500(
    make_app: Callable[..., Flask], exchange, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    redis = RedisServer(tmp_path / "redis")
    try:
        client = make_app(ratelimit_uri=redis.url, ratelimit_feed="3/minute").test_client()
        lab = exchange.member("lab-a")
        assert client.get(WHOAMI, headers=lab.headers).status_code == 200
    finally:
        redis.stop()
    # Limits fall back to this process's memory, which counts afresh: three more answered,
    # then the budget holds again. Nothing is refused or failed because Redis is gone.
    statuses = [client.get(WHOAMI, headers=lab.headers).status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429], statuses
    assert client.get("/healthz").status_code == 200


def test_two_gunicorn_hosts_share_one_budget_through_redis(tmp_path: Path, redis_url: str) -> None:
    """Two separate gunicorn servers (two "hosts") configured only by the environment."""
    server = LiveServer(fresh_database_url("sqlite", tmp_path, "shared_limits"), tmp_path / "i")
    key = server.member("lab-a")
    env = {
        "DATABASE_URL": server.database_url,
        "PALISADE_INSTANCE": str(server.instance),
        "PALISADE_KEY_FILE": str(server.key_file),
        "PALISADE_RATELIMIT_URI": redis_url,
        "PALISADE_RATELIMIT_FEED": "4/minute",
    }
    processes = []
    try:
        urls = []
        for name in ("host-a", "host-b"):
            process, url = spawn_gunicorn(env, workers=1, log_path=tmp_path / f"{name}.log")
            processes.append(process)
            urls.append(url)
        headers = {"Authorization": f"Bearer {key}"}
        with requests.Session() as http:
            for url in urls + urls:
                assert http.get(url + WHOAMI, headers=headers, timeout=30).status_code == 200
            for url in urls:
                refused = http.get(url + WHOAMI, headers=headers, timeout=30)
                _assert_refused(refused.status_code, refused.headers, refused.json())
            other = {"Authorization": f"Bearer {server.member('lab-b')}"}
            assert http.get(urls[1] + WHOAMI, headers=other, timeout=30).status_code == 200
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except Exception:
                process.kill()
        server.stop()
