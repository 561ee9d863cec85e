"""``palisade check``: the store's integrity, in one command an operator can run any time.

Why a command and not only a test: after a crash, a restore or an interrupted key rotation the
operator needs a yes/no answer on the real database before reopening the service. Exit 0 when
every check passes, 1 when any fails (each failure is one line on stderr); ``--json`` prints the
full report on stdout for monitoring.
"""

from __future__ import annotations

import click

from sharing.cli.base import EXIT_FAILURE, CliState, cli, emit_json, handle_errors, pass_state, say


@cli.command("check")
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON on stdout.")
@pass_state
@handle_errors
def check(state: CliState, as_json: bool) -> None:
    """Schema, blind-index uniqueness, ciphertexts, counts, audit chain and feed log."""
    from sharing.check import run_checks

    rt = state.runtime(create_keys=False)
    report = run_checks(rt)
    if as_json:
        emit_json(report.as_dict())
    for result in report.results:
        say(f"{'ok  ' if result.ok else 'FAIL'} {result.name}: {result.detail}")
        for problem in result.problems:
            say(f"     {problem}")
    if not report.ok:
        raise SystemExit(EXIT_FAILURE)
