"""Request ids, JSON logs and Prometheus metrics."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import pytest
from flask import Flask

from sharing.web.observability import JsonFormatter
from tests.stix_factories import body, make_bundle, make_indicator


def test_a_plain_request_id_is_echoed(app: Flask) -> None:
    response = app.test_client().get("/healthz", headers={"X-Request-ID": "lab-a.batch:42_x"})
    assert response.headers["X-Request-ID"] == "lab-a.batch:42_x"


@pytest.mark.parametrize(
    "hostile",
    ["a b", "x" * 129, "<script>", "id;rm -rf", "é", "a\tb", '"quoted"', "a%0d%0aSet-Cookie:x=1"],
)
def test_an_unsafe_request_id_is_replaced(app: Flask, hostile: str) -> None:
    response = app.test_client().get("/healthz", headers={"X-Request-ID": hostile})
    assert response.status_code == 200
    echoed = response.headers["X-Request-ID"]
    assert echoed != hostile and len(echoed) == 32 and echoed.isalnum()
    assert "Set-Cookie" not in response.headers


def test_a_missing_request_id_is_generated_and_differs_per_request(app: Flask) -> None:
    client = app.test_client()
    first = client.get("/healthz").headers["X-Request-ID"]
    second = client.get("/healthz").headers["X-Request-ID"]
    assert first != second


def test_json_log_lines_carry_the_request_id_and_no_secrets(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    formatter = JsonFormatter()
    caplog.set_level(logging.INFO, logger="sharing")
    client = app.test_client()
    client.get(
        "/api/v1/status/abc?secret=1",
        headers={"X-Request-ID": "trace-1", "Authorization": "Bearer pal_AAAAAAAAAA_s3cr3t"},
    )
    lines = []
    for record in caplog.records:
        lines.append(json.loads(formatter.format(record)))
    access = [line for line in lines if line["logger"] == "sharing.access"]
    assert access, lines
    assert access[-1]["request_id"] == "trace-1"
    assert access[-1]["endpoint"] == "/api/v1/status/<string:status_id>"
    assert access[-1]["status"] == 401
    text = json.dumps(lines)
    assert "s3cr3t" not in text and "secret=1" not in text and "/status/abc" not in text


def test_an_unexpected_error_is_logged_with_the_request_id(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    @app.get("/boom-for-test")
    def boom() -> str:
        raise RuntimeError("kaboom")

    caplog.set_level(logging.INFO, logger="sharing")
    response = app.test_client().get("/boom-for-test", headers={"X-Request-ID": "trace-500"})
    assert response.status_code == 500
    assert response.headers["X-Request-ID"] == "trace-500"
    errors = [r for r in caplog.records if r.name == "sharing.web" and r.levelno >= logging.ERROR]
    assert errors and errors[0].request_id == "trace-500"  # type: ignore[attr-defined]


def _sample(text: str, name: str, **labels: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


def test_metrics_count_requests_ingest_and_match(app: Flask, exchange) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    lab = exchange.member("lab-a")
    before = client.get("/metrics").get_data(as_text=True)
    raw = body(make_bundle(make_indicator("m1@example.test"), make_indicator("m2@example.test")))
    headers = {**lab.headers, "Content-Type": "application/stix+json"}
    assert client.post("/api/v1/bundles", data=raw, headers=headers).status_code == 202
    match = {"items": [{"kind": "email", "value": "hmac-sha256:c1:" + "0" * 64}] * 3}
    assert client.post("/api/v1/match", json=match, headers=lab.headers).status_code == 200
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    after = response.get_data(as_text=True)

    def delta(name: str, **labels: str) -> float:
        return _sample(after, name, **labels) - _sample(before, name, **labels)

    assert delta("palisade_http_requests_total", endpoint="/api/v1/bundles", status="202") == 1
    assert delta("palisade_ingest_objects_total", outcome="accepted") == 2
    assert delta("palisade_ingest_bundles_total", status="202") == 1
    assert delta("palisade_match_items_total") == 3
    assert delta("palisade_http_request_duration_seconds_count", endpoint="/api/v1/match") == 1
    # Route templates only: no ids, no query values as label values.
    assert "/api/v1/status/<string:status_id>" in after or "status_id" not in after


def test_metrics_token(make_app: Callable[..., Flask]) -> None:
    client = make_app(metrics_token="t0ken").test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer t0ken"}).status_code == 200
