"""Does the audit chain stay one unbroken line when many workers append at once?

Matches append from autocommit connections (PostgreSQL) while bundles append inside their
write transactions, from three gunicorn workers. Afterwards the chain verifies, every request
left exactly one row, and no request failed.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from sqlalchemy import func, select

from sharing import audit
from sharing.models import AuditEntry
from tests.conftest import fresh_database_url
from tests.hardening.loadtools import (
    PostLog,
    bundle_bytes,
    hashed,
    post_with_retry,
    raw_values,
    start_gunicorn,
)
from tests.live import LiveServer

MATCHERS = 6
MATCHES_EACH = 30
SUBMITTERS = 2
BUNDLES_EACH = 3


def test_concurrent_matches_and_bundles_leave_one_verified_chain(
    backend: str, tmp_path: Path
) -> None:
    server = LiveServer(fresh_database_url(backend, tmp_path, "palisade_audit"), tmp_path / "i")
    try:
        keys = [server.member(f"lab-{i}") for i in range(MATCHERS + SUBMITTERS)]
        plans = [raw_values(i, BUNDLES_EACH, 20, pool=40) for i in range(SUBMITTERS)]
        with server.db.transaction() as session:
            before = session.scalar(select(func.count()).select_from(AuditEntry)) or 0
        start_gunicorn(server, workers=3)
        log = PostLog()

        def matcher(i: int) -> list[int]:
            body = {"items": [{"kind": "email", "value": hashed(f"m{i}@example.com")}]}
            headers = {"Authorization": f"Bearer {keys[i]}"}
            with requests.Session() as http:
                return [
                    http.post(
                        server.url + "/api/v1/match", json=body, headers=headers, timeout=60
                    ).status_code
                    for _ in range(MATCHES_EACH)
                ]

        def submitter(i: int) -> list[int]:
            with requests.Session() as http:
                return [
                    post_with_retry(
                        http, server.url, keys[MATCHERS + i], bundle_bytes(chunk), log
                    ).status_code
                    for chunk in plans[i]
                ]

        with ThreadPoolExecutor(MATCHERS + SUBMITTERS) as pool:
            matches = [pool.submit(matcher, i) for i in range(MATCHERS)]
            bundles = [pool.submit(submitter, i) for i in range(SUBMITTERS)]
            match_statuses = [s for f in matches for s in f.result()]
            bundle_statuses = [s for f in bundles for s in f.result()]
        assert set(match_statuses) == {200}, match_statuses
        assert set(bundle_statuses) == {202}, bundle_statuses

        with server.db.transaction() as session:
            result = audit.verify(session)
            actions = dict(
                session.execute(
                    select(AuditEntry.action, func.count())
                    .where(AuditEntry.id > before)
                    .group_by(AuditEntry.action)
                ).all()
            )
        assert result.ok, result
        assert actions["match"] == MATCHERS * MATCHES_EACH
        assert actions["bundle.submit"] == SUBMITTERS * BUNDLES_EACH
    finally:
        server.stop()
