"""Fixtures for the member toolkit: the test consortium key as a key file, and a CLI runner.

The key is ``tests.stix_factories.TEST_CONSORTIUM_KEY``, the one live servers register, so
bundles hashed here are accepted by ``live`` servers.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from sharing.cli import cli
from sharing.identifiers import ConsortiumKeyring, write_keyring
from tests.stix_factories import TEST_CONSORTIUM_KEY


@pytest.fixture
def keyring() -> ConsortiumKeyring:
    return ConsortiumKeyring([TEST_CONSORTIUM_KEY], TEST_CONSORTIUM_KEY.key_id)


@pytest.fixture
def key_file(tmp_path: Path, keyring: ConsortiumKeyring) -> Path:
    path = tmp_path / "consortium.key"
    write_keyring(path, keyring)
    return path


@pytest.fixture
def palisade(key_file: Path, tmp_path: Path) -> Callable[..., Result]:
    """Run ``palisade ARGS`` in-process with the key file in the environment."""
    runner = CliRunner()

    def run(
        *args: str, input: str | None = None, env: dict[str, str | None] | None = None
    ) -> Result:
        full_env = {
            "PALISADE_CONSORTIUM_KEY_FILE": str(key_file),
            "PALISADE_URL": None,
            "PALISADE_API_KEY": None,
            **(env or {}),
        }
        return runner.invoke(cli, list(args), env=full_env, input=input, catch_exceptions=False)

    return run
