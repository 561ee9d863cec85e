"""Liveness/readiness probes, and JSON (never HTML) for unknown URLs and wrong methods."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from sharing import create_app
from sharing.config import Settings
from sharing.crypto.keyring import KeySource, generate_keyring
from sharing.db import Database
from tests.conftest import fresh_database_url


def _app_on(database: Database, tmp_path: Path) -> Flask:
    settings = Settings.from_env(environ={}, overrides={"instance_path": tmp_path / "instance"})
    return create_app(
        {
            "settings": settings,
            "database": database,
            "key_source": KeySource(generate_keyring()),
            "TESTING": True,
        }
    )


def test_healthz_answers_200_without_auth(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_answers_200_on_a_migrated_database(client: FlaskClient, backend: str) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ready", "database": backend}


def test_readyz_answers_503_when_the_schema_is_not_at_head(backend: str, tmp_path: Path) -> None:
    database = Database(fresh_database_url(backend, tmp_path, "unmigrated"))
    try:
        response = _app_on(database, tmp_path).test_client().get("/readyz")
    finally:
        database.dispose()
    assert response.status_code == 503
    assert response.is_json
    assert response.get_json() == {"status": "unavailable", "database": "schema not at head"}


def test_readyz_answers_503_when_the_database_is_unreachable(backend: str, tmp_path: Path) -> None:
    if backend == "sqlite":
        (tmp_path / "not-a-file.db").mkdir()  # a directory: SQLite cannot open it
        url = f"sqlite:///{tmp_path / 'not-a-file.db'}"
    else:
        url = "postgresql+psycopg://postgres@127.0.0.1:1/palisade?connect_timeout=2"
    database = Database(url)
    try:
        response = _app_on(database, tmp_path).test_client().get("/readyz")
    finally:
        database.dispose()
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable", "database": "unreachable"}


def test_healthz_does_not_need_the_database(tmp_path: Path) -> None:
    (tmp_path / "dir.db").mkdir()
    database = Database(f"sqlite:///{tmp_path / 'dir.db'}")
    try:
        assert _app_on(database, tmp_path).test_client().get("/healthz").status_code == 200
    finally:
        database.dispose()


@pytest.mark.parametrize("path", ["/no-such-page", "/api/v1/no-such-resource", "/healthz/extra"])
def test_an_unknown_url_is_a_json_404(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["status"] == 404 and body["error"] == "Not Found"
    assert "<html" not in response.get_data(as_text=True).lower()


def test_a_wrong_method_is_a_json_405_with_allow(client: FlaskClient) -> None:
    response = client.post("/healthz")
    assert response.status_code == 405
    assert response.mimetype == "application/json"
    assert response.get_json()["status"] == 405
    allowed = {m.strip() for m in response.headers["Allow"].split(",")}
    assert "GET" in allowed and "POST" not in allowed


def test_an_unknown_taxii_url_gets_a_taxii_error_body(client: FlaskClient) -> None:
    response = client.get("/taxii2/no-such-root/")
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/taxii+json;version=2.1"
    body = response.get_json(force=True)
    assert body["http_status"] == "404" and body["error_id"]


def test_the_wsgi_entry_point_freezes_the_start_up_heap(tmp_path: Path) -> None:
    # gunicorn imports app.py in every worker; what exists once the app is built must be out of
    # the collector's way (sharing/web/gc_tuning.py), while create_app alone must not freeze.
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    probe = (
        "import gc; import sharing; sharing.create_app(); before = gc.get_freeze_count(); "
        "import app; print(before, gc.get_freeze_count(), app.app.name)"
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}",
        "PALISADE_INSTANCE": str(tmp_path),
        "PYTHONPATH": str(root),
    }
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=root, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr[-2000:]
    before, after, _name = out.stdout.split()
    assert int(before) == 0 and int(after) > 10_000
