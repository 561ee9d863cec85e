"""Feed benchmark: a full TAXII pull of a large collection, page by page, against medallion.

Why: DESIGN.md promises feeds that stay fast at any size and work behind a load balancer. This
loads N indicators into a fresh SQLite store through the real ingest service (bundles of
10,000 via ``sharing.ingest.submit_bundle``, so the rows, the feed log and the encryption are
exactly what production writes), serves it with gunicorn on loopback and pulls every object
with pages of 1,000 over HTTP, timing each page. The OASIS medallion server (memory backend,
installed outside the repo) is loaded with the first M of those objects and pulled the same
way in the same run. Run from the repository root:

    python bench/feed/run.py --indicators 1000000 --medallion-objects 100000 \
        --medallion-python /tmp/peers/venv/bin/python

``--load-only`` loads and stops (for ``bench/feed/profile_page.py``, which times pages
in-process); ``--reuse`` pulls a store an earlier run loaded into the same ``--workdir`` and
refuses one at an older schema unless ``--upgrade`` migrates it; ``--database-url`` loads into
(or reuses) another database, e.g. an empty PostgreSQL one, keeping the keys in the workdir.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from sharing import ingest
from sharing.accounts.api_keys import authenticate
from sharing.identifiers import hash_identifier
from sharing.identifiers.stix import build_pattern
from tests.live import LiveServer, free_port
from tests.stix_factories import TEST_CONSORTIUM_KEY

TAXII = "application/taxii+json;version=2.1"
BATCH = 10_000


def load(server: LiveServer, key: str, count: int) -> float:
    with server.db.transaction() as session:
        principal = authenticate(session, key, "127.0.0.1")
    start = time.perf_counter()
    stamp = "2026-11-01T00:00:00.000Z"
    for first in range(0, count, BATCH):
        objects = [
            {
                "type": "indicator",
                "spec_version": "2.1",
                "id": f"indicator--{_uuid4(i)}",
                "created": stamp,
                "modified": stamp,
                "name": "bench",
                "pattern": build_pattern(
                    "device", hash_identifier(TEST_CONSORTIUM_KEY, "device", f"dev-{i}")
                ),
                "pattern_type": "stix",
                "valid_from": stamp,
                "confidence": 60,
            }
            for i in range(first, min(first + BATCH, count))
        ]
        body = json.dumps({"type": "bundle", "id": f"bundle--{_uuid4(first)}", "objects": objects})
        report = ingest.submit_bundle(server.rt, principal, body.encode())
        assert not report.failures, report.failures[:3]
        done = min(first + BATCH, count)
        if done % 100_000 == 0 or done == count:
            print(f"  loaded {done:,} in {time.perf_counter() - start:.0f} s", flush=True)
    return time.perf_counter() - start


def _uuid4(_: int) -> str:
    return str(uuid.uuid4())


def pull(url: str, auth: dict[str, str], params: dict[str, Any]) -> tuple[list[float], list[dict]]:
    """Every page of a collection; returns per-page seconds and the first pages' objects."""
    session = requests.Session()
    session.headers.update({"Accept": TAXII, **auth})
    times: list[float] = []
    sample: list[dict] = []
    total = 0
    while True:
        started = time.perf_counter()
        response = session.get(url, params=params, timeout=600)
        elapsed = time.perf_counter() - started
        response.raise_for_status()
        page = response.json()
        times.append(elapsed)
        objects = page.get("objects", [])
        total += len(objects)
        if len(sample) < 200_000:
            sample += objects
        if not page.get("more"):
            break
        params = {"limit": params["limit"], "next": page["next"]}
    print(f"  pulled {total:,} objects in {len(times):,} pages, {sum(times):.1f} s", flush=True)
    return times, sample


def summary(times: list[float]) -> dict[str, float]:
    def ms(xs: list[float]) -> float:
        return round(statistics.median(xs) * 1000, 1)

    n = len(times)
    mid = n // 2
    return {
        "pages": n,
        "start_median_ms": ms(times[:10]),
        "middle_median_ms": ms(times[max(0, mid - 5) : mid + 5]),
        "end_median_ms": ms(times[-10:]),
        "p95_ms": round(sorted(times)[int(n * 0.95) - 1 if n > 1 else 0] * 1000, 1),
        "max_ms": round(max(times) * 1000, 1),
        "total_s": round(sum(times), 1),
    }


def start_palisade(server: LiveServer, workers: int) -> None:
    try:
        server.start_gunicorn(workers=workers)
    except requests.ReadTimeout:  # the worker boots after the master listens
        requests.get(server.url + "/healthz", timeout=60).raise_for_status()


