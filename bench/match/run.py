"""Match API benchmark: a store of N indicators (+ P prompt signatures), gunicorn on both cores.

Not a test: prints a Markdown report for docs/benchmarks/match.md. The store is loaded fast by
writing rows straight into ``indicators``/``reports``/``prompt_bands`` with
``sharing.bulk.insert_rows`` (values and signatures encrypted with the server's FieldCipher,
blind indexes computed with it, exactly as the ingest writer stores them), bypassing STIX
validation, which is measured elsewhere. Then the real app runs under gunicorn (2 gthread
workers) and is driven over HTTP from this process (latency) and from client processes
(throughput). Beside each HTTP figure, the same lookups as bare indexed SELECTs on the same DB.

On SQLite the store's file is read once before gunicorn starts, so the figures are those of a
host whose page cache holds the store, as a serving host's does after its first minutes of
traffic (docs/OPERATIONS.md sizes memory for that). ``--cold`` skips it: lookups then also pay
for reading index and table pages from disk, which is what a freshly booted host sees.

    python -m bench.match.run --backend sqlite --indicators 1000000 --prompts 1000000
    source .ci/postgres.sh && python -m bench.match.run --backend postgresql --indicators 1000000
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import delete, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from bench.common import KeepAliveClient
from sharing import bulk
from sharing.db import make_engine
from sharing.identifiers import encode_signature, lsh_band_hashes
from sharing.models import Indicator, PromptBand, Report
from sharing.models.consortium import ConsortiumKeyId
from sharing.models.indicators import Reporter
from sharing.visibility import reporter_index
from tests.conftest import create_postgres_database
from tests.live import LiveServer, free_port

CHUNK = 50_000
NOW = datetime.now(UTC)


def value_of(i: int) -> str:
    return "hmac-sha256:c1:" + hashlib.sha256(f"bench-{i}".encode()).hexdigest()


def random_signature(rng: random.Random) -> list[int]:
    return [rng.getrandbits(32) for _ in range(128)]


def near(sig: list[int], similarity: float, rng: random.Random) -> list[int]:
    """A signature agreeing with ``sig`` on round(similarity * 128) random positions."""
    keep = set(rng.sample(range(128), round(similarity * 128)))
    return [v if i in keep else rng.getrandbits(32) for i, v in enumerate(sig)]


def _indexes(connection: Any, tables: tuple[str, ...]) -> list[tuple[str, str]]:
    """(name, DDL) of the plain indexes on ``tables``: dropped for the load, rebuilt after.

    Unique constraints stay (SQLite cannot drop them; they keep the load honest)."""
    if connection.dialect.name == "sqlite":
        marks = ",".join("?" for _ in tables)
        return list(
            connection.exec_driver_sql(
                f"SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                f"AND sql IS NOT NULL AND tbl_name IN ({marks})",
                tables,
            )
        )
    return list(
        connection.exec_driver_sql(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s) "
            "AND indexname NOT IN (SELECT conname FROM pg_constraint)",
            (list(tables),),
        )
    )


def _rows(start: int, end: int, n: int, cipher: Any, reporter_bi: bytes) -> tuple[list, ...]:
    """Rows ``start..end`` of the three tables, sorted by blind index (B-tree locality).

    stix_id and source_id grow with the row number so their unique indexes are appended to."""
    indicators, reports, bands = [], [], []
    for i in range(start, end + 1):
        stix_id = f"indicator--{uuid.UUID(int=(i << 80) | 0x1234, version=4)}"
        prompt = i > n
        kind = "prompt" if prompt else "email"
        value = value_of(i)
        signature_ct = None
        if prompt:
            sig = random_signature(random.Random(i))
            signature_ct = cipher.encrypt(
                json.dumps(sig).encode(), f"indicators.signature:{stix_id}"
            )
            bands.extend((i, b, h) for b, h in enumerate(lsh_band_hashes(sig)))
        indicators.append(
            {
                "id": i,
                "stix_id": stix_id,
                "kind": kind,
                "blind_index": cipher.indicator_blind_index(kind, value),
                "value_ct": cipher.encrypt_text(value, f"indicators.value:{stix_id}"),
                "consortium_key_id": "c1",
                "signature_ct": signature_ct,
                "created_at": NOW,
            }
        )
        reports.append(
            {
                "id": i,
                "indicator_id": i,
                "reporter_bi": reporter_bi,
                "source_id": f"indicator--{uuid.UUID(int=(i << 80) | 0x5678, version=4)}",
                "source_modified": NOW,
                "confidence": 70,
                "tlp": "green",
                "group_id": None,
                "valid_from": NOW - timedelta(days=1),
                "valid_until": None,
                "revoked": False,
                "anonymous": False,
                "details_ct": None,
                "submission_id": "bench",
                "created_at": NOW,
                "updated_at": NOW,
            }
        )
    indicators.sort(key=lambda row: row["blind_index"])
    band_rows = [{"indicator_id": i, "band": b, "band_hash": h} for i, b, h in bands]
    return indicators, reports, band_rows


_GENERATOR: dict[str, Any] = {}  # what forked row makers inherit from load()


def _generate(bounds: tuple[int, int]) -> tuple[list, ...]:
    g = _GENERATOR
    return _rows(bounds[0], bounds[1], g["n"], g["cipher"], g["reporter_bi"])


#: SQLite settings for the load connection only: a crash mid-load just means loading again.
#: Foreign keys off: the rows are consistent by construction. ANALYZE samples (analysis_limit).
LOAD_PRAGMAS = (
    "PRAGMA synchronous=OFF",
    "PRAGMA foreign_keys=OFF",
    "PRAGMA cache_size=-2000000",
    "PRAGMA temp_store=MEMORY",
    "PRAGMA analysis_limit=2000",
)


def load(server: LiveServer, n: int, prompts: int, org_id: int) -> dict[str, float]:
    """Write the store in big transactions on one connection, plain indexes built at the end."""
    cipher = server.rt.cipher
    reporter_bi = reporter_index(cipher, org_id)
    started = time.perf_counter()
    total = n + prompts
    with server.db.transaction(write=True) as session:
        # The pseudonym registry: who reporter_bi is (one row per member, encrypted).
        reporter_id = reporter_bi.hex()
        session.add(
            Reporter(
                id=reporter_id,
                org_ct=cipher.encrypt_text(str(org_id), f"reporters.org:{reporter_id}"),
            )
        )
    tables = ("indicators", "reports", "prompt_bands")
    with server.db.engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            raw = connection.connection.dbapi_connection  # autocommit: PRAGMAs outside BEGIN
            for pragma in LOAD_PRAGMAS:
                raw.execute(pragma)
        indexes = _indexes(connection, tables)
        for name, _ in indexes:
            connection.exec_driver_sql(f"DROP INDEX {name}")
        connection.commit()
        session = Session(bind=connection)
        bounds = [(s, min(total, s + CHUNK - 1)) for s in range(1, total + 1, CHUNK)]
        # Rows are made (encrypted, hashed) by forked workers while this process inserts.
        _GENERATOR.update(n=n, cipher=cipher, reporter_bi=reporter_bi)
        with multiprocessing.get_context("fork").Pool(os.cpu_count() or 2) as pool:
            for indicators, reports, bands in pool.imap(_generate, bounds):
                bulk.insert_rows(session, Indicator.__table__, indicators)
                bulk.insert_rows(session, Report.__table__, reports)
                bulk.insert_rows(session, PromptBand.__table__, bands)
                session.commit()
        loaded = time.perf_counter() - started
        for _, ddl in indexes:
            connection.exec_driver_sql(ddl)
        connection.exec_driver_sql("ANALYZE")
        connection.commit()
        session.close()
    server.db.engine.dispose()  # the load's PRAGMAs end with its connection
    return {"load_s": time.perf_counter() - started, "insert_s": loaded}


STORE_FILE = "store.json"
BENCH_PG_DATABASE = "palisade_bench_match"


def save_store(work: Path, backend: str, url: str, n: int, p: int) -> None:
    """Remember what was loaded, so ``--reuse`` can serve it again."""
    store = {"backend": backend, "database_url": url, "indicators": n, "prompts": p}
    (work / STORE_FILE).write_text(json.dumps(store, indent=2) + "\n")


def open_store(
    backend: str, work: Path, *, reuse: bool = False, pg_database: str = BENCH_PG_DATABASE
) -> tuple[LiveServer, str, int, dict[str, Any]]:
    """The server on a fresh database (or on the one in ``work`` with ``reuse``), a member
    ``bench`` with a new key, its org id, and the stored description of a reused store."""
    store: dict[str, Any] = {}
    if reuse:
        path = work / STORE_FILE
        if not path.exists():
            raise SystemExit(f"--reuse: {path} not found; build the store without --reuse first")
        store = json.loads(path.read_text())
        if store["backend"] != backend:
            raise SystemExit(f"--reuse: {work} holds a {store['backend']} store, not {backend}")
        url = store["database_url"]
        # LiveServer registers the test consortium key on a new database; let it do so again.
        engine = make_engine(url)
        with engine.begin() as connection:
            connection.execute(delete(ConsortiumKeyId).where(ConsortiumKeyId.key_id == "c1"))
        engine.dispose()
    elif backend == "sqlite":
        work.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{work / 'bench.db'}"
    else:
        url = create_postgres_database(pg_database)
    server = LiveServer(url, work / "instance")
    key = server.member("bench")
    with server.db.engine.connect() as connection:
        org_id = connection.execute(
            text("SELECT id FROM organizations WHERE name='bench'")
        ).scalar()
    return server, key, int(org_id), store


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1000


def timed_posts(client: KeepAliveClient, path: str, bodies: list[bytes]) -> list[float]:
    """Wall time of each POST on one kept-alive connection, response read in full."""
    out = []
    for body in bodies:
        t = time.perf_counter()
        status, answer = client.post(path, body)
        out.append(time.perf_counter() - t)
        assert status == 200, answer[:300]
    return out


def timed_posts_requests(session: requests.Session, url: str, bodies: list[bytes]) -> list[float]:
    """The same with the ``requests`` library, whose own CPU is part of what a caller sees."""
    out = []
    for body in bodies:
        t = time.perf_counter()
        r = session.post(url, data=body, headers={"Content-Type": "application/json"})
        out.append(time.perf_counter() - t)
        assert r.status_code == 200, r.text[:300]
    return out


def email_body(ids: list[int]) -> bytes:
    return json.dumps({"items": [{"kind": "email", "value": value_of(i)} for i in ids]}).encode()


HIT_RATE = 0.05  # batches: an abuse pipeline's sign-ups are mostly unknown to the exchange


def batch_ids(
    rng: random.Random, n: int, size: int = 1000, hit_rate: float = HIT_RATE
) -> list[int]:
    """``size`` ids, a ``hit_rate`` share of them stored (1..n), the rest never stored."""
    return [
        rng.randint(1, n) if rng.random() < hit_rate else rng.randint(4 * n, 8 * n)
        for _ in range(size)
    ]


def _throughput_worker(args: tuple[str, str, int, int, float]) -> int:
    url, key, n, seed, seconds = args
    rng = random.Random(seed)
    base, _, path = url.partition("/api/")
    client = KeepAliveClient(base, {"Authorization": f"Bearer {key}"})
    bodies = [email_body(batch_ids(rng, n)) for _ in range(20)]
    done, deadline, k = 0, time.perf_counter() + seconds, 0
    while time.perf_counter() < deadline:
        status, answer = client.post("/api/" + path, bodies[k % 20])
        assert status == 200, answer[:300]
        done += 1000
        k += 1
    return done


def start_gunicorn(server: LiveServer, work: Path) -> subprocess.Popen[bytes]:
    """gunicorn, 2 gthread workers (one per core), as tests/live.py starts it but patient:
    a worker's first request on a large store can take longer than the fixture's 1 s probe."""
    env = dict(os.environ)
    env.update(
        DATABASE_URL=server.database_url,
        PALISADE_INSTANCE=str(server.instance),
        PALISADE_KEY_FILE=str(server.key_file),
    )
    port = free_port()
    log = (work / "gunicorn.log").open("wb")
    command = [sys.executable, "-m", "gunicorn", "-w", "2", "-k", "gthread", "--threads", "4"]
    process = subprocess.Popen(
        [*command, "-b", f"127.0.0.1:{port}", "app:app"],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        stdout=log,
        stderr=log,
    )
    server.url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if requests.get(server.url + "/healthz", timeout=30).status_code == 200:
                return process
        except requests.ConnectionError:
            time.sleep(0.2)
        if process.poll() is not None:
            raise RuntimeError((work / "gunicorn.log").read_text())
    raise RuntimeError("gunicorn did not start")


def warm_page_cache(database_url: str) -> dict[str, float]:
    """Read a SQLite store's files once, sequentially, into the OS page cache."""
    path = Path(make_url(database_url).database or "")
    started, read = time.perf_counter(), 0
    for part in (path, path.with_name(path.name + "-wal")):
        if part.exists():
            with part.open("rb") as handle:
                while chunk := handle.read(16 << 20):
                    read += len(chunk)
    return {"warmed_mib": read / 2**20, "warm_s": time.perf_counter() - started}


