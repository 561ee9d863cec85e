"""Rate limits per API key and per member, with separate budgets for submit, match and feed.

Why: one member's runaway pipeline must not starve the others, and a leaked key must not be
able to drain the exchange. Each request to the REST API or TAXII falls into one budget by
its method and path (so endpoints other teams add are covered without touching their views):

- **submit**: POST/PUT/PATCH/DELETE under ``/api/v1`` and ``/taxii2`` (bundles, TAXII adds
  and withdrawals, sightings). Default per key ``600/minute``, per member ``1200/minute``.
- **match**: ``/api/v1/match`` and ``/api/v1/range/...``. Default per key ``6000/minute``,
  per member ``12000/minute``.
- **feed**: other GETs under ``/api/v1`` and ``/taxii2`` (TAXII pages, status, whoami).
  Default per key ``3000/minute``, per member ``6000/minute``.

Both the key's and the member's budget must have room: a member with ten keys still gets one
member budget. A request without valid credentials is counted against its client address.
Over budget: 429 with ``Retry-After`` (seconds) in the usual error body.

Configuration is read when the app is built, never at import: ``Settings.extra`` keys
(``ratelimit_submit``, ``ratelimit_submit_member``, ``ratelimit_match``, ...) win over the
environment (``PALISADE_RATELIMIT_SUBMIT``, ``PALISADE_RATELIMIT_SUBMIT_MEMBER``, ...), which
wins over the defaults above. Values use the ``limits`` syntax (``"10/second;600/minute"``);
``off`` disables one budget, ``PALISADE_RATELIMIT_ENABLED=0`` all of them. Storage is
in-memory per process unless ``PALISADE_RATELIMIT_URI`` (``Settings.ratelimit_uri``) names a
shared store such as ``redis://host:6379/0``, which several workers and hosts then share
(the Redis client is a dependency: ``flask-limiter[redis]``; tests/hardening/
test_ratelimit_shared.py proves the sharing against a real redis-server).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, g, request
from flask_limiter import ApplicationLimit, Limiter, RateLimitExceeded, RequestLimit

from sharing.errors import PalisadeError
from sharing.web import ratelimit_memory
from sharing.web.errors import render_error

BUDGETS = ("submit", "match", "feed")

DEFAULTS: dict[str, str] = {
    "submit": "600/minute",
    "submit_member": "1200/minute",
    "match": "6000/minute",
    "match_member": "12000/minute",
    "feed": "3000/minute",
    "feed_member": "6000/minute",
}

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MATCH_PREFIXES = ("/api/v1/match", "/api/v1/range/")
EXEMPT_PATHS = frozenset({"/api/v1/openapi.json"})
EXTENSION_KEY = "palisade_limiter"


@dataclass(frozen=True)
class RateLimitConfig:
    enabled: bool
    storage_uri: str
    limits: Mapping[str, str | None]  # name -> limit string, None when off

    @classmethod
    def from_app(cls, app: Flask) -> RateLimitConfig:
        settings = app.config["PALISADE_SETTINGS"]
        extra: Mapping[str, Any] = settings.extra
        env = os.environ

        def pick(name: str, default: str) -> str:
            if f"ratelimit_{name}" in extra:
                return str(extra[f"ratelimit_{name}"])
            return env.get(f"PALISADE_RATELIMIT_{name.upper()}", default)

        enabled_text = pick("enabled", "1").strip().lower()
        limits: dict[str, str | None] = {}
        for name, default in DEFAULTS.items():
            value = pick(name, default).strip()
            limits[name] = None if value.lower() in {"", "off", "0", "none"} else value
        return cls(
            enabled=enabled_text not in {"0", "false", "no", "off"},
            storage_uri=settings.ratelimit_uri or "memory://",
            limits=limits,
        )


def budget_of(method: str, path: str) -> str | None:
    """Which budget a request draws from, or None when it is not rate limited."""
    if path in EXEMPT_PATHS:
        return None
    if not (path.startswith("/api/v1/") or path.startswith("/taxii2")):
        return None
    if path.startswith(MATCH_PREFIXES):
        return "match"
    if method in WRITE_METHODS:
        return "submit"
    if method in {"GET", "HEAD"}:
        return "feed"
    return None


def _identity() -> tuple[str, str]:
    """(per-key id, per-member id) for this request, resolved once and cached on ``g``."""
    cached = g.get("_ratelimit_identity")
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    from sharing.web.auth import current_principal

    try:
        principal = current_principal()
    except PalisadeError:
        # Bad or missing credentials: the view answers 401/403; the address pays for it.
        address = f"addr:{request.remote_addr or 'unknown'}"
        identity = (address, address)
    except Exception:  # the store is down: let the view report that, do not limit blindly
        address = f"addr:{request.remote_addr or 'unknown'}"
        identity = (address, address)
    else:
        identity = (
            f"key:{principal.api_key_prefix or principal.username}",
            f"org:{principal.org_id}",
        )
    g._ratelimit_identity = identity
    return identity


def _request_budget() -> str | None:
    """This request's budget, worked out once per request."""
    budget = g.get("_ratelimit_budget", _UNKNOWN)
    if budget is _UNKNOWN:
        budget = g._ratelimit_budget = budget_of(request.method, request.path)
    return budget  # type: ignore[no-any-return]


