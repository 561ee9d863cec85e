"""Security headers: strict CSP, nosniff, no framing, no referrer; HSTS only over HTTPS."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask

from sharing.web.security import CSP

PATHS = ["/healthz", "/api/v1/whoami", "/api/v1/openapi.json", "/taxii2/", "/nope", "/metrics"]


@pytest.mark.parametrize("path", PATHS)
def test_every_response_carries_the_headers(app: Flask, path: str) -> None:
    response = app.test_client().get(path)
    assert response.headers["Content-Security-Policy"] == CSP
    assert "'unsafe-inline'" not in CSP and "'unsafe-eval'" not in CSP
    assert "frame-ancestors 'none'" in CSP and "object-src 'none'" in CSP
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "Strict-Transport-Security" not in response.headers  # plain HTTP


def test_hsts_over_https(app: Flask) -> None:
    response = app.test_client().get("/healthz", base_url="https://palisade.test")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")


def test_hsts_behind_a_trusted_tls_proxy_only(make_app: Callable[..., Flask]) -> None:
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    proxied = make_app(trusted_proxies=1).test_client().get("/healthz", headers=forwarded)
    assert "Strict-Transport-Security" in proxied.headers
    # Without a trusted proxy a client cannot claim HTTPS by sending the header itself.
    direct = make_app().test_client().get("/healthz", headers=forwarded)
    assert "Strict-Transport-Security" not in direct.headers
