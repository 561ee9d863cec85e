"""Shared pieces for the benchmarks: a fresh instance, a gunicorn server, member credentials.

Benchmarks run against loopback only and stop by themselves. Each creates its own instance
folder under bench/.work/ (git-ignored) so it never touches ./instance.
"""

from __future__ import annotations

import http.client
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from sharing import audit, migrate
from sharing.accounts import api_keys, consortium, orgs
from sharing.config import Settings
from sharing.crypto.keyring import KeySource, generate_keyring, write_keyring_file
from sharing.db import Database
from sharing.runtime import Runtime

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / ".work"
ACTOR = audit.Actor("system:bench")


def stop_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit so ``with Instance(...)`` stops its gunicorn on the way out
    (the server runs in its own process group and would otherwise outlive the benchmark)."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


def machine() -> str:
    return f"{platform.node()} · {os.cpu_count()} cores · Python {platform.python_version()}"


class KeepAliveClient:
    """One persistent HTTP/1.1 connection from the standard library, for latency figures.

    Why not ``requests``: on this machine its own CPU adds ~1 to 2 ms to every call (measured side
    by side in bench/match/run.py), which would make a latency figure mostly about the client.
    Benchmarks that report latency with this client also report ``requests`` beside it.
    """

    def __init__(self, base_url: str, headers: dict[str, str]) -> None:
        host, _, port = base_url.removeprefix("http://").partition(":")
        self.connection = http.client.HTTPConnection(host, int(port or 80), timeout=120)
        self.headers = headers

    def post(
        self, path: str, body: bytes, content_type: str = "application/json"
    ) -> tuple[int, bytes]:
        headers = {**self.headers, "Content-Type": content_type}
        try:
            self.connection.request("POST", path, body=body, headers=headers)
            response = self.connection.getresponse()
        except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
            # the server closed an idle keep-alive connection (gunicorn's keepalive is 2 s)
            self.connection.close()
            self.connection.request("POST", path, body=body, headers=headers)
            response = self.connection.getresponse()
        return response.status, response.read()

    def close(self) -> None:
        self.connection.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Instance:
    """A fresh Palisade instance (SQLite by default) with an optional gunicorn server."""

    def __init__(
        self, name: str, database_url: str | None = None, *, copy_of: Path | None = None
    ) -> None:
        """A new instance under bench/.work/<name>; ``copy_of``: start from a copy of a saved
        SQLite instance folder (see :meth:`save`) instead of an empty store."""
        self.folder = WORK / name
        shutil.rmtree(self.folder, ignore_errors=True)
        if copy_of is not None:
            shutil.copytree(copy_of, self.folder)
            # A 5M store is ~6 GB: let the kernel finish writing the copy back now, not
            # during the first measured phase.
            os.sync()
        else:
            self.folder.mkdir(parents=True)
        self.key_file = self.folder / "palisade-keys.json"
        if copy_of is None:
            write_keyring_file(self.key_file, generate_keyring())
        self.database_url = database_url or f"sqlite:///{self.folder / 'palisade.db'}"
        self.settings = Settings.from_env(
            environ={"DATABASE_URL": self.database_url}, overrides={"instance_path": self.folder}
        )
        self.db = Database(self.database_url)
        migrate.upgrade(self.db.engine)
        self.rt = Runtime.build(
            self.settings,
            database=self.db,
            key_source=KeySource.open(self.key_file, {}, create=False),
        )
        if copy_of is None:
            with self.db.transaction(write=True) as session:
                consortium.register(session, "c1", actor=ACTOR)
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""

    def member(self, name: str) -> str:
        with self.db.transaction(write=True) as session:
            org = orgs.create_org(session, name, actor=ACTOR)
            key, _ = api_keys.create_key(
                session, org, name="bench", scopes="read,write,match", actor=ACTOR
            )
        return key

    def serve(self, workers: int = 2, extra_env: dict[str, str] | None = None) -> str:
        from tests.live import spawn_gunicorn

        env = {
            "DATABASE_URL": self.database_url,
            "PALISADE_INSTANCE": str(self.folder),
            "PALISADE_KEY_FILE": str(self.key_file),
            **(extra_env or {}),
        }
        self.process, self.url = spawn_gunicorn(
            env, workers=workers, boot_timeout=120, log_path=self.folder / "gunicorn.log"
        )
        return self.url

    def save(self, target: Path) -> None:
        """Copy this SQLite instance (database and key file) to ``target`` for later runs."""
        import sqlite3

        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        # SQLite's online backup: a consistent copy whatever the WAL holds.
        source = sqlite3.connect(self.folder / "palisade.db")
        copy = sqlite3.connect(target / "palisade.db")
        try:
            source.backup(copy)
        finally:
            copy.close()
            source.close()
        shutil.copy2(self.key_file, target / "palisade-keys.json")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)
            self.process = None
        self.db.dispose()

    def __enter__(self) -> Instance:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