_UNKNOWN = object()


def _budget_limits(
    config: RateLimitConfig, suffix: str
) -> tuple[Callable[[], str], Callable[[str], str]]:
    """The limit and the counter scope of one side (key or member) for this request's budget.

    One application limit per side whose value follows the request's budget, rather than one
    per budget with an exemption: Flask-Limiter parses and filters every registered limit on
    every request, and six of them cost ~0.5 ms of a one-item match. Counter scopes are
    unchanged (``match_key``, ``match_member``, ...), so counts carry over."""
    limits = {budget: config.limits[budget + suffix] or "" for budget in BUDGETS}
    label = suffix or "_key"

    def limit() -> str:
        budget = _request_budget()
        return "" if budget is None else limits[budget]  # "": no limit for this request

    def scope(_endpoint: str) -> str:
        return f"{_request_budget()}{label}"

    return limit, scope


def _on_breach(limit: RequestLimit) -> Response:
    retry_after = max(1, math.ceil(limit.reset_at - time.time()))
    budget = budget_of(request.method, request.path) or "request"
    from sharing.web import observability

    observability.count_rate_limited(budget)
    return render_error(
        429,
        "Too many requests",
        f"the {budget} rate limit ({limit.limit}) is used up; retry after {retry_after} s",
        headers={"Retry-After": str(retry_after)},
    )


def init_app(app: Flask) -> Limiter | None:
    """Attach the limiter to ``app`` (one per app, so tests never share counters)."""
    config = RateLimitConfig.from_app(app)
    app.extensions["palisade_ratelimit_config"] = config
    if not config.enabled:
        return None
    application_limits: list[ApplicationLimit] = []
    for suffix, which in (("", 0), ("_member", 1)):
        limit, scope = _budget_limits(config, suffix)
        application_limits.append(
            ApplicationLimit(
                limit,
                key_function=(lambda which=which: _identity()[which]),
                scope=scope,
                on_breach=_on_breach,
            )
        )
    limiter = Limiter(
        key_func=lambda: _identity()[0],
        app=app,
        application_limits=application_limits,  # type: ignore[arg-type]
        storage_uri=ratelimit_memory.storage_uri(config.storage_uri),
        strategy="fixed-window",
        headers_enabled=True,
        # A shared store that goes away must not take the exchange down with it.
        swallow_errors=True,
        in_memory_fallback_enabled=config.storage_uri != "memory://",
        on_breach=_on_breach,
    )
    app.extensions[EXTENSION_KEY] = limiter
    app.register_error_handler(RateLimitExceeded, _render_exceeded)
    return limiter


def _render_exceeded(error: RateLimitExceeded) -> Response:
    """Our error body (JSON or TAXII) with ``Retry-After``, built by :func:`_on_breach`."""
    if isinstance(error.response, Response):
        return error.response
    return render_error(
        429, "Too many requests", "a rate limit is used up", headers={"Retry-After": "1"}
    )
