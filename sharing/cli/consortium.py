"""Operator commands for the consortium key ids the exchange accepts (never the secrets)."""

from __future__ import annotations

import click

from sharing import audit
from sharing.accounts import consortium as consortium_ids
from sharing.cli.base import CliState, cli, emit_json, handle_errors, pass_state, say


@cli.group()
def consortium() -> None:
    """Consortium key ids accepted in submitted hashes (members hold the keys)."""


@consortium.command("register")
@click.argument("key_id")
@pass_state
@handle_errors
def register(state: CliState, key_id: str) -> None:
    """Accept hashes made with consortium key KEY_ID (e.g. after members run `palisade keygen`)."""
    with state.runtime().db.transaction(write=True) as session:
        consortium_ids.register(session, key_id, actor=audit.CLI)
    say(f"consortium key id {key_id!r} is now accepted")


@consortium.command("retire")
@click.argument("key_id")
@pass_state
@handle_errors
def retire(state: CliState, key_id: str) -> None:
    """Stop accepting new hashes made with KEY_ID (after a consortium key rotation)."""
    with state.runtime().db.transaction(write=True) as session:
        consortium_ids.retire(session, key_id, actor=audit.CLI)
    say(f"consortium key id {key_id!r} retired: new submissions using it are refused")


@consortium.command("list")
@pass_state
@handle_errors
def list_ids(state: CliState) -> None:
    """Accepted consortium key ids, as JSON."""
    with state.runtime().db.transaction() as session:
        emit_json(consortium_ids.active_ids(session))