def run_medallion(python: str, objects: list[dict], workdir: Path) -> dict[str, float]:
    collection = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"
    stamp = "2026-11-27T00:00:00.000000Z"
    data = {
        "/discovery": {"title": "bench", "default": "", "api_roots": []},
        "api1": {
            "information": {"title": "bench", "versions": [TAXII], "max_content_length": 10**9},
            "status": [],
            "collections": [
                {
                    "id": collection,
                    "title": "bench",
                    "can_read": True,
                    "can_write": False,
                    "media_types": ["application/stix+json;version=2.1"],
                    "objects": objects,
                    "manifest": [
                        {
                            "id": o["id"],
                            "date_added": stamp,
                            "version": o.get("modified", stamp),
                            "media_type": "application/stix+json;version=2.1",
                        }
                        for o in objects
                    ],
                }
            ],
        },
    }
    (workdir / "medallion-data.json").write_text(json.dumps(data))
    config = {
        "backend": {
            "module": "medallion.backends.memory_backend",
            "module_class": "MemoryBackend",
            "filename": str(workdir / "medallion-data.json"),
            "session_timeout": 3600,
        },
        "users": {"bench": "bench"},
        "taxii": {"max_page_size": 1000},
    }
    (workdir / "medallion-config.json").write_text(json.dumps(config))
    port = free_port()
    process = subprocess.Popen(
        [
            python,
            "-m",
            "medallion.scripts.run",
            "--port",
            str(port),
            str(workdir / "medallion-config.json"),
        ],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}/api1/collections/{collection}/objects/"
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            try:
                requests.get(f"http://127.0.0.1:{port}/taxii2/", timeout=5)
                break
            except requests.ConnectionError:
                time.sleep(0.5)
        import base64

        auth = {"Authorization": "Basic " + base64.b64encode(b"bench:bench").decode()}
        times, _ = pull(url, auth, {"limit": 1000})
        return summary(times)
    finally:
        process.terminate()
        process.wait(timeout=30)


class _Existing(LiveServer):
    """A LiveServer over a store an earlier run loaded: no migration, no seeding."""

    def __init__(self, database_url: str, instance: Path) -> None:
        from sharing.config import Settings
        from sharing.crypto.keyring import KeySource
        from sharing.db import Database
        from sharing.runtime import Runtime

        self.instance, self.database_url = instance, database_url
        self.key_file, self.overrides = instance / "palisade-keys.json", {}
        self.settings = Settings.from_env(
            environ={"DATABASE_URL": database_url}, overrides={"instance_path": instance}
        )
        self.db = Database(database_url)
        source = KeySource.open(self.key_file, {}, create=False)
        self.rt = Runtime.build(self.settings, database=self.db, key_source=source)
        self.url, self._server, self._thread, self._process = "", None, None, None


def open_store(
    workdir: Path, *, upgrade: bool = False, database_url: str | None = None
) -> LiveServer:
    """The store an earlier run loaded into ``workdir``, checked against this code's schema.

    ``database_url`` names the database when it is not ``workdir/palisade.db`` (PostgreSQL);
    the key file is always ``workdir/instance/palisade-keys.json``. A store from an older
    schema is refused (pulling it would fail or mislead) unless ``upgrade`` is given, which
    migrates it in place to the current head first.
    """
    from sharing import migrate

    url = database_url or f"sqlite:///{workdir / 'palisade.db'}"
    local = url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists()
    if local or not (workdir / "instance" / "palisade-keys.json").exists():
        raise SystemExit(f"no loaded store in {workdir} (run once without --reuse)")
    server = _Existing(url, workdir / "instance")
    if not migrate.is_at_head(server.db.engine):
        found, head = migrate.current_revision(server.db.engine), migrate.head_revision()
        if not upgrade:
            raise SystemExit(
                f"the store in {workdir} is at schema {found}, this code is at {head}: pass "
                "--upgrade to migrate it in place, or load a fresh store"
            )
        print(f"migrating the store in {workdir} from {found} to {head}", flush=True)
        migrate.upgrade(server.db.engine)
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--indicators", type=int, default=1_000_000)
    parser.add_argument("--medallion-objects", type=int, default=100_000)
    parser.add_argument("--medallion-python", default="/tmp/peers/venv/bin/python")
    parser.add_argument("--workdir", default="/tmp/palisade-feed-bench")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--database-url",
        help="load into / pull from this database (an empty PostgreSQL database, say) instead "
        "of WORKDIR/palisade.db",
    )
    parser.add_argument(
        "--reuse", action="store_true", help="pull a store an earlier run loaded (skip loading)"
    )
    parser.add_argument(
        "--upgrade", action="store_true", help="with --reuse: migrate an older store to head"
    )
    parser.add_argument(
        "--load-only", action="store_true", help="load the store and stop (no server, no pull)"
    )
    args = parser.parse_args()
    workdir = Path(args.workdir)
    url = args.database_url or f"sqlite:///{workdir / 'palisade.db'}"
    results: dict[str, Any] = {"indicators": args.indicators}
    if args.reuse:
        server = open_store(workdir, upgrade=args.upgrade, database_url=args.database_url)
        key = server.member("bench-lab")
    else:
        subprocess.run(["rm", "-rf", str(workdir)], check=True)
        workdir.mkdir(parents=True)
        server = LiveServer(url, workdir / "instance")
        key = server.member("bench-lab")
        print(f"loading {args.indicators:,} indicators", flush=True)
        results["load_s"] = round(load(server, key, args.indicators), 1)
        if args.load_only:
            print(json.dumps(results, indent=2))
            return
    start_palisade(server, args.workers)
    try:
        collections = requests.get(
            f"{server.url}/taxii2/exchange/collections/",
            headers={"Accept": TAXII, "Authorization": f"Bearer {key}"},
            timeout=60,
        ).json()["collections"]
        everything = collections[0]["id"]
        url = f"{server.url}/taxii2/exchange/collections/{everything}/objects/"
        print("pulling palisade", flush=True)
        times, sample = pull(url, {"Authorization": f"Bearer {key}"}, {"limit": 1000})
        results["palisade"] = summary(times)
    finally:
        server.stop()
    if args.medallion_objects:
        objects = [o for o in sample if o["type"] == "indicator"][: args.medallion_objects]
        print(f"pulling medallion ({len(objects):,} objects)", flush=True)
        results["medallion_objects"] = len(objects)
        results["medallion"] = run_medallion(args.medallion_python, objects, workdir)
    results["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(json.dumps(results, indent=2))
    (workdir / "results.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
