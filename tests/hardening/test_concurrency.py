"""Eight members submitting overlapping bundles at once through gunicorn with several workers.

Afterwards the store holds exactly one canonical indicator per distinct value, exactly one
report per (member, value), the reporter counts are exact, no request got a 500 (only 202, or
503 + Retry-After which the client retries), ``palisade check`` passes, and the Prometheus
metrics of all workers (multi-process mode) add up to what the clients saw.

CI: 8 members x 3 bundles x 60 indicators. Long: ``pytest -m slow`` runs 8 x 10 x 1000.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select

from sharing.check import run_checks
from sharing.models import Indicator, Report
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

MEMBERS = 8


def _run(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bundles: int, size: int
) -> None:
    metrics_dir = tmp_path / "prom"
    metrics_dir.mkdir()
    # Only the server's environment: prometheus_client reads this variable in whichever
    # process sees it, and the test process must stay in single-process mode.
    metrics_env = {"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    server = LiveServer(fresh_database_url(backend, tmp_path, "palisade_conc"), tmp_path / "inst")
    try:
        keys = [server.member(f"lab-{i}") for i in range(MEMBERS)]
        plans = [raw_values(i, bundles, size, pool=size * 2) for i in range(MEMBERS)]
        payloads = [[bundle_bytes(chunk) for chunk in plan] for plan in plans]
        start_gunicorn(server, workers=3, extra_env=metrics_env)
        log = PostLog()

        def member_job(i: int) -> list[int]:
            with requests.Session() as session:
                return [
                    post_with_retry(session, server.url, keys[i], data, log).status_code
                    for data in payloads[i]
                ]

        with ThreadPoolExecutor(MEMBERS) as pool:
            finals = [s for result in pool.map(member_job, range(MEMBERS)) for s in result]
        assert set(finals) == {202}, finals
        assert set(log.statuses) <= {202, 503}, log.statuses

        expected = Counter(hashed(raw) for plan in plans for chunk in plan for raw in chunk)
        with server.db.transaction() as session:
            assert session.scalar(select(func.count()).select_from(Indicator)) == len(expected)
            assert session.scalar(select(func.count()).select_from(Report)) == sum(
                expected.values()
            )
            duplicates = session.execute(
                select(Indicator.blind_index)
                .group_by(Indicator.blind_index)
                .having(func.count() > 1)
            ).all()
            assert not duplicates
            per_index = dict(
                session.execute(
                    select(Indicator.blind_index, func.count(func.distinct(Report.reporter_bi)))
                    .join(Report, Report.indicator_id == Indicator.id)
                    .group_by(Indicator.blind_index)
                ).all()
            )
        cipher = server.rt.cipher
        for value, reporters in expected.items():
            assert per_index[cipher.indicator_blind_index("email", value)] == reporters, value
        assert max(expected.values()) > 1  # the bundles really overlapped

        report = run_checks(server.rt)
        assert report.ok, report.as_dict()

        from prometheus_client.parser import text_string_to_metric_families

        text = requests.get(server.url + "/metrics", timeout=10).text
        accepted = sum(
            s.value
            for f in text_string_to_metric_families(text)
            for s in f.samples
            if s.name == "palisade_ingest_bundles_total" and s.labels.get("status") == "202"
        )
        assert accepted == log.statuses[202]
    finally:
        server.stop()


def test_eight_members_at_once_through_gunicorn(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _run(backend, tmp_path, monkeypatch, bundles=3, size=60)


@pytest.mark.slow
def test_eight_members_at_once_long(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _run(backend, tmp_path, monkeypatch, bundles=10, size=1000)
