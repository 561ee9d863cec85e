"""Run one fuzz target under atheris (libFuzzer): ``python -m tests.fuzz.harness TARGET [flags]``.

Why a single entry point: every target gets the same setup (instrument only ``sharing``, so
coverage feedback is about our code, not Flask's), the same seeds, and the same way to replay
a crash. Arguments after TARGET are libFuzzer's: ``-runs=N``, ``-max_total_time=S``,
``-max_len=N``, corpus directories (the first one receives new inputs), or crash files to
replay. tests/fuzz/test_fuzz_bounded.py runs each target briefly in CI; docs/OPERATIONS.md has
the long run.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports(include=["sharing"]):
    from tests.fuzz.targets import TARGETS


def main(argv: list[str]) -> None:
    if len(argv) < 2 or argv[1] not in TARGETS:
        sys.exit(f"usage: python -m tests.fuzz.harness {{{','.join(TARGETS)}}} [libFuzzer flags]")
    target = TARGETS[argv[1]]
    atheris.Setup([argv[0], *argv[2:]], target)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
