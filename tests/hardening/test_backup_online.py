"""Online backup while the server takes writes, then restore into an empty store.

The backup is taken by ``palisade backup`` (a subprocess, as an operator would) while members
keep submitting through the live server. The archive must be a consistent snapshot: the
restored store passes every ``palisade check`` (audit chain, gap-free feed log, every ciphertext
decrypts with the archived keys), and every submission acknowledged before the backup started
is in it. SQLite -> the same backend; the format is neutral, so this also covers moves.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import requests
from sqlalchemy import func, select

from sharing.check import run_checks
from sharing.config import Settings
from sharing.crypto.keyring import KeySource
from sharing.db import Database
from sharing.models import Submission
from sharing.runtime import Runtime
from tests.conftest import fresh_database_url
from tests.hardening.loadtools import STIX, bundle_bytes
from tests.live import live_server

ROOT = Path(__file__).resolve().parents[2]


def test_backup_under_writes_restores_to_a_whole_store(backend: str, tmp_path: Path) -> None:
    url = fresh_database_url(backend, tmp_path, "palisade_bk")
    with live_server(url, tmp_path / "inst") as server:
        key = server.member("lab-bk")
        headers = {"Authorization": f"Bearer {key}", "Content-Type": STIX}
        acked_before: list[str] = []
        for n in range(3):
            answer = requests.post(
                server.url + "/api/v1/bundles",
                data=bundle_bytes([f"before{n}-{i}@bk.test" for i in range(50)]),
                headers=headers,
                timeout=60,
            )
            assert answer.status_code == 202
            acked_before.append(answer.json()["id"])
        stop = threading.Event()
        during: list[int] = []

        def writer() -> None:
            n = 0
            while not stop.is_set():
                raws = [f"during{n}-{i}@bk.test" for i in range(50)]
                answer = requests.post(
                    server.url + "/api/v1/bundles",
                    data=bundle_bytes(raws),
                    headers=headers,
                    timeout=60,
                )
                during.append(answer.status_code)
                n += 1

        thread = threading.Thread(target=writer, daemon=True)
        thread.start()
        archive = tmp_path / "backup.tar.gz"
        env = {
            **os.environ,
            "DATABASE_URL": server.database_url,
            "PALISADE_INSTANCE": str(server.instance),
            "PALISADE_KEY_FILE": str(server.key_file),
        }
        result = subprocess.run(
            [sys.executable, "-c", "from sharing.cli import main; main()", "backup", str(archive)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        stop.set()
        thread.join(timeout=60)
        assert result.returncode == 0, result.stderr
        assert during and set(during) == {202}, during
        assert requests.get(server.url + "/readyz", timeout=10).status_code == 200

    target_instance = tmp_path / "restored"
    target_url = fresh_database_url(backend, tmp_path, "palisade_rs")
    restore_env = {
        **os.environ,
        "DATABASE_URL": target_url,
        "PALISADE_INSTANCE": str(target_instance),
    }
    restored = subprocess.run(
        [sys.executable, "-c", "from sharing.cli import main; main()", "restore", str(archive)],
        cwd=ROOT,
        env=restore_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert restored.returncode == 0, restored.stderr
    settings = Settings.from_env(
        environ={"DATABASE_URL": target_url}, overrides={"instance_path": target_instance}
    )
    db = Database(target_url)
    try:
        assert settings.key_file is not None
        rt = Runtime.build(
            settings, database=db, key_source=KeySource.open(settings.key_file, {}, create=False)
        )
        report = run_checks(rt)
        assert report.ok, report.as_dict()
        with db.transaction() as session:
            ids = set(session.scalars(select(Submission.id)))
            assert set(acked_before) <= ids
            assert session.scalar(select(func.count()).select_from(Submission)) >= 3
    finally:
        db.dispose()
