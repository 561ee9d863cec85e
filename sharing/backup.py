"""Online, consistent, backend-neutral backups: every table as JSON lines in one tar.gz.

Read inside one snapshot (SQLite's WAL read transaction, PostgreSQL REPEATABLE READ) while the
service keeps serving. Ciphertexts are copied as they are, so a backup is no more readable than
the database unless it carries the key file (``--without-keys`` leaves it out). Because the
format is neutral, a restore also moves an instance from SQLite to PostgreSQL.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import os
import tarfile
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Integer, Table, func, insert, select, text

from sharing import migrate
from sharing.config import Settings
from sharing.crypto.keyring import KeyRing, write_keyring_file
from sharing.db import Database
from sharing.errors import Conflict, InvalidInput
from sharing.models import Base
from sharing.models.base import utcnow
from sharing.runtime import Runtime

FORMAT = "palisade-backup/1"
BATCH = 2000


def _encode(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$b64": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, datetime):
        return {"$dt": value.isoformat()}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if "$b64" in value:
            return base64.b64decode(value["$b64"])
        if "$dt" in value:
            return datetime.fromisoformat(value["$dt"])
    return value


def _tables() -> list[Table]:
    return list(Base.metadata.sorted_tables)


def write_backup(rt: Runtime, output: Path, *, include_keys: bool = True) -> dict[str, Any]:
    revision = migrate.current_revision(rt.db.engine)
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "created_at": utcnow().isoformat(),
        "revision": revision,
        "dialect": rt.db.dialect,
        "tables": {},
        "includes_keys": include_keys,
    }
    fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # O_CREAT's mode does not apply to a file that already exists
    with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as archive:
        with rt.db.engine.connect() as conn:
            if rt.db.dialect == "postgresql":
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                for table in _tables():
                    buffer = io.BytesIO()
                    count = 0
                    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as stream:
                        result = conn.execution_options(yield_per=BATCH).execute(select(table))
                        for row in result.mappings():
                            record = {k: _encode(v) for k, v in row.items()}
                            stream.write(json.dumps(record).encode() + b"\n")
                            count += 1
                    manifest["tables"][table.name] = count
                    _add(archive, f"tables/{table.name}.jsonl.gz", buffer.getvalue())
        if include_keys:
            _add(archive, "keys.json", rt.keys.current().to_json().encode())
        _add(archive, "manifest.json", json.dumps(manifest, indent=2).encode())
    return manifest


def _add(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o600
    archive.addfile(info, io.BytesIO(data))


def _read_member(archive: tarfile.TarFile, name: str) -> bytes:
    try:
        member = archive.extractfile(name)
    except KeyError as exc:
        raise InvalidInput(f"backup is missing {name}") from exc
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise InvalidInput(f"backup is unreadable (truncated?): {exc}") from exc
    if member is None:
        raise InvalidInput(f"backup entry {name} is not a file")
    try:
        return member.read()
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise InvalidInput(f"backup entry {name} is unreadable (truncated?): {exc}") from exc


def restore_backup(settings: Settings, archive_path: Path) -> dict[str, Any]:
    """Restore into an empty database; refuses to overwrite data or different keys."""
    try:
        archive = tarfile.open(archive_path, mode="r:gz")  # noqa: SIM115 (closed below)
    except (tarfile.TarError, OSError) as exc:
        raise InvalidInput(f"{archive_path} is not a Palisade backup: {exc}") from exc
    with archive:
        try:
            manifest = json.loads(_read_member(archive, "manifest.json"))
        except ValueError as exc:
            raise InvalidInput(f"{archive_path} has an unreadable manifest.json: {exc}") from exc
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise InvalidInput(f"{archive_path} is not a {FORMAT} archive")
        db = Database(settings.database_url)
        try:
            _check_empty(db)
            if manifest.get("includes_keys"):
                _restore_keys(settings, _read_member(archive, "keys.json").decode())
            migrate.upgrade(db.engine, manifest["revision"] or "head")
            with db.engine.begin() as conn:
                for table in _tables():
                    if table.name not in manifest["tables"]:
                        continue
                    name = f"tables/{table.name}.jsonl.gz"
                    try:
                        data = gzip.decompress(_read_member(archive, name))
                        rows = [
                            {k: _decode(v) for k, v in json.loads(line).items()}
                            for line in data.splitlines()
                            if line
                        ]
                    except (OSError, EOFError, ValueError, AttributeError) as exc:
                        raise InvalidInput(f"backup entry {name} is corrupt: {exc}") from exc
                    for start in range(0, len(rows), BATCH):
                        conn.execute(insert(table), rows[start : start + BATCH])
                if db.dialect == "postgresql":
                    _reset_sequences(conn)
            migrate.upgrade(db.engine, "head")
        finally:
            db.dispose()
    return manifest


def _check_empty(db: Database) -> None:
    from sqlalchemy import inspect

    existing = set(inspect(db.engine).get_table_names())
    with db.engine.connect() as conn:
        for table in _tables():
            if table.name in existing and conn.scalar(select(func.count()).select_from(table)):
                raise Conflict(
                    f"the target database already holds data (table {table.name}); "
                    "restore needs an empty database"
                )


def _restore_keys(settings: Settings, key_json: str) -> None:
    assert settings.key_file is not None
    ring = KeyRing.from_json(key_json)
    if settings.key_file.exists():
        if settings.key_file.read_text().strip() != ring.to_json().strip():
            raise Conflict(
                f"{settings.key_file} exists and differs from the backup's keys; move it away first"
            )
        return
    write_keyring_file(settings.key_file, ring)


def _reset_sequences(conn: Any) -> None:
    """Move each serial sequence past the restored ids (PostgreSQL only)."""
    for table in _tables():
        if "id" in table.c and isinstance(table.c.id.type, Integer):
            highest = conn.scalar(select(func.max(table.c.id))) or 0
            conn.execute(
                text("SELECT setval(pg_get_serial_sequence(:t, 'id'), :v, false)"),
                {"t": table.name, "v": highest + 1},
            )
