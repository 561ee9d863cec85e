"""Ingest throughput over HTTP, beside ``stix2.parse`` of the same bundles in the same run.

    python bench/ingest/run.py [--store 0,1000000] [--bundles 3] [--size 10000]

For each store size: preload the store to that many indicators (in-process, through the real
ingest service), start gunicorn (2 workers) on loopback, then POST bundles of ``--size`` email
indicators at 0 %, 50 % and 100 % overlap with what is stored and time each request end to end
(JSON encoding, HTTP, validation, dedup, encryption, commit, status response). The peer figure
is ``stix2.parse`` on every object of the same bundle, single process, measured in the same run
so that the ratio holds on a noisy machine. Target (issue 4): >= 20x the stix2.parse rate,
and flat as the store grows.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import requests
import stix2

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.common import Instance, machine
from sharing.accounts import api_keys
from sharing.ingest import submit_bundle
from tests.stix_factories import body, make_bundle, make_indicator

PRELOAD_BUNDLE = 20_000


def bundle_of(prefix: str, start: int, count: int) -> bytes:
    return body(
        make_bundle(
            *[make_indicator(f"{prefix}{i}@bench.test") for i in range(start, start + count)]
        )
    )


def preload(instance: Instance, key: str, total: int) -> None:
    with instance.db.transaction() as session:
        principal = api_keys.authenticate(session, key, None)
    done = 0
    started = time.perf_counter()
    while done < total:
        n = min(PRELOAD_BUNDLE, total - done)
        submit_bundle(instance.rt, principal, bundle_of("pre", done, n))
        done += n
        rate = done / (time.perf_counter() - started)
        print(f"  preloaded {done:,} ({rate:,.0f}/s)", file=sys.stderr, end="\r")
    print(file=sys.stderr)


def stix2_rate(raw: bytes) -> float:
    objects = json.loads(raw)["objects"]
    started = time.perf_counter()
    for obj in objects:
        stix2.parse(obj, allow_custom=False)
    return len(objects) / (time.perf_counter() - started)


def post(url: str, key: str, raw: bytes) -> float:
    started = time.perf_counter()
    response = requests.post(
        url + "/api/v1/bundles",
        data=raw,
        timeout=600,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/stix+json"},
    )
    elapsed = time.perf_counter() - started
    status = response.json()
    assert response.status_code == 202 and status["failure_count"] == 0, status
    return elapsed


def run(store: int, size: int, bundles: int) -> list[dict]:
    rows = []
    with Instance(f"ingest-{store}") as instance:
        key = instance.member("bench-lab")
        if store:
            preload(instance, key, store)
        url = instance.serve(workers=2)
        fresh = 0
        for overlap in (0.0, 0.5, 1.0):
            rates, peer = [], []
            for _ in range(bundles):
                old = int(size * overlap)
                # overlap: values already stored by this member under other source ids
                # would be "unchanged"; use a second member's view: same values, new reports.
                raw_old = bundle_of("fresh", max(0, fresh - old), old) if old else b""
                objects = json.loads(raw_old)["objects"] if old else []
                objects += [
                    make_indicator(f"fresh{i}@bench.test") for i in range(fresh, fresh + size - old)
                ]
                fresh += size - old
                raw = body(make_bundle(*objects))
                other = instance.member(f"lab-{overlap}-{len(rates)}") if old else key
                elapsed = post(url, other, raw)
                rates.append(size / elapsed)
                peer.append(stix2_rate(raw))
            row = {
                "store": store,
                "overlap": overlap,
                "palisade_per_s": statistics.median(rates),
                "stix2_parse_per_s": statistics.median(peer),
            }
            row["ratio"] = row["palisade_per_s"] / row["stix2_parse_per_s"]
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default="0", help="comma-separated store sizes to preload")
    parser.add_argument("--size", type=int, default=10_000, help="indicators per bundle")
    parser.add_argument("--bundles", type=int, default=3, help="bundles per overlap level")
    args = parser.parse_args()
    print(f"# {machine()}", file=sys.stderr)
    for store in (int(s) for s in args.store.split(",")):
        run(store, args.size, args.bundles)


if __name__ == "__main__":
    main()
