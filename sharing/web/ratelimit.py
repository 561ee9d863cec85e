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
(tests/hardening/test_ratelimit_shared.py proves the sharing against a real redis-server). If
the shared store stops answering, counting falls back to this process's memory for a while
rather than refusing or failing requests.

Every answer from a limited path carries ``X-RateLimit-Limit``, ``X-RateLimit-Remaining`` and
``X-RateLimit-Reset`` (epoch seconds) for the tighter of its two budgets.

Why ``limits`` directly rather than Flask-Limiter on top of it: both budgets are chosen per
request from the path, which Flask-Limiter can only express as dynamic application limits it
re-resolves, re-parses and filters through its decorator and exemption machinery on every
request: ~0.3 ms of a one-item match's ~1.8 ms (bench/match/profile.py, with and without
limits). The counting, the storage backends and the key layout are ``limits``' own (the
library Flask-Limiter uses); this module only decides which two counters a request draws on.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, current_app, g, request
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage, Storage, storage_from_string

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
#: After the shared store fails, count in memory for this long before trying it again.
FALLBACK_SECONDS = 30.0

log = logging.getLogger(__name__)


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


@dataclass(frozen=True)
class Verdict:
    """One request's standing against the tighter of its limits (the one that refused it)."""

    limit: RateLimitItem
    remaining: int
    reset_at: float
    allowed: bool


class BudgetLimiter:
    """Fixed-window counters for each budget, per key and per member, in one ``limits`` store.

    Counter keys are ``limits``' own (``LIMITS:LIMITER/<budget>_key/<key id>/600/1/minute``), so
    counts survive between releases and several hosts on one Redis share them."""

    def __init__(self, config: RateLimitConfig) -> None:
        self.storage: Storage = storage_from_string(
            ratelimit_memory.storage_uri(config.storage_uri)
        )
        self.fallback: Storage | None = (
            None
            if isinstance(self.storage, MemoryStorage)
            else ratelimit_memory.LazyExpiryMemoryStorage()
        )
        self._fallback_until = 0.0  # this process's view of the shared store's health
        # budget -> (counter scope, which identity: 0 the key, 1 the member, its limits)
        self.limits: dict[str, tuple[tuple[str, int, list[RateLimitItem]], ...]] = {}
        for budget in BUDGETS:
            sides = []
            for which, suffix in enumerate(("", "_member")):
                value = config.limits[budget + suffix]
                if value:
                    sides.append((f"{budget}{suffix or '_key'}", which, parse_many(value)))
            self.limits[budget] = tuple(sides)

    def hit(self, budget: str, key_id: str, member_id: str) -> Verdict | None:
        """Count one request against the key's, then the member's limits of ``budget``.

        Stops at the first limit that is used up (later ones are not charged). None when the
        budget has no limits."""
        if time.monotonic() < self._fallback_until and self.fallback is not None:
            return self._hit(self.fallback, budget, key_id, member_id)
        try:
            return self._hit(self.storage, budget, key_id, member_id)
        except Exception:
            if self.fallback is None:
                raise
            # The shared store is down or slow: limit in memory rather than fail or refuse.
            log.exception("rate-limit store unavailable; counting in memory for a while")
            self._fallback_until = time.monotonic() + FALLBACK_SECONDS
            return self._hit(self.fallback, budget, key_id, member_id)

    def _hit(self, storage: Storage, budget: str, key_id: str, member_id: str) -> Verdict | None:
        tightest: tuple[RateLimitItem, str, int] | None = None
        identities = (key_id, member_id)
        for scope, which, items in self.limits[budget]:
            identity = identities[which]
            for item in items:
                key = item.key_for(scope, identity)
                count = storage.incr(key, item.get_expiry())
                remaining = item.amount - count
                if tightest is None or remaining < tightest[2]:
                    tightest = (item, key, remaining)
                if remaining < 0:
                    return self._verdict(storage, tightest, allowed=False)
        return None if tightest is None else self._verdict(storage, tightest, allowed=True)

    @staticmethod
    def _verdict(
        storage: Storage, tightest: tuple[RateLimitItem, str, int], *, allowed: bool
    ) -> Verdict:
        item, key, remaining = tightest
        return Verdict(item, max(0, remaining), storage.get_expiry(key), allowed)


def _enforce() -> Response | None:
    budget = budget_of(request.method, request.path)
    if budget is None:
        return None
    limiter: BudgetLimiter = _limiter()
    key_id, member_id = _identity()
    try:
        verdict = limiter.hit(budget, key_id, member_id)
    except Exception:  # the in-process store cannot fail; never let limiting cause a 500
        log.exception("rate limiting failed; request let through")
        return None
    if verdict is None:
        return None
    g._ratelimit_verdict = verdict
    if verdict.allowed:
        return None
    return _on_breach(budget, verdict)


def _add_headers(response: Response) -> Response:
    verdict: Verdict | None = g.get("_ratelimit_verdict")
    if verdict is not None:
        response.headers["X-RateLimit-Limit"] = str(verdict.limit.amount)
        response.headers["X-RateLimit-Remaining"] = str(verdict.remaining)
        response.headers["X-RateLimit-Reset"] = str(math.ceil(verdict.reset_at))
    return response


def _on_breach(budget: str, verdict: Verdict) -> Response:
    retry_after = max(1, math.ceil(verdict.reset_at - time.time()))
    from sharing.web import observability

    observability.count_rate_limited(budget)
    return render_error(
        429,
        "Too many requests",
        f"the {budget} rate limit ({verdict.limit}) is used up; retry after {retry_after} s",
        headers={"Retry-After": str(retry_after)},
    )


def _limiter() -> BudgetLimiter:
    return current_app.extensions[EXTENSION_KEY]  # type: ignore[no-any-return]


def init_app(app: Flask) -> BudgetLimiter | None:
    """Attach the limiter to ``app`` (one per app, so tests never share counters)."""
    config = RateLimitConfig.from_app(app)
    app.extensions["palisade_ratelimit_config"] = config
    if not config.enabled:
        return None
    limiter = BudgetLimiter(config)
    app.extensions[EXTENSION_KEY] = limiter
    app.before_request(_enforce)
    app.after_request(_add_headers)
    return limiter
