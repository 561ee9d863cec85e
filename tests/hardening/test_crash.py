"""kill -9 during ingest and during key rotation: nothing acknowledged is lost, nothing is torn.

Each round: members post bundles of fresh values as fast as they can through gunicorn; at a
random moment master and workers are SIGKILLed together; the server is restarted and then

- ``palisade check`` (run as a subprocess, as an operator would) passes;
- every acknowledged (202) submission is there in full: its status resource answers and every
  one of its values has a canonical indicator with this member's report;
- every unacknowledged submission is all-or-nothing: either none of its values is stored, or
  (the commit won the race with the kill, only the answer was lost) all of them are. The test
  counts the second case; it is the client's retry (same STIX ids -> no-op) that makes it safe.

Key rotation: ``palisade keys rotate`` runs as a subprocess beside a serving, writing server;
both are killed mid-rotation; after restart ``palisade check`` passes (every ciphertext still
decrypts under the key file), and a second ``keys rotate`` completes.

CI: one kill of server + rotation while members submit (both checks at once) per backend;
``-m slow``: 10 ingest-only kill rounds, and 3 rotation kills.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from sharing.accounts import api_keys
from sharing.check import run_checks
from sharing.ingest import get_status, submit_bundle
from sharing.models import Indicator, Report
from sharing.visibility import reporter_index
from tests.conftest import fresh_database_url
from tests.hardening.loadtools import STIX, bundle_bytes, hashed, kill9, start_gunicorn
from tests.live import LiveServer

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Sent:
    member: int
    raws: list[str]
    status: int | None = None  # None: no answer (killed in flight)
    status_id: str | None = None


def palisade(
    server: LiveServer, *args: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": server.database_url,
            "PALISADE_INSTANCE": str(server.instance),
            "PALISADE_KEY_FILE": str(server.key_file),
        }
    )
    return subprocess.run(
        [sys.executable, "-c", "from sharing.cli import main; main()", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _flood(
    server: LiveServer, keys: list[str], stop: threading.Event, sent: list[Sent], tag: str
) -> list[threading.Thread]:
    def run(member: int) -> None:
        n = 0
        with requests.Session() as session:
            while not stop.is_set():
                raws = [f"{tag}-m{member}-b{n}-{i}@crash.test" for i in range(40)]
                n += 1
                record = Sent(member, raws)
                sent.append(record)
                try:
                    answer = session.post(
                        server.url + "/api/v1/bundles",
                        data=bundle_bytes(raws),
                        headers={"Authorization": f"Bearer {keys[member]}", "Content-Type": STIX},
                        timeout=30,
                    )
                except requests.RequestException:
                    return  # the server died under us: this one is unacknowledged
                record.status = answer.status_code
                if answer.status_code == 202:
                    record.status_id = answer.json()["id"]

    threads = [threading.Thread(target=run, args=(m,), daemon=True) for m in range(len(keys))]
    for thread in threads:
        thread.start()
    return threads


def _verify(
    server: LiveServer, keys: list[str], sent: list[Sent], org_ids: list[int], cli: bool = False
) -> int:
    """Check every sent bundle; returns how many unacknowledged ones had committed."""
    if cli:
        result = palisade(server, "check")
        assert result.returncode == 0, result.stderr
    else:
        report = run_checks(server.rt)
        assert report.ok, report.as_dict()
    cipher = server.rt.cipher
    reporters = [reporter_index(cipher, org_id) for org_id in org_ids]
    committed_unacked = 0
    with server.db.transaction() as session:
        stored = {
            (bi, reporter)
            for bi, reporter in session.execute(
                select(Indicator.blind_index, Report.reporter_bi).join(
                    Report, Report.indicator_id == Indicator.id
                )
            )
        }
    for record in sent:
        present = [
            (cipher.indicator_blind_index("email", hashed(raw)), reporters[record.member]) in stored
            for raw in record.raws
        ]
        if record.status == 202:
            assert all(present), f"acknowledged submission {record.status_id} lost values"
            with server.db.transaction() as session:
                principal = api_keys.authenticate(session, keys[record.member], None)
            assert record.status_id is not None
            status = get_status(server.rt, principal, record.status_id)
            assert status["success_count"] == len(record.raws)
        else:
            assert record.status in (None, 503), record.status
            assert all(present) or not any(present), "a torn submission"
            committed_unacked += all(present)
    return committed_unacked


def _members(server: LiveServer, count: int) -> tuple[list[str], list[int]]:
    keys = [server.member(f"crash-{i}") for i in range(count)]
    org_ids = []
    for key in keys:
        with server.db.transaction() as session:
            org_ids.append(api_keys.authenticate(session, key, None).org_id)
    return keys, org_ids


def _ingest_rounds(backend: str, tmp_path: Path, rounds: int) -> None:
    server = LiveServer(fresh_database_url(backend, tmp_path, "palisade_crash"), tmp_path / "inst")
    rng = random.Random(5)
    try:
        keys, org_ids = _members(server, 3)
        sent: list[Sent] = []
        committed_unacked = 0
        for round_no in range(rounds):
            start_gunicorn(server, workers=2)
            stop = threading.Event()
            threads = _flood(server, keys, stop, sent, f"r{round_no}")
            time.sleep(rng.uniform(0.8, 2.0))
            kill9(server)
            stop.set()
            for thread in threads:
                thread.join(timeout=60)
            # The next round's start is this round's restart; the store is checked before it.
            committed_unacked += _verify(server, keys, sent, org_ids, cli=round_no == rounds - 1)
        start_gunicorn(server, workers=2)
        assert requests.get(server.url + "/readyz", timeout=10).status_code == 200
        acked = sum(1 for s in sent if s.status == 202)
        assert acked > 0, "no submission got through before the kills: test proves nothing"
        print(f"{acked} acknowledged, {committed_unacked} committed but unacknowledged")
    finally:
        server.stop()


@pytest.mark.slow
def test_kill_9_during_ingest_long(backend: str, tmp_path: Path) -> None:
    _ingest_rounds(backend, tmp_path, rounds=10)


def _rotation_kills(backend: str, tmp_path: Path, kills: int, workers: int = 2) -> None:
    server = LiveServer(fresh_database_url(backend, tmp_path, "palisade_rot"), tmp_path / "inst")
    try:
        keys, org_ids = _members(server, 2)
        from tests.stix_factories import body, make_bundle, make_indicator

        with server.db.transaction() as session:
            principal = api_keys.authenticate(session, keys[0], None)
        for chunk in range(1):
            raws = [f"pre{chunk}-{i}@rot.test" for i in range(400)]
            submit_bundle(
                server.rt, principal, body(make_bundle(*[make_indicator(r) for r in raws]))
            )
        sent: list[Sent] = []
        for kill_no in range(kills):
            start_gunicorn(server, workers=workers)
            stop = threading.Event()
            threads = _flood(server, keys, stop, sent, f"k{kill_no}")
            before = server.key_file.read_text()
            rotation = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    "from sharing.cli import main; main()",
                    "keys",
                    "rotate",
                    "--batch-size",
                    "50",
                    "--grace-seconds",
                    "0",
                ],
                cwd=ROOT,
                env={
                    **os.environ,
                    "DATABASE_URL": server.database_url,
                    "PALISADE_INSTANCE": str(server.instance),
                    "PALISADE_KEY_FILE": str(server.key_file),
                },
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            # Kill once the new key is written, i.e. during the re-encryption batches.
            deadline = time.monotonic() + 60
            while server.key_file.read_text() == before and time.monotonic() < deadline:
                time.sleep(0.05)
            assert server.key_file.read_text() != before, "rotation never started"
            time.sleep(0.2 + 0.3 * kill_no)
            assert rotation.poll() is None, "rotation finished before the kill: nothing proved"
            rotation.kill()
            rotation.wait()
            kill9(server)
            stop.set()
            for thread in threads:
                thread.join(timeout=60)
            server.rt.keys.refresh()
            _verify(server, keys, sent, org_ids)
        start_gunicorn(server, workers=workers)  # restart over the half-rotated store
        finished = palisade(server, "keys", "rotate", "--grace-seconds", "0")
        assert finished.returncode == 0, finished.stderr
        server.rt.keys.refresh()
        checked = palisade(server, "check")
        assert checked.returncode == 0, checked.stderr
        assert requests.get(server.url + "/readyz", timeout=10).status_code == 200
    finally:
        server.stop()


def test_kill_9_during_ingest_and_key_rotation(backend: str, tmp_path: Path) -> None:
    """CI variant: one kill of server and rotation together while members submit."""
    _rotation_kills(backend, tmp_path, kills=1, workers=1)  # one worker: boots twice as fast


@pytest.mark.slow
def test_kill_9_during_key_rotation_long(backend: str, tmp_path: Path) -> None:
    _rotation_kills(backend, tmp_path, kills=3)
