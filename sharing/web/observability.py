"""Request ids, JSON logs and Prometheus metrics: what an operator needs at 3 a.m.

Why: a member reporting "my submission failed" quotes the ``X-Request-ID`` it got back, and the
operator finds every log line of that request, including the reference id of a 500. Request ids
a client sends are honoured only when they are short and plain (letters, digits, ``.-_:``),
so nobody can inject log lines or headers through them; anything else is replaced.

Logs: with ``PALISADE_LOG_JSON=1`` (``Settings.log_json``) the ``sharing`` loggers write one
JSON object per line to stderr, each carrying the request id; every request also logs one
access line (method, route, status, duration). Query strings, bodies and credentials are never
logged: match queries are hashed identifiers of people, and the route template (``/status/<id>``)
is logged instead of the path.

Metrics (prometheus-client) at ``/metrics``: request counts and latency histograms by route
template, method and status, plus ingest objects, match items and feed pages, and rate-limit
refusals. Under gunicorn set ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory (before the
server starts) so every worker's samples are aggregated. ``PALISADE_METRICS_TOKEN`` (or
``Settings.extra["metrics_token"]``) makes ``/metrics`` require ``Authorization: Bearer <token>``;
otherwise keep it off the public listener at the TLS proxy (docs/OPERATIONS.md).
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import re
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, g, has_request_context, request

from sharing.web.ratelimit import budget_of

log = logging.getLogger("sharing.access")

REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_SUCCESS_COUNT = re.compile(rb'"total_count":(\d+),"success_count":(\d+)')
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def request_id() -> str | None:
    """The current request's id (None outside a request)."""
    if not has_request_context():
        return None
    return g.get("request_id")


def _accept_request_id(value: str | None) -> str:
    if value and _SAFE_REQUEST_ID.match(value):
        return value
    return uuid.uuid4().hex


# ---- metrics ----------------------------------------------------------------------------


@dataclass
class _Metrics:
    requests: Any
    latency: Any
    ingest_objects: Any
    ingest_bundles: Any
    match_items: Any
    feed_requests: Any
    rate_limited: Any


_metrics: _Metrics | None = None


def metrics() -> _Metrics:
    """The process's metric objects, created on first use (prometheus-client needs one set)."""
    global _metrics
    if _metrics is None:
        from prometheus_client import Counter, Histogram

        _metrics = _Metrics(
            requests=Counter(
                "palisade_http_requests",
                "HTTP requests by route template, method and status",
                ["endpoint", "method", "status"],
            ),
            latency=Histogram(
                "palisade_http_request_duration_seconds",
                "HTTP request latency by route template and method",
                ["endpoint", "method"],
                buckets=LATENCY_BUCKETS,
            ),
            ingest_objects=Counter(
                "palisade_ingest_objects",
                "STIX objects received in bundles, by outcome",
                ["outcome"],
            ),
            ingest_bundles=Counter(
                "palisade_ingest_bundles", "Bundle submissions by HTTP status", ["status"]
            ),
            match_items=Counter("palisade_match_items", "Items asked about in match requests"),
            feed_requests=Counter(
                "palisade_feed_requests",
                "Feed (TAXII and REST read) requests by status",
                ["status"],
            ),
            rate_limited=Counter(
                "palisade_rate_limited", "Requests refused by a rate limit, by budget", ["budget"]
            ),
        )
    return _metrics


def count_rate_limited(budget: str) -> None:
    metrics().rate_limited.labels(budget).inc()


def _record(response: Response) -> None:
    m = metrics()
    rule = request.url_rule.rule if request.url_rule is not None else "<unmatched>"
    status = str(response.status_code)
    m.requests.labels(rule, request.method, status).inc()
    started = g.get("_started")
    if started is not None:
        m.latency.labels(rule, request.method).observe(time.perf_counter() - started)
    budget = budget_of(request.method, request.path)
    if budget == "submit" and request.method == "POST" and rule.endswith(("/bundles", "/objects/")):
        m.ingest_bundles.labels(status).inc()
        if response.status_code in (200, 202) and not response.is_streamed:
            found = _SUCCESS_COUNT.search(response.get_data()[:512])
            if found:
                total, succeeded = int(found.group(1)), int(found.group(2))
                m.ingest_objects.labels("accepted").inc(succeeded)
                m.ingest_objects.labels("rejected").inc(total - succeeded)
    elif budget == "match" and response.status_code == 200:
        items = g.get("match_items")  # set by the match view: parsing the body again costs
        if items:
            m.match_items.inc(items)
    elif budget == "feed" and request.path.startswith("/taxii2"):
        m.feed_requests.labels(status).inc()


def _metrics_view(token: str | None) -> Any:
    def view() -> Response:
        from prometheus_client import (
            CONTENT_TYPE_LATEST,
            REGISTRY,
            CollectorRegistry,
            generate_latest,
        )

        if token is not None:
            presented = request.headers.get("Authorization", "")
            if not hmac.compare_digest(presented.encode(), f"Bearer {token}".encode()):
                from sharing.web.errors import render_error

                return render_error(401, "Authentication required", "metrics need the token")
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
        else:
            registry = REGISTRY
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)

    return view


# ---- logging ----------------------------------------------------------------------------


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = getattr(record, "request_id", None)
        if rid:
            payload["request_id"] = rid
        for key in ("method", "endpoint", "status", "duration_ms"):
            if hasattr(record, key):
                payload[key] = getattr(record, key)
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, separators=(",", ":"), default=str)


class _JsonHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marker class, so building a second app does not add a second handler."""


def _install_record_factory() -> None:
    """Give every log record made during a request its request id (whatever the logger)."""
    current = logging.getLogRecordFactory()
    if getattr(current, "_palisade_request_id", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = current(*args, **kwargs)
        if not hasattr(record, "request_id"):
            record.request_id = request_id()
        return record

    factory._palisade_request_id = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def configure_logging(json_logs: bool) -> None:
    _install_record_factory()
    logger = logging.getLogger("sharing")
    if json_logs and not any(isinstance(h, _JsonHandler) for h in logger.handlers):
        handler = _JsonHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
        logger.propagate = False


# ---- wiring -----------------------------------------------------------------------------


def _before() -> None:
    g._started = time.perf_counter()
    g.request_id = _accept_request_id(request.headers.get(REQUEST_ID_HEADER))


def _after(response: Response) -> Response:
    rid = g.get("request_id")
    if rid:
        response.headers[REQUEST_ID_HEADER] = rid
    try:
        _record(response)
    except Exception:  # metrics must never fail a request
        logging.getLogger("sharing.web").exception("recording metrics failed")
    if log.isEnabledFor(logging.INFO):
        started = g.get("_started")
        duration = round((time.perf_counter() - started) * 1000, 2) if started else None
        rule = request.url_rule.rule if request.url_rule is not None else "<unmatched>"
        log.info(
            "%s %s %s",
            request.method,
            rule,
            response.status_code,
            extra={
                "method": request.method,
                "endpoint": rule,
                "status": response.status_code,
                "duration_ms": duration,
            },
        )
    return response


def init_app(app: Flask) -> None:
    settings = app.config["PALISADE_SETTINGS"]
    configure_logging(settings.log_json)
    metrics()
    # First in line, so that every other before_request (rate limits, auth) sees the id.
    app.before_request_funcs.setdefault(None, []).insert(0, _before)
    app.after_request(_after)
    token = settings.extra.get("metrics_token") or os.environ.get("PALISADE_METRICS_TOKEN")
    app.add_url_rule("/metrics", "metrics", _metrics_view(token or None), methods=["GET"])
