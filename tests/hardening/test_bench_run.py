"""Does every benchmark still run end to end through the one command that runs them all?

``bench/run --scale smoke`` runs each ``bench/<area>/run.py`` at toy sizes (real gunicorn on
loopback, real stores, real peers where they are installed) and writes its reports to a folder
of the test's own; the figures mean nothing at this size, the point is that a benchmark that
broke fails CI instead of the next long run. The long variant is ``bench/run --scale full``
(docs/BENCHMARKS.md names the commands and their figures).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
AREAS = sorted(p.parent.name for p in ROOT.glob("bench/*/run.py"))


def test_every_benchmark_runs_at_smoke_scale_and_reports(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "bench/run", "--scale", "smoke", "--docs", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert set(AREAS) >= {"feed", "hash", "ingest", "load", "match", "portal"}
    combined = (tmp_path / "BENCHMARKS.md").read_text()
    for area in AREAS:
        report = (tmp_path / "benchmarks" / f"{area}.md").read_text()
        assert "**Failed**" not in report, report
        assert "scale `smoke`" in report and report.strip() in combined
    # The repository's own docs are untouched by a run pointed elsewhere.
    assert "scale `smoke`" not in (ROOT / "docs" / "BENCHMARKS.md").read_text()
