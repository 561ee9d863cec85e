"""Ingest throughput over HTTP, beside ``stix2.parse`` of the same bundles in the same run.

    python bench/ingest/run.py [--checkpoints 0,1000000,5000000] [--bundles 5] [--size 10000]
                               [--clients 1,2] [--save DIR] [--start-from DIR/store-N]

One store grows through the checkpoints: it is filled in-process through the real ingest
service (``submit_bundle``, 20,000-indicator bundles; its rate per segment is printed too,
which is itself the in-process ingest rate as the store grows), and at each checkpoint gunicorn
(2 workers) serves it on loopback while bundles of ``--size`` e-mail indicators are POSTed at
0 %, 50 % and 100 % overlap with what is stored, after an unmeasured warm-up (``warm_up``).
Each request is timed end to end (JSON encoding,
HTTP, validation, dedup, encryption, commit, the status response). With ``--clients 2`` that
many submitters (separate members, separate processes) each post ``--bundles`` bundles one
after another, all at once, and the figure is total indicators/s from the first request's start
to the last one's end. The peer is ``stix2.parse`` of every object of the same bundle, single
process, in the same run, so that the ratio holds on a noisy machine.
``--save DIR`` keeps a copy of the store at each checkpoint (DIR/store-N) and ``--start-from``
measures from such a copy, so a 5-million store is built once and re-measured after changes.
Target (issue 4): >= 20x the stix2.parse rate, and flat as the store grows to 5 million.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import shutil
import statistics
import sys
import time
import uuid
from pathlib import Path

import requests
import stix2

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.common import Instance, machine, stop_on_sigterm
from sharing.accounts import api_keys
from sharing.ingest import submit_bundle
from tests.stix_factories import body, make_bundle, make_indicator

PRELOAD_BUNDLE = 20_000
# With two workers, six posts leave one of them unwarmed with probability 1/32.
WARM_UP_POSTS = 6


def bundle_of(prefix: str, start: int, count: int) -> bytes:
    return body(
        make_bundle(
            *[make_indicator(f"{prefix}{i}@bench.test") for i in range(start, start + count)]
        )
    )


class Preloader:
    """Grows the store in-process and reports the rate of each segment."""

    def __init__(self, instance: Instance, key: str) -> None:
        with instance.db.transaction() as session:
            self.principal = api_keys.authenticate(session, key, None)
        self.instance = instance
        self.done = 0

    def grow_to(self, total: int) -> None:
        if total <= self.done:
            return
        start_count, started = self.done, time.perf_counter()
        cpu = time.process_time()
        while self.done < total:
            n = min(PRELOAD_BUNDLE, total - self.done)
            submit_bundle(self.instance.rt, self.principal, bundle_of("pre", self.done, n))
            self.done += n
            rate = (self.done - start_count) / (time.perf_counter() - started)
            print(f"  preloaded {self.done:,} ({rate:,.0f}/s)", file=sys.stderr, end="\r")
        added = self.done - start_count
        wall = time.perf_counter() - started
        row = {
            "preload_to": total,
            "added": added,
            "wall_per_s": round(added / wall),
            "cpu_per_s": round(added / (time.process_time() - cpu)),
        }
        print(file=sys.stderr)
        print(json.dumps(row), flush=True)


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
    assert response.status_code == 202 and status["failure_count"] == 0, (key[:16], status)
    return elapsed


def _post_worker(args: tuple[str, str, list[bytes]]) -> tuple[float, float]:
    url, key, raws = args
    started = time.perf_counter()
    for raw in raws:
        post(url, key, raw)
    return started, time.perf_counter()


class Checkpoint:
    """Measures HTTP submission at one store size."""

    def __init__(self, instance: Instance, key: str, size: int, fresh: int) -> None:
        self.instance, self.key, self.size, self.fresh = instance, key, size, fresh
        self.members = 0

    def _bundle(self, overlap: float, old_end: int | None = None) -> tuple[bytes, str]:
        old = int(self.size * overlap)
        # Overlap: values already stored, reported now by another member (dedup finds the
        # canonical indicator and adds a report); the rest are new values. ``old_end``: take
        # the stored values just below it (default: the newest fresh values, stored by then).
        end = self.fresh if old_end is None else old_end
        objects = json.loads(bundle_of("fresh", end - old, old))["objects"] if old else []
        objects += [
            make_indicator(f"fresh{i}@bench.test")
            for i in range(self.fresh, self.fresh + self.size - old)
        ]
        self.fresh += self.size - old
        self.members += 1
        who = self.instance.member(f"lab-{self.fresh}-{self.members}") if old else self.key
        return body(make_bundle(*objects)), who

    def sequential(self, url: str, overlap: float, bundles: int) -> tuple[float, float]:
        rates, peer = [], []
        for _ in range(bundles):
            raw, who = self._bundle(overlap)
            rates.append(self.size / post(url, who, raw))
            peer.append(stix2_rate(raw))
        return statistics.median(rates), statistics.median(peer)

    def concurrent(
        self, url: str, overlap: float, clients: int, bundles: int
    ) -> tuple[float, float]:
        """Each client posts ``bundles`` bundles one after another, all clients at once: the
        steady state of several pipelines, not just their first overlapping request."""
        jobs = []
        # Overlapping values must be stored before the phase starts, not posted during it by
        # the other client: each bundle takes its own window below this mark.
        stored, old = self.fresh, int(self.size * overlap)
        for client in range(clients):
            raws = []
            who = self.instance.member(f"lab-c-{self.fresh}-{client}")  # separate members
            for _ in range(bundles):
                raw, _sender = self._bundle(overlap, old_end=stored)
                stored -= old
                raws.append(raw)
            jobs.append((url, who, raws))
        # close() and join(), not the context manager's terminate(): SIGTERM can reach a worker
        # while it holds the pool's task-queue lock, and the next one then waits for that
        # lock forever (it hung a run at 11:47 UTC on 2026-11-28).
        pool = multiprocessing.get_context("fork").Pool(clients)
        try:
            spans = pool.map(_post_worker, jobs)
        finally:
            pool.close()
            pool.join()
        wall = max(end for _, end in spans) - min(start for start, _ in spans)
        peer = statistics.median(stix2_rate(raw) for raw in jobs[0][2])
        return clients * bundles * self.size / wall, peer


def warm_up(instance: Instance, url: str, size: int) -> None:
    """Serve a few unmeasured bundles first, so the figures are those of a running server.

    The first bundle a fresh gunicorn worker takes costs 80-130 ms more than the next ones
    (its heap grows by ~90 MiB, ~23,000 page faults, and its statements compile), and which
    worker takes a connection is up to the kernel. One bundle from a member of its own, posted
    ``WARM_UP_POSTS`` times: the first stores its values, the rest are no-ops ("unchanged")
    that still parse, validate and prepare every object, so the store grows by one bundle.
    """
    who = instance.member(f"bench-warm-{uuid.uuid4().hex[:12]}")
    raw = bundle_of(f"warm-{uuid.uuid4().hex[:8]}-", 0, size)
    for _ in range(WARM_UP_POSTS):
        post(url, who, raw)


def measure(instance: Instance, key: str, store: int, fresh: int, args: argparse.Namespace) -> int:
    """HTTP figures at this store size; returns where the next fresh values start."""
    checkpoint = Checkpoint(instance, key, args.size, fresh=fresh)
    url = instance.serve(workers=2)
    warm_up(instance, url, args.size)
    clients = [int(c) for c in args.clients.split(",")]
    try:
        for overlap in (0.0, 0.5, 1.0):
            for n in clients:
                if n == 1:
                    rate, peer = checkpoint.sequential(url, overlap, args.bundles)
                else:
                    rate, peer = checkpoint.concurrent(url, overlap, n, args.bundles)
                row = {
                    "store": store,
                    "overlap": overlap,
                    "clients": n,
                    "palisade_per_s": round(rate),
                    "stix2_parse_per_s": round(peer),
                    "ratio": round(rate / peer, 1),
                }
                print(json.dumps(row), flush=True)
    finally:
        instance.process.terminate()  # type: ignore[union-attr]
        instance.process.wait(timeout=30)  # type: ignore[union-attr]
        instance.process = None
    return checkpoint.fresh


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--checkpoints", "--store", default="0", help="comma-separated store sizes to measure at"
    )
    parser.add_argument("--size", type=int, default=10_000, help="indicators per bundle")
    parser.add_argument("--bundles", type=int, default=5, help="bundles per overlap level")
    parser.add_argument("--clients", default="1", help="comma-separated concurrent submitters")
    parser.add_argument("--save", type=Path, help="keep a copy of the store at each checkpoint")
    parser.add_argument("--start-from", type=Path, help="a copy saved by --save to start from")
    args = parser.parse_args()
    stop_on_sigterm()
    print(f"# {machine()}", file=sys.stderr)
    state = {"preloaded": 0, "fresh": 0}
    if args.start_from:
        state = json.loads((args.start_from / "bench-ingest.json").read_text())
    with Instance("ingest", copy_of=args.start_from) as instance:
        # a new member each run: a saved store already holds the one its own run created
        key = instance.member(f"bench-lab-{uuid.uuid4().hex[:12]}")
        preloader = Preloader(instance, key)
        preloader.done = state["preloaded"]
        for store in sorted(int(s) for s in args.checkpoints.split(",")):
            preloader.grow_to(store)
            if args.save:
                state["preloaded"] = preloader.done
                (instance.folder / "bench-ingest.json").write_text(json.dumps(state))
                instance.save(args.save / f"store-{store}")
                shutil.copy2(instance.folder / "bench-ingest.json", args.save / f"store-{store}")
            # Fresh values live above every preloaded number, so they never collide.
            state["fresh"] = measure(instance, key, store, max(state["fresh"], 10**9 + store), args)


if __name__ == "__main__":
    main()
