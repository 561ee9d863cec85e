"""Operator commands for the service itself: serve, migrations, keys, audit, backup."""

from __future__ import annotations

import os
from pathlib import Path

import click

from sharing import audit, migrate
from sharing.cli.base import (
    EXIT_FAILURE,
    CliState,
    cli,
    emit_json,
    fail,
    handle_errors,
    pass_state,
    say,
)
from sharing.crypto.keyring import generate_keyring, write_keyring_file


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
@click.option("--demo", is_flag=True, help="Seed a demo consortium if the database is empty.")
@click.option("--no-migrate", is_flag=True, help="Do not run migrations before serving.")
@pass_state
@handle_errors
def serve(
    state: CliState, host: str, port: int, workers: int, demo: bool, no_migrate: bool
) -> None:
    """Serve Palisade with gunicorn (stateless workers; SQLite by default)."""
    from sharing import demo as demo_seed
    from sharing.keyrotation import ensure_key_records
    from sharing.web.server import run_gunicorn

    rt = state.runtime()
    if not no_migrate:
        migrate.upgrade(rt.db.engine)
    ensure_key_records(rt.db, rt.keys.current())
    if demo:
        seeded = demo_seed.seed_if_empty(rt)
        if seeded is not None:
            demo_seed.print_welcome(seeded, f"http://{host}:{port}")
        else:
            say("database already has members; demo consortium not seeded")
    # Workers build their own Runtime from the same environment and instance folder.
    os.environ["PALISADE_INSTANCE"] = str(rt.settings.instance_path)
    rt.db.dispose()
    say(f"serving Palisade on http://{host}:{port} with {workers} worker(s)")
    run_gunicorn(host, port, workers)


@cli.group()
def db() -> None:
    """Database schema (Alembic migrations)."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@pass_state
@handle_errors
def db_upgrade(state: CliState, revision: str) -> None:
    """Apply migrations up to REVISION."""
    from sharing.keyrotation import ensure_key_records

    rt = state.runtime()
    migrate.upgrade(rt.db.engine, revision)
    if migrate.is_at_head(rt.db.engine):
        # Record the key ids now, so `keys status` is accurate before the first `serve`.
        ensure_key_records(rt.db, rt.keys.current())
    say(f"database at revision {migrate.current_revision(rt.db.engine)}")


@db.command("current")
@pass_state
@handle_errors
def db_current(state: CliState) -> None:
    """Print the current schema revision."""
    rt = state.runtime()
    click.echo(migrate.current_revision(rt.db.engine) or "empty")


@cli.group()
def keys() -> None:
    """The server's encryption keys (never the consortium key, which members hold)."""


@keys.command("init")
@pass_state
@handle_errors
def keys_init(state: CliState) -> None:
    """Create the key file (mode 0600) for a new deployment."""
    settings = state.settings()
    assert settings.key_file is not None
    write_keyring_file(settings.key_file, generate_keyring())
    say(f"created {settings.key_file} (mode 0600); back it up separately from the database")


@keys.command("rotate")
@click.option("--batch-size", default=500, show_default=True, type=click.IntRange(1, 100_000))
@click.option(
    "--grace-seconds",
    type=click.FloatRange(min=0),
    default=None,
    help="Wait before the catch-up pass so running workers notice the new key "
    "(default: the key-file recheck interval plus one second).",
)
@pass_state
@handle_errors
def keys_rotate(state: CliState, batch_size: int, grace_seconds: float | None) -> None:
    """Add a data key, make it active and re-encrypt every stored value in batches."""
    from sharing.keyrotation import ensure_key_records, rotate

    rt = state.runtime(create_keys=False)
    ensure_key_records(rt.db, rt.keys.current())
    extra = {} if grace_seconds is None else {"grace_seconds": grace_seconds}
    result = rotate(rt.db, rt.keys, actor=audit.CLI, batch_size=batch_size, **extra)
    say(
        f"active data key is now {result.new_key_id}; re-encrypted {result.reencrypted} "
        f"values in {result.passes} passes"
    )


@keys.command("status")
@pass_state
@handle_errors
def keys_status(state: CliState) -> None:
    """Key ids, which is active, and how many values each key still protects."""
    from sharing.keystatus import key_status

    rt = state.runtime(create_keys=False)
    emit_json(key_status(rt))


@cli.group("audit")
def audit_group() -> None:
    """The hash-chained audit log."""


@audit_group.command("verify")
@pass_state
@handle_errors
def audit_verify(state: CliState) -> None:
    """Check every link of the audit chain; exit 1 at the first broken one."""
    rt = state.runtime(create_keys=False)
    with rt.db.transaction() as session:
        result = audit.verify(session)
    if not result.ok:
        fail(f"audit chain broken at entry {result.broken_at}: {result.reason}", EXIT_FAILURE)
    say(f"audit chain intact: {result.checked} entries")
    click.echo(result.head_hash)


@cli.command()
@click.argument("output", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--without-keys",
    is_flag=True,
    help="Leave the key file out (store it separately; the backup is then unreadable without it).",
)
@pass_state
@handle_errors
def backup(state: CliState, output: Path, without_keys: bool) -> None:
    """Write an online, consistent backup of the database (and key file) to OUTPUT."""
    from sharing.backup import write_backup

    rt = state.runtime(create_keys=False)
    manifest = write_backup(rt, output, include_keys=not without_keys)
    say(f"backup written to {output}: {sum(manifest['tables'].values())} rows")


@cli.command()
@click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_state
@handle_errors
def restore(state: CliState, archive: Path) -> None:
    """Restore ARCHIVE into an empty database (and key file) of this instance."""
    from sharing.backup import restore_backup

    settings = state.settings()
    manifest = restore_backup(settings, archive)
    say(f"restored {sum(manifest['tables'].values())} rows from {archive}")
