"""The bounded CI run of every atheris target: a fixed number of coverage-guided inputs each.

Each target runs in its own process (libFuzzer owns the process and exits on a finding) from
its seeds in tests/fuzz/seeds/, for ``PALISADE_ATHERIS_RUNS`` inputs (default 2000: a few
seconds per target on the 2-core VM). A finding fails the test with the offending input, which
libFuzzer writes into the test's temporary directory; replay it with
``python -m tests.fuzz.harness TARGET path/to/crash-...``. The long run is in
docs/OPERATIONS.md ("Fuzzing").

Then the same targets replay their seeds in this process, which keeps them importable and
their invariants true without atheris (and shows a plain traceback if a seed ever fails).
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fuzz.targets import TARGETS

ROOT = Path(__file__).resolve().parents[2]
SEEDS = Path(__file__).resolve().parent / "seeds"
RUNS = int(os.environ.get("PALISADE_ATHERIS_RUNS", "2000"))
# atheris ships wheels for CPython on x86-64 Linux only (pyproject's marker says the same).
HAS_WHEEL = sys.platform == "linux" and platform.machine() == "x86_64"


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_seeds_hold_the_invariant(target: str) -> None:
    seeds = sorted((SEEDS / target).iterdir())
    assert seeds, f"no seeds for {target}"
    for seed in seeds:
        TARGETS[target](seed.read_bytes())


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_atheris_finds_nothing_in_a_bounded_run(target: str, tmp_path: Path) -> None:
    if not HAS_WHEEL:
        pytest.skip("atheris has no wheel for this platform")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.fuzz.harness",
            target,
            f"-runs={RUNS}",
            "-max_len=4096",
            "-seed=1",
            "-timeout=20",
            f"-artifact_prefix={tmp_path}/",
            str(corpus),
            str(SEEDS / target),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    log = "\n".join(
        line for line in result.stderr.splitlines() if not line.startswith("INFO: Instrumenting")
    )
    assert result.returncode == 0, log[-4000:]
    assert f"Done {RUNS} runs" in log, log[-2000:]
    assert not list(tmp_path.glob("crash-*"))
