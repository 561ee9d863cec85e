"""In-process CPU cost of one TAXII feed page (objects, manifest, versions), no HTTP.

Why: page times over HTTP on a shared machine mostly measure the machine's load. This times
``sharing.feeds.read_page`` directly in CPU seconds (``time.process_time``) at the start, the
middle and the end of a collection, over a store loaded through the real ingest service by
``bench/feed/run.py`` (``--load-only``), and can print a cProfile of one page. Run from the
repository root:

    python bench/feed/run.py --indicators 100000 --load-only --workdir /tmp/palisade-feed-100k
    python bench/feed/profile_page.py --workdir /tmp/palisade-feed-100k [--cprofile]
"""

from __future__ import annotations

import argparse
import cProfile
import importlib.util
import json
import pstats
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from sqlalchemy import event

from sharing import feeds
from sharing.accounts.api_keys import authenticate
from sharing.feeds import tokens
from sharing.feeds.collections import ALL, collection_id
from sharing.feeds.service import _scope
from sharing.taxii.protocol import encode
from sharing.web.gc_tuning import freeze_startup_heap


def _open(workdir: Path, database_url: str | None) -> Any:
    spec = importlib.util.spec_from_file_location("feed_run", Path(__file__).with_name("run.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.open_store(workdir, database_url=database_url)


def cpu_ms(fn: Any, repeat: int) -> dict[str, float]:
    """CPU milliseconds of ``fn``: the minimum (least disturbed by other processes on a shared
    machine) and the median of ``repeat`` runs, after one warm-up run."""
    fn()
    times = []
    for _ in range(repeat):
        started = time.process_time()
        fn()
        times.append(time.process_time() - started)
    return {
        "min": round(min(times) * 1000, 1),
        "median": round(statistics.median(times) * 1000, 1),
    }


def explain(server: Any, page: Any) -> str:
    """The database's plan for every statement ``page()`` runs (one objects page)."""
    captured: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            captured.append((statement, params))

    event.listen(server.db.engine, "before_cursor_execute", capture)
    try:
        page()
    finally:
        event.remove(server.db.engine, "before_cursor_execute", capture)
    sqlite = server.db.engine.dialect.name == "sqlite"
    prefix = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN (ANALYZE, COSTS OFF) "
    out = []
    with server.db.engine.connect() as connection:
        cursor = connection.connection.cursor()
        for statement, params in captured:
            cursor.execute(prefix + statement, params)
            out.append(" ".join(statement.split())[:300])
            out += ["    " + " ".join(str(c) for c in row) for row in cursor.fetchall()]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default="/tmp/palisade-feed-bench")
    parser.add_argument("--limit", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--database-url", help="a store loaded with run.py --database-url")
    parser.add_argument("--cprofile", action="store_true", help="print a profile of one page")
    parser.add_argument(
        "--explain", action="store_true", help="print the query plan of the page statement"
    )
    args = parser.parse_args()
    server = _open(Path(args.workdir), args.database_url)
    key = server.member("bench-lab")
    with server.db.transaction() as session:
        principal = authenticate(session, key, "127.0.0.1")
    rt, everything = server.rt, collection_id(ALL)
    collection = feeds.find_collection(rt, principal, everything)
    # where each page starts, walked cheaply on the manifest endpoint
    starts: list[int | None] = [None]
    token: str | None = None
    while True:
        page = feeds.read_page(
            rt, principal, everything, "manifest", feeds.Filters(), limit=args.limit, token=token
        )
        if not page.more:
            break
        token = page.next
        starts.append(page.entries[-1].position)
    marks = {"start": starts[0], "middle": starts[len(starts) // 2], "end": starts[-1]}
    freeze_startup_heap()  # as every worker does once its app is built (sharing/web/gc_tuning.py)
    results: dict[str, Any] = {"pages": len(starts), "limit": args.limit}

    def body(endpoint: str, after: int | None) -> bytes:
        token = None
        if after is not None:  # the token the previous page of this endpoint would carry
            scope = _scope(collection, endpoint, principal, feeds.Filters())
            token = tokens.sign(rt.secret_key, tokens.Position(scope, after))
        page = feeds.read_page(
            rt, principal, everything, endpoint, feeds.Filters(), limit=args.limit, token=token
        )
        return encode(page.envelope() if endpoint == "objects" else page.manifest())

    def objects_json(after: int | None) -> bytes:
        return body("objects", after)

    def manifest_json(after: int | None) -> bytes:
        return body("manifest", after)

    for name, tok in marks.items():
        results[f"objects_{name}_cpu_ms"] = cpu_ms(lambda t=tok: objects_json(t), args.repeat)
        results[f"manifest_{name}_cpu_ms"] = cpu_ms(lambda t=tok: manifest_json(t), args.repeat)
    print(json.dumps(results, indent=2))
    if args.explain:
        for name, after in marks.items():
            print(f"-- the statements of one objects page, {name} of the collection")
            print(explain(server, lambda a=after: objects_json(a)))
    if args.cprofile:
        profiler = cProfile.Profile()
        profiler.enable()
        objects_json(marks["middle"])
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(35)


if __name__ == "__main__":
    main()
