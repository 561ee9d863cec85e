"""Bounded mixed load test: match-heavy traffic with feed pulls and submissions, loopback only.

Why: the per-area benchmarks measure one thing at a time; members hit everything at once. This
preloads a fresh SQLite store (or PostgreSQL with ``--database-url``), serves it with gunicorn
on 127.0.0.1, and runs ``--clients`` threads for ``--seconds`` seconds, each picking at random:

- 75 % ``POST /api/v1/match`` with ``--match-items`` e-mail hashes, about half of them stored;
- 15 % a TAXII page of 100 objects from the "everything" collection (following ``next``);
- 10 % ``POST /api/v1/bundles`` with ``--bundle-size`` new indicators (100 by default).

It stops by itself and prints a Markdown report: requests and throughput per operation, p50 /
p95 / p99 latency, and the error count (any status other than the expected 2xx, or a transport
error). Exit status 1 when there was any error. Rate limits stay at their defaults: hitting
one is an error here, because the defaults must hold up to this traffic per member.

    python -m bench.load.run --seconds 30 --clients 8 --preload 20000
    python -m bench.load.run --seconds 30 --bundle-size 10000   # matches beside large bundles

Not Locust: installing it into the shared environment would re-resolve Flask and Werkzeug under
the app; a small threaded driver is enough for a bounded, loopback-only run.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.common import Instance, machine
from sharing.accounts import api_keys
from sharing.feeds.collections import ALL, collection_id
from sharing.identifiers import ConsortiumKey, hash_identifier
from sharing.ingest import submit_bundle
from tests.stix_factories import body, make_bundle, make_indicator

KEY = ConsortiumKey("c1", b"\x11" * 32)  # the test/bench consortium key (tests.stix_factories)
TAXII = "application/taxii+json;version=2.1"
STIX = "application/stix+json"


def preload(instance: Instance, key: str, total: int) -> list[str]:
    with instance.db.transaction() as session:
        principal = api_keys.authenticate(session, key, None)
    raws = [f"load{i}@bench.test" for i in range(total)]
    for start in range(0, total, 10_000):
        chunk = raws[start : start + 10_000]
        submit_bundle(
            instance.rt, principal, body(make_bundle(*[make_indicator(r) for r in chunk]))
        )
    return [hash_identifier(KEY, "email", r) for r in raws]


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)
        self.error_samples: list[str] = []

    def add(self, op: str, seconds: float, ok: bool, detail: str = "") -> None:
        with self.lock:
            self.latency[op].append(seconds)
            if not ok:
                self.errors[op] += 1
                if len(self.error_samples) < 5:
                    self.error_samples.append(f"{op}: {detail[:200]}")


def client(
    url: str,
    key: str,
    stored: list[str],
    args: argparse.Namespace,
    stats: Stats,
    deadline: float,
    seed: int,
) -> None:
    rng = random.Random(seed)
    auth = {"Authorization": f"Bearer {key}"}
    feed_url = f"{url}/taxii2/exchange/collections/{collection_id(ALL)}/objects/"
    next_token: str | None = None
    with requests.Session() as session:
        while time.monotonic() < deadline:
            roll = rng.random()
            started = time.perf_counter()
            try:
                if roll < 0.75:
                    op = "match"
                    items = [
                        {"kind": "email", "value": rng.choice(stored)}
                        if rng.random() < 0.5
                        else {
                            "kind": "email",
                            "value": hash_identifier(KEY, "email", f"{uuid.uuid4()}@x.test"),
                        }
                        for _ in range(args.match_items)
                    ]
                    answer = session.post(
                        url + "/api/v1/match", json={"items": items}, headers=auth, timeout=60
                    )
                    ok = answer.status_code == 200
                elif roll < 0.90:
                    op = "feed page"
                    params = {"limit": "100", **({"next": next_token} if next_token else {})}
                    answer = session.get(
                        feed_url, params=params, headers={**auth, "Accept": TAXII}, timeout=60
                    )
                    ok = answer.status_code == 200
                    next_token = answer.json().get("next") if ok else None
                else:
                    op = "submit"
                    raws = [f"{uuid.uuid4()}@new.test" for _ in range(args.bundle_size)]
                    data = body(make_bundle(*[make_indicator(r) for r in raws]))
                    # A fresh connection: building a large bundle here can take longer than
                    # gunicorn's 2 s keep-alive, and a POST sent on a connection the server is
                    # closing fails without a response (requests retries no POST).
                    answer = requests.post(
                        url + "/api/v1/bundles",
                        data=data,
                        headers={**auth, "Content-Type": STIX},
                        timeout=120,
                    )
                    ok = answer.status_code == 202
                detail = f"{answer.status_code} {answer.text[:150]}"
            except requests.RequestException as exc:
                ok, detail = False, repr(exc)
            stats.add(op, time.perf_counter() - started, ok, detail)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--members", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--preload", type=int, default=20_000)
    parser.add_argument("--match-items", type=int, default=10)
    parser.add_argument("--bundle-size", type=int, default=100, help="indicators per submission")
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    with Instance("load", args.database_url) as instance:
        keys = [instance.member(f"load-{i}") for i in range(args.members)]
        print(f"preloading {args.preload:,} indicators", file=sys.stderr, flush=True)
        stored = preload(instance, keys[0], args.preload)
        url = instance.serve(workers=args.workers)
        assert url.startswith("http://127.0.0.1:"), "loopback only"
        stats = Stats()
        deadline = time.monotonic() + args.seconds
        threads = [
            threading.Thread(
                target=client,
                args=(url, keys[i % len(keys)], stored, args, stats, deadline, i),
                daemon=True,
            )
            for i in range(args.clients)
        ]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=args.seconds + 180)
        elapsed = time.monotonic() - started

    total = sum(len(v) for v in stats.latency.values())
    errors = sum(stats.errors.values())
    print(
        f"Mixed load, {args.clients} clients x {args.seconds:.0f} s, {args.workers} gunicorn "
        f"workers, {args.preload:,} indicators stored, {args.match_items} items per match, "
        f"{args.bundle_size:,} indicators per submission; "
        f"{machine()}.\n"
    )
    print("| operation | requests | per second | p50 ms | p95 ms | p99 ms | errors |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for op in ("match", "feed page", "submit"):
        samples = sorted(stats.latency.get(op, []))
        if not samples:
            continue
        p95, p99 = (samples[min(len(samples) - 1, int(len(samples) * q))] for q in (0.95, 0.99))
        print(
            f"| {op} | {len(samples):,} | {len(samples) / elapsed:,.1f} | "
            f"{statistics.median(samples) * 1000:,.1f} | {p95 * 1000:,.1f} | {p99 * 1000:,.1f} | "
            f"{stats.errors.get(op, 0)} |"
        )
    print(f"| **all** | {total:,} | {total / elapsed:,.1f} | | | | {errors} |")
    matched_items = len(stats.latency.get("match", [])) * args.match_items
    print(f"\nMatch items answered: {matched_items / elapsed:,.0f}/s. Errors: {errors}.")
    for sample in stats.error_samples:
        print(f"- {sample}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