def rss_mib(pid: int, field: str = "VmRSS") -> float:
    """Memory of the gunicorn master and its workers from /proc: ``VmRSS`` (everything resident,
    including the database pages SQLite's mmap has touched, which are shared page cache) or
    ``RssAnon`` (the processes' own heap)."""
    pids = [pid] + [int(p) for p in subprocess.check_output(["pgrep", "-P", str(pid)]).split()]
    total = 0
    for p in pids:
        for line in Path(f"/proc/{p}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                total += int(line.split()[1])
    return total / 1024


def bare_sql(server: LiveServer, n: int, rng: random.Random) -> dict[str, float]:
    cipher = server.rt.cipher
    singles, batches = [], []
    with server.db.engine.connect() as connection:
        raw = connection.connection.dbapi_connection
        mark = "?" if server.db.dialect == "sqlite" else "%s"
        cursor = raw.cursor()
        for _ in range(2000):
            bi = cipher.indicator_blind_index("email", value_of(rng.randint(1, 2 * n)))
            t = time.perf_counter()
            cursor.execute(f"SELECT id FROM indicators WHERE blind_index = {mark}", (bi,))
            cursor.fetchall()
            singles.append(time.perf_counter() - t)
        for _ in range(50):
            bis = [cipher.indicator_blind_index("email", value_of(i)) for i in batch_ids(rng, n)]
            t = time.perf_counter()
            marks = ",".join([mark] * 1000)
            cursor.execute(f"SELECT id FROM indicators WHERE blind_index IN ({marks})", bis)
            cursor.fetchall()
            batches.append(time.perf_counter() - t)
    return {
        "sql_single_p50": pct(singles, 0.5),
        "sql_single_p99": pct(singles, 0.99),
        "sql_batch_p50": pct(batches, 0.5),
        "sql_batch_p99": pct(batches, 0.99),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--indicators", type=int, default=1_000_000)
    parser.add_argument("--prompts", type=int, default=0)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--clients", type=int, default=3)
    parser.add_argument("--workdir", default=None)
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="serve the store an earlier run built in --workdir again, without loading",
    )
    parser.add_argument(
        "--cold",
        action="store_true",
        help="SQLite: do not read the store into the page cache before measuring",
    )
    args = parser.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="bench-match-"))
    server, key, org_id, store = open_store(args.backend, work, reuse=args.reuse)
    n, p = (
        (store["indicators"], store["prompts"]) if args.reuse else (args.indicators, args.prompts)
    )
    figures: dict[str, Any] = {"backend": args.backend, "indicators": n, "prompts": p}
    if args.reuse:
        figures["reused"] = str(work)
    else:
        figures.update(load(server, n, p, org_id))
        save_store(work, args.backend, server.database_url, n, p)
    if args.backend == "sqlite" and not args.cold:
        figures.update(warm_page_cache(server.database_url))
    process = start_gunicorn(server, work)
    try:
        pid = process.pid
        rng = random.Random(11)
        client = KeepAliveClient(server.url, {"Authorization": f"Bearer {key}"})
        path, match_url = "/api/v1/match", server.url + "/api/v1/match"
        timed_posts(client, path, [email_body([rng.randint(1, n)]) for _ in range(200)])
        # half hits, half misses (ids above n+p were never stored)
        ids = [rng.randint(1, n) if k % 2 else rng.randint(n + p + 1, 3 * n) for k in range(3000)]
        single = timed_posts(client, path, [email_body([i]) for i in ids])
        figures.update(single_p50=pct(single, 0.5), single_p99=pct(single, 0.99))
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {key}"
        single = timed_posts_requests(session, match_url, [email_body([i]) for i in ids[:1500]])
        figures.update(single_requests_p50=pct(single, 0.5), single_requests_p99=pct(single, 0.99))
        batch_bodies = [email_body(batch_ids(rng, n)) for _ in range(60)]
        batch = timed_posts(client, path, batch_bodies)
        figures.update(batch_p50=pct(batch, 0.5), batch_p99=pct(batch, 0.99))
        half = [email_body(batch_ids(rng, n, hit_rate=0.5)) for _ in range(20)]
        batch = timed_posts(client, path, half)
        figures.update(batch50_p50=pct(batch, 0.5), batch50_p99=pct(batch, 0.99))
        with multiprocessing.Pool(args.clients) as pool:
            started = time.perf_counter()
            done = pool.map(
                _throughput_worker,
                [(match_url, key, n, s, args.seconds) for s in range(args.clients)],
            )
            figures["items_per_s"] = sum(done) / (time.perf_counter() - started)
        if p:
            figures.update(lsh(client, path, n, p, rng))
        figures["rss_mib"] = rss_mib(pid)
        figures["rss_anon_mib"] = rss_mib(pid, "RssAnon")
    finally:
        process.terminate()
        process.wait(timeout=30)
        server.stop()
    figures.update(bare_sql(server, n, random.Random(5)))
    figures["db_size_mib"] = db_size(server, work, args.backend)
    print(json.dumps(figures, indent=2))


def lsh(client: KeepAliveClient, path: str, n: int, p: int, rng: random.Random) -> dict[str, float]:
    times, found, asked = [], 0, 0
    for _ in range(400):
        target = rng.randint(n + 1, n + p)
        sig = near(random_signature(random.Random(target)), rng.uniform(0.8, 1.0), rng)
        body = json.dumps(
            {"items": [{"kind": "prompt", "key_id": "c1", "minhash": encode_signature(sig)}]}
        ).encode()
        t = time.perf_counter()
        status, answer = client.post(path, body)
        times.append(time.perf_counter() - t)
        assert status == 200, answer[:300]
        result = json.loads(answer)["results"][0]
        asked += 1
        found += bool(result["matched"])
    return {"lsh_p50": pct(times, 0.5), "lsh_p99": pct(times, 0.99), "lsh_recall": found / asked}


def db_size(server: LiveServer, work: Path, backend: str) -> float:
    if backend == "sqlite":
        return sum(f.stat().st_size for f in work.glob("bench.db*")) / 2**20
    with server.db.engine.connect() as connection:
        return (
            connection.execute(text("SELECT pg_database_size(current_database())")).scalar() / 2**20
        )


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
