"""Rate limits: per key and per member, separate submit/match/feed budgets, 429 + Retry-After.

Each test builds its own app with deliberately low limits (the defaults are generous so the
rest of the suite never meets them); limiter counters live in the app, so tests never share.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from flask import Flask
from limits import parse_many

from sharing.identifiers import hash_identifier
from sharing.web import ratelimit, ratelimit_memory
from tests.stix_factories import TEST_CONSORTIUM_KEY, body, make_bundle, make_indicator

MATCH_BODY = {
    "items": [{"kind": "email", "value": hash_identifier(TEST_CONSORTIUM_KEY, "email", "x@y.test")}]
}


def _match(client, headers):  # type: ignore[no-untyped-def]
    return client.post("/api/v1/match", json=MATCH_BODY, headers=headers)


def _feed(client, headers):  # type: ignore[no-untyped-def]
    return client.get("/api/v1/whoami", headers=headers)


def _submit(client, headers):  # type: ignore[no-untyped-def]
    raw = body(make_bundle(make_indicator("rl@example.test")))
    return client.post(
        "/api/v1/bundles", data=raw, headers={**headers, "Content-Type": "application/stix+json"}
    )


def test_defaults_are_valid_limit_strings_and_generous() -> None:
    for name, value in ratelimit.DEFAULTS.items():
        items = parse_many(value)
        per_minute = min(i.amount * 60 / i.get_expiry() for i in items)
        assert per_minute >= 600, name


def test_every_api_and_taxii_route_draws_from_a_budget(app: Flask) -> None:
    for rule in app.url_map.iter_rules():
        path = rule.rule.replace("<", "").replace(">", "")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            budget = ratelimit.budget_of(method, path)
            if (
                rule.rule.startswith(("/api/v1/", "/taxii2"))
                and rule.rule != "/api/v1/openapi.json"
            ):
                assert budget in ratelimit.BUDGETS, (method, rule.rule)
            else:
                assert budget is None, (method, rule.rule)


def test_per_key_limit_answers_429_with_retry_after(
    make_app: Callable[..., Flask], exchange
) -> None:  # type: ignore[no-untyped-def]
    client = make_app(ratelimit_match="3/minute").test_client()
    lab = exchange.member("lab-a")
    for _ in range(3):
        assert _match(client, lab.headers).status_code == 200
    refused = _match(client, lab.headers)
    assert refused.status_code == 429
    retry_after = int(refused.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    assert refused.get_json()["status"] == 429
    assert "match" in refused.get_json()["message"]
    assert "X-Request-ID" in refused.headers
    # Another key of the same member has its own key budget (the member budget is larger).
    other_key = {"Authorization": f"Bearer {exchange.key_for(lab)}"}
    assert _match(client, other_key).status_code == 200
    # Another member is not affected at all.
    assert _match(client, exchange.member("lab-b").headers).status_code == 200


def test_budgets_are_separate(make_app: Callable[..., Flask], exchange) -> None:  # type: ignore[no-untyped-def]
    client = make_app(ratelimit_match="1/minute", ratelimit_feed="2/minute").test_client()
    lab = exchange.member("lab-a")
    assert _match(client, lab.headers).status_code == 200
    assert _match(client, lab.headers).status_code == 429
    # Match used up: feed and submit still have room.
    assert _feed(client, lab.headers).status_code == 200
    assert _submit(client, lab.headers).status_code == 202
    assert _feed(client, lab.headers).status_code == 200
    assert _feed(client, lab.headers).status_code == 429
    assert _submit(client, lab.headers).status_code == 202


def test_member_budget_is_shared_by_all_its_keys(make_app: Callable[..., Flask], exchange) -> None:  # type: ignore[no-untyped-def]
    client = make_app(
        ratelimit_submit="100/minute", ratelimit_submit_member="2/minute"
    ).test_client()
    lab = exchange.member("lab-a")
    keys = [lab.headers] + [{"Authorization": f"Bearer {exchange.key_for(lab)}"} for _ in range(2)]
    assert _submit(client, keys[0]).status_code == 202
    assert _submit(client, keys[1]).status_code == 202
    refused = _submit(client, keys[2])
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert _submit(client, exchange.member("lab-b").headers).status_code == 202


def test_a_refused_submission_stores_nothing(make_app: Callable[..., Flask], exchange) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import func, select

    from sharing.models import Submission

    client = make_app(ratelimit_submit="1/minute").test_client()
    lab = exchange.member("lab-a")
    assert _submit(client, lab.headers).status_code == 202
    assert _submit(client, lab.headers).status_code == 429
    with exchange.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Submission)) == 1


def test_unauthenticated_requests_are_limited_by_address(
    make_app: Callable[..., Flask],
) -> None:
    client = make_app(ratelimit_feed="2/minute").test_client()
    bad = {"Authorization": "Bearer pal_AAAAAAAAAA_nope"}
    assert client.get("/api/v1/whoami", headers=bad).status_code == 401
    assert client.get("/api/v1/whoami").status_code == 401
    assert client.get("/api/v1/whoami", headers=bad).status_code == 429


def test_taxii_requests_are_limited_with_taxii_error_bodies(
    make_app: Callable[..., Flask], exchange
) -> None:  # type: ignore[no-untyped-def]
    client = make_app(ratelimit_feed="1/minute").test_client()
    lab = exchange.member("lab-a")
    headers = {**lab.headers, "Accept": "application/taxii+json;version=2.1"}
    assert client.get("/taxii2/", headers=headers).status_code == 200
    refused = client.get("/taxii2/exchange/collections/", headers=headers)
    assert refused.status_code == 429
    assert refused.headers["Content-Type"].startswith("application/taxii+json")
    assert refused.get_json()["http_status"] == "429"
    assert "Retry-After" in refused.headers


def test_limits_come_from_the_environment_at_app_build_time(
    make_app: Callable[..., Flask], exchange, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PALISADE_RATELIMIT_MATCH", "1/minute")
    client = make_app().test_client()
    lab = exchange.member("lab-a")
    assert _match(client, lab.headers).status_code == 200
    assert _match(client, lab.headers).status_code == 429
    monkeypatch.setenv("PALISADE_RATELIMIT_ENABLED", "0")
    unlimited = make_app().test_client()
    for _ in range(3):
        assert _match(unlimited, lab.headers).status_code == 200


def test_health_and_metrics_are_never_limited(make_app: Callable[..., Flask]) -> None:
    client = make_app(ratelimit_feed="1/minute").test_client()
    for _ in range(5):
        assert client.get("/healthz").status_code == 200
        assert client.get("/api/v1/openapi.json").status_code == 200


def test_the_default_store_starts_no_thread_per_request(app: Flask) -> None:
    limiter = app.extensions[ratelimit.EXTENSION_KEY]
    storage = limiter.storage
    assert isinstance(storage, ratelimit_memory.LazyExpiryMemoryStorage)
    timer, threads = storage.timer, threading.active_count()
    for i in range(500):
        storage.incr(f"key-{i % 7}", 60)
    assert storage.timer is timer  # limits' MemoryStorage would have started a new Timer
    assert threading.active_count() <= threads
    assert storage.get("key-0") == 72


def test_the_default_store_still_expires_counters(monkeypatch: pytest.MonkeyPatch) -> None:
    storage = ratelimit_memory.LazyExpiryMemoryStorage()
    storage.incr("short", 0.05)
    storage.incr("long", 60)
    time.sleep(0.1)
    assert storage.get("short") == 0  # a fixed window reads as empty once it has expired
    storage.incr("other", 0.05)
    time.sleep(0.1)
    monkeypatch.setattr(ratelimit_memory, "SWEEP_INTERVAL", 0.0)
    storage.incr("long", 60)  # the next write sweeps: expired counters are freed
    assert "other" not in storage.storage and storage.get("long") == 2


def test_answers_carry_the_tighter_budgets_limit_headers(
    make_app: Callable[..., Flask], exchange
) -> None:  # type: ignore[no-untyped-def]
    client = make_app(ratelimit_match="5/minute", ratelimit_match_member="3/minute").test_client()
    lab = exchange.member("lab-a")
    first = _match(client, lab.headers)
    assert first.status_code == 200
    # The member's 3/minute is tighter than the key's 5/minute: it is the one reported.
    assert first.headers["X-RateLimit-Limit"] == "3"
    assert first.headers["X-RateLimit-Remaining"] == "2"
    reset = int(first.headers["X-RateLimit-Reset"])
    assert time.time() < reset <= time.time() + 61
    assert "Retry-After" not in first.headers
    _match(client, lab.headers)
    _match(client, lab.headers)
    refused = _match(client, lab.headers)
    assert refused.status_code == 429
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    # Unlimited paths carry none.
    assert "X-RateLimit-Limit" not in client.get("/healthz").headers


def test_a_request_refused_by_its_key_does_not_charge_the_member(
    make_app: Callable[..., Flask], exchange
) -> None:  # type: ignore[no-untyped-def]
    client = make_app(ratelimit_match="1/minute", ratelimit_match_member="2/minute").test_client()
    lab = exchange.member("lab-a")
    second_key = {"Authorization": f"Bearer {exchange.key_for(lab)}"}
    third_key = {"Authorization": f"Bearer {exchange.key_for(lab)}"}
    assert _match(client, lab.headers).status_code == 200
    for _ in range(3):  # the key is used up; the member's count stays at one
        assert _match(client, lab.headers).status_code == 429
    assert _match(client, second_key).status_code == 200
    refused = _match(client, third_key)
    assert refused.status_code == 429  # now the member's two are used
    assert refused.headers["X-RateLimit-Limit"] == "2"
