"""In-process profile of one-item ``POST /api/v1/match``: where the fixed per-request cost goes.

Not a test. Builds a small store (as ``bench.match.run`` does), then drives the real app through
the Flask test client (no sockets, no gunicorn) and prints per-request wall and CPU time, the
SQL statements each request runs, and optionally a cProfile of the hottest functions:

    python -m bench.match.profile --backend sqlite --indicators 20000 --prompts 2000
    source .ci/postgres.sh && python -m bench.match.profile --backend postgresql --profile
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import random
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import event

from bench.match.run import (
    email_body,
    load,
    near,
    open_store,
    pct,
    random_signature,
    start_gunicorn,
)
from sharing import create_app
from sharing.identifiers import encode_signature


def _prompt_body(n: int, p: int, rng: random.Random) -> bytes:
    target = rng.randint(n + 1, n + p)
    sig = near(random_signature(random.Random(target)), rng.uniform(0.8, 1.0), rng)
    item = {"kind": "prompt", "key_id": "c1", "minhash": encode_signature(sig)}
    return json.dumps({"items": [item]}).encode()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--indicators", type=int, default=20_000)
    parser.add_argument("--prompts", type=int, default=2_000)
    parser.add_argument("--requests", type=int, default=2_000)
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the run")
    parser.add_argument(
        "--no-ratelimit", action="store_true", help="build the app without rate limits"
    )
    parser.add_argument("--gunicorn", action="store_true", help="also over HTTP to gunicorn")
    parser.add_argument("--kind", choices=["email", "prompt"], default="email")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="profile-match-"))
    # its own database: a store that bench.match.run saved for --reuse stays as it was
    server, key, org_id, _ = open_store(args.backend, work, pg_database="palisade_bench_profile")
    n, p = args.indicators, args.prompts
    load(server, n, p, org_id)
    if args.no_ratelimit:
        os.environ["PALISADE_RATELIMIT_ENABLED"] = "0"
    pieces = {"settings": server.settings, "database": server.db, "key_source": server.rt.keys}
    app = create_app(pieces)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    rng = random.Random(11)
    if args.kind == "email":
        # half hits, half never stored
        ids = [
            rng.randint(1, n) if k % 2 else rng.randint(4 * n, 8 * n) for k in range(args.requests)
        ]
        bodies = [email_body([i]) for i in ids]
    else:
        bodies = [_prompt_body(n, p, rng) for _ in range(args.requests)]
    for body in bodies[:100]:  # warm up
        assert client.post("/api/v1/match", data=body, headers=headers).status_code == 200
    statements: Counter[str] = Counter()

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements[" ".join(statement.split())[:110]] += 1

    event.listen(server.db.engine, "before_cursor_execute", count)
    profiler = cProfile.Profile() if args.profile else None
    walls: list[float] = []
    cpu_start = time.process_time()
    for body in bodies:
        t = time.perf_counter()
        if profiler:
            profiler.enable()
        response = client.post("/api/v1/match", data=body, headers=headers)
        if profiler:
            profiler.disable()
        walls.append(time.perf_counter() - t)
        assert response.status_code == 200, response.get_data()[:300]
    cpu = (time.process_time() - cpu_start) / len(bodies) * 1000
    event.remove(server.db.engine, "before_cursor_execute", count)
    print(
        f"{args.backend} {args.kind}: {len(bodies)} requests, wall p50 {pct(walls, 0.5):.2f} ms, "
        f"p99 {pct(walls, 0.99):.2f} ms, CPU {cpu:.2f} ms/request, "
        f"{sum(statements.values()) / len(bodies):.1f} SQL statements/request through SQLAlchemy "
        "(sharing.bulk runs its own on the driver, uncounted)"
    )
    for statement, times in statements.most_common(15):
        print(f"  {times / len(bodies):6.2f}  {statement}")
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)
    if args.gunicorn:
        over_gunicorn(server, key, bodies, Path(work))
    server.stop()


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of ``pids`` so far (from /proc; clock ticks)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / ticks


def over_gunicorn(server: Any, key: str, bodies: list[bytes], work: Path) -> None:
    """The same requests over HTTP to gunicorn (2 gthread workers): client wall time and the
    workers' CPU time per request, read from /proc, which no other load on the machine inflates."""
    import subprocess

    import requests

    process = start_gunicorn(server, work)
    try:
        workers = [
            int(p) for p in subprocess.check_output(["pgrep", "-P", str(process.pid)]).split()
        ]
        session = requests.Session()
        session.headers.update(
            {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        )
        url = server.url + "/api/v1/match"
        for body in bodies[:200]:
            assert session.post(url, data=body).status_code == 200
        walls = []
        cpu = _cpu_seconds(workers)
        for body in bodies:
            t = time.perf_counter()
            assert session.post(url, data=body).status_code == 200
            walls.append(time.perf_counter() - t)
        cpu = (_cpu_seconds(workers) - cpu) / len(bodies) * 1000
        print(
            f"gunicorn: {len(bodies)} requests, wall p50 {pct(walls, 0.5):.2f} ms, "
            f"p99 {pct(walls, 0.99):.2f} ms, worker CPU {cpu:.2f} ms/request"
        )
    finally:
        process.terminate()
        process.wait(timeout=30)


if __name__ == "__main__":
    main()
