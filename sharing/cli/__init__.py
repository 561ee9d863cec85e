"""The ``palisade`` command: operator commands (``admin``) and member-side tools (``member``).

Human messages go to stderr, machine output (keys, JSON) to stdout, and every failure exits
non-zero with one clear line; exit codes are listed in docs/CLI.md.
"""

from sharing.cli import admin, check, consortium, member, ops  # noqa: F401  (attach commands)
from sharing.cli.base import cli

main = cli

__all__ = ["cli", "main"]
