"""Real HTTP on loopback: a Palisade server on its own fresh database, for client-side tests.

``LiveServer`` serves the real app with Werkzeug's threaded server on 127.0.0.1 and an
ephemeral port in a background thread (``multi_process=True`` starts gunicorn workers in a
subprocess instead, for tests that need several processes). Data is seeded through the same
services the app uses (``server.rt``); nothing is rolled back, each server gets a new database.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
from werkzeug.serving import make_server

from sharing import audit, create_app, migrate
from sharing.accounts import api_keys, consortium, orgs
from sharing.config import Settings
from sharing.crypto.keyring import KeySource, generate_keyring, write_keyring_file
from sharing.db import Database
from sharing.runtime import Runtime
from tests.stix_factories import TEST_CONSORTIUM_KEY

ACTOR = audit.Actor("system:test")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    def __init__(self, database_url: str, instance: Path, **overrides: Any) -> None:
        instance.mkdir(parents=True, exist_ok=True)
        self.instance = instance
        self.database_url = database_url
        self.key_file = instance / "palisade-keys.json"
        if not self.key_file.exists():
            write_keyring_file(self.key_file, generate_keyring())
        self.overrides = overrides
        self.settings = Settings.from_env(
            environ={"DATABASE_URL": database_url},
            overrides={"instance_path": instance, **overrides},
        )
        self.db = Database(database_url)
        migrate.upgrade(self.db.engine)
        source = KeySource.open(self.key_file, {}, create=False)
        self.rt = Runtime.build(self.settings, database=self.db, key_source=source)
        with self.db.transaction(write=True) as session:
            consortium.register(session, TEST_CONSORTIUM_KEY.key_id, actor=ACTOR)
        self.url = ""
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._process: subprocess.Popen[bytes] | None = None

    # ---- seeding ------------------------------------------------------------------------

    def member(self, name: str, scopes: str = "read,write,match") -> str:
        """Create (or reuse) organization ``name`` and return a new API key for it."""
        with self.db.transaction(write=True) as session:
            try:
                org = orgs.get_org(session, name)
            except Exception:
                org = orgs.create_org(session, name, actor=ACTOR)
            key, _ = api_keys.create_key(session, org, name="test", scopes=scopes, actor=ACTOR)
        return key

    def group(self, name: str, *members: str) -> None:
        with self.db.transaction(write=True) as session:
            group = orgs.create_group(session, name, actor=ACTOR)
            for member in members:
                orgs.add_group_member(session, group, orgs.get_org(session, member), actor=ACTOR)

    # ---- lifecycle ----------------------------------------------------------------------

    def start_thread(self) -> LiveServer:
        app = create_app(
            {"settings": self.settings, "database": self.db, "key_source": self.rt.keys}
        )
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def start_gunicorn(
        self,
        workers: int = 2,
        port: int | None = None,
        *,
        boot_timeout: float = 90,
        extra_env: dict[str, str] | None = None,
    ) -> LiveServer:
        env = {
            "DATABASE_URL": self.database_url,
            "PALISADE_INSTANCE": str(self.instance),
            "PALISADE_KEY_FILE": str(self.key_file),
        }
        env.update({f"PALISADE_{name.upper()}": str(v) for name, v in self.overrides.items()})
        env.update(extra_env or {})
        self._process, self.url = spawn_gunicorn(
            env,
            workers=workers,
            port=port,
            boot_timeout=boot_timeout,
            log_path=self.instance / "gunicorn.log",
        )
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server = None
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
            self._process = None
        self.db.dispose()


def spawn_gunicorn(
    env: dict[str, str],
    *,
    workers: int = 2,
    port: int | None = None,
    boot_timeout: float = 90,
    log_path: Path,
) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``gunicorn app:app`` on loopback in its own process group and wait for /readyz.

    The one way tests and benchmarks start a multi-process server. Its own process group lets a
    crash test ``kill -9`` master and workers at once; the probe is patient because a worker
    that is still importing the app makes it time out rather than be refused.
    """
    port = port or free_port()
    full_env = {**os.environ, **env}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-w",
            str(workers),
            "-k",
            "gthread",
            "--threads",
            "4",
            "--timeout",
            "300",
            "-b",
            f"127.0.0.1:{port}",
            "app:app",
        ],
        cwd=Path(__file__).resolve().parent.parent,
        env=full_env,
        stdout=subprocess.DEVNULL,
        stderr=log_path.open("ab"),
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + boot_timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url + "/readyz", timeout=5).status_code == 200:
                return process, url
        except requests.RequestException:
            time.sleep(0.2)
        if process.poll() is not None:
            raise RuntimeError(log_path.read_text(errors="replace")[-3000:])
    process.kill()
    raise RuntimeError(f"gunicorn did not become ready within {boot_timeout} s")


@contextmanager
def live_server(database_url: str, instance: Path, **overrides: Any) -> Iterator[LiveServer]:
    server = LiveServer(database_url, instance, **overrides).start_thread()
    try:
        yield server
    finally:
        server.stop()
