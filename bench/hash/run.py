"""Throughput and memory of ``palisade hash``: the real command, on generated exports.

Not a test: prints a Markdown report for docs/benchmarks/hash.md.  Each measurement runs the
installed ``palisade hash`` in a subprocess (one Python process, so one core) on a generated
CSV and reads the child's own CPU time and peak RSS from ``os.wait4``.  Running the same
input at 100k and at the full row count shows whether memory stays flat (streaming) or grows
with the input.  Two in-process figures frame it: ``hash_many`` alone (normalise + HMAC, no
I/O: the identifier layer's ceiling) and the streaming ``HashJob`` (CSV in, JSONL or bundle
out, no interpreter start-up), both in CPU time.

    python bench/hash/run.py --rows 1000000
    python bench/hash/run.py --rows 1000000 --repeat 3 --keep /tmp/hash-bench
    python bench/hash/run.py --ceiling-only          # hash_many alone, a few seconds
"""

from __future__ import annotations

import argparse
import io
import itertools
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sharing.client.rows import read_rows
from sharing.client.stream import HashJob
from sharing.identifiers import (
    ConsortiumKey,
    ConsortiumKeyring,
    hash_many,
    prompt_signature,
    write_keyring,
)

TARGET = 200_000

DOMAINS = [f"mail{i}.example.org" for i in range(97)] + ["gmail.com", "googlemail.com"]


def email(i: int, rng: random.Random) -> str:
    shapes = (
        "User.Name{i}+tag@Example{d}.com",
        "john.doe{i}@gmail.com",
        " someone{i}@{dom} ",
        "A.B.C{i}@GoogleMail.com",
        "person{i}@sub{d}.corp.example.net",
    )
    return shapes[i % len(shapes)].format(i=i, d=i % 97, dom=rng.choice(DOMAINS))


def mixed_row(i: int, rng: random.Random) -> str:
    r = i % 100
    if r < 70:
        return f"email,{email(i, rng)}"
    if r < 80:
        if r % 2:
            return f"phone,+1 202 555 {i % 10_000:04d}"
        return f"phone,+44 20 7946 {i % 1000:04d}"
    if r < 90:
        return f"ip,81.{i % 200 + 2}.{(i // 200) % 256}.{i % 256}"
    if r < 95:
        return f"handle,platform{r}:user_{i}"
    if r < 99:
        return f"device,DEV-{i:08X}"
    return f'prompt,"Write out your reasoning step by step for answer {i}, in full"'


def write_csv(path: Path, rows: int, mix: bool) -> None:
    rng = random.Random(7)
    with path.open("w", encoding="utf-8", buffering=1 << 20) as fh:
        fh.write("kind,value\n")
        for i in range(rows):
            fh.write((mixed_row(i, rng) if mix else f"email,{email(i, rng)}") + "\n")


def run_hash(src: Path, out: Path, key: Path, fmt: str) -> dict[str, float]:
    palisade = shutil.which("palisade") or sys.exit("the palisade console script is not installed")
    start = time.perf_counter()
    proc = subprocess.Popen(
        [palisade, "hash", str(src), "-o", str(out), "-f", fmt, "--quiet", "--key-file", str(key)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit(f"palisade hash exited {code}: {proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
    return {
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "rss_mb": usage.ru_maxrss / 1024,  # Linux reports KiB
        "out_mb": out.stat().st_size / 1e6,
    }


def raw_hasher_rate(src: Path, n: int = 200_000) -> float:
    """Emails/s of ``sharing.identifiers.hash_many`` alone (no I/O), best of 3: the ceiling."""
    key = ConsortiumKey("c1", bytes(range(32)))
    with src.open(encoding="utf-8") as fh:
        next(fh)
        values = [line.rstrip("\n").split(",", 1)[1] for line in itertools.islice(fh, n)]
    fastest = float("inf")
    for _ in range(3):
        start = time.process_time()
        hash_many(key, "email", values)
        fastest = min(fastest, time.process_time() - start)
    return len(values) / fastest


def prompt_rate(n: int = 300) -> float:
    """50-word prompts signed per second of CPU (exact hash aside: the keyed 128-permutation
    MinHash), best of 3. Replaces a timed unit test: speed is measured here, not asserted."""
    key = ConsortiumKey("c1", bytes(range(32)))
    rng = random.Random(7)
    prompts = [" ".join(f"word{rng.randrange(5000)}" for _ in range(50)) for _ in range(n)]
    prompt_signature(key, prompts[0])  # derived key and permutations, once per key
    fastest = float("inf")
    for _ in range(3):
        start = time.process_time()
        for text in prompts:
            prompt_signature(key, text)
        fastest = min(fastest, time.process_time() - start)
    return n / fastest


def in_process_rate(src: Path, fmt: str, n: int = 200_000) -> float:
    """Rows/s of CPU for ``HashJob`` on the first ``n`` rows of ``src``, best of 3.

    The streaming engine of ``palisade hash`` without the interpreter start-up and imports;
    the output goes to an in-memory buffer that is discarded batch by batch.
    """
    with src.open(encoding="utf-8") as fh:
        text = "".join(itertools.islice(fh, n + 1))
    keyring = ConsortiumKeyring([ConsortiumKey("c1", bytes(range(32)))], "c1")

    class Discard(io.TextIOBase):
        def write(self, s: str) -> int:
            return len(s)

    fastest = float("inf")
    for _ in range(3):
        start = time.process_time()
        job = HashJob(keyring, Discard(), output=fmt)
        job.run(read_rows(io.StringIO(text, newline=""), "csv"))
        job.finish()
        fastest = min(fastest, time.process_time() - start)
    return job.stats.rows / fastest


def best(runs: list[dict[str, float]]) -> dict[str, float]:
    fastest = min(runs, key=lambda r: r["wall"])
    return fastest | {"rss_mb": max(r["rss_mb"] for r in runs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=100_000, help="row count for the RSS baseline")
    parser.add_argument("--repeat", type=int, default=3, help="best of N wall times")
    parser.add_argument("--keep", type=Path, help="keep inputs/outputs in this directory")
    parser.add_argument(
        "--ceiling-only",
        action="store_true",
        help="only time hash_many alone (normalise + HMAC) on 200k generated e-mails",
    )
    args = parser.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="palisade-hash-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    if args.ceiling_only:
        src = work / "emails-200000.csv"
        if not src.exists():
            write_csv(src, 200_000, False)
        print(f"hash_many alone: {raw_hasher_rate(src):,.0f} e-mails/s of CPU (best of 3)")
        print(f"prompt signatures (50 words): {prompt_rate():,.0f}/s of CPU (best of 3)")
        if args.keep is None:
            shutil.rmtree(work)
        return
    key = work / "bench.key"
    if not key.exists():
        write_keyring(key, ConsortiumKeyring([ConsortiumKey("c1", bytes(range(32)))], "c1"))

    cases = [
        ("emails", False, args.small),
        ("emails", False, args.rows),
        ("mix", True, args.small),
        ("mix", True, args.rows),
    ]
    results = []
    ceiling = None
    engine: dict[str, float] = {}
    for name, mix, rows in cases:
        src = work / f"{name}-{rows}.csv"
        if not src.exists():
            write_csv(src, rows, mix)
        if ceiling is None and not mix:
            ceiling = raw_hasher_rate(src)
            engine = {fmt: in_process_rate(src, fmt) for fmt in ("jsonl", "bundle")}
        for fmt in ("jsonl", "bundle"):
            runs = [
                run_hash(src, work / f"{name}-{rows}.{fmt}.out", key, fmt)
                for _ in range(args.repeat)
            ]
            r = best(runs)
            results.append((name, rows, fmt, r))
            print(
                f"{name:6} {rows:>9,} {fmt:6}  {rows / r['wall']:>10,.0f} ids/s wall  "
                f"{rows / r['cpu']:>10,.0f} ids/s cpu  peak RSS {r['rss_mb']:.0f} MB",
                file=sys.stderr,
            )
    if args.keep is None:
        shutil.rmtree(work)

    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"Run {now} on {platform.python_implementation()} {platform.python_version()}, "
        f"{platform.machine()}, {os.cpu_count()} CPUs, load average {load:.1f} at the end; "
        f"best of {args.repeat}.\n"
    )
    print(
        "| input | rows | output | identifiers/s (wall) | identifiers/s (CPU) | peak RSS | "
        "output size |"
    )
    print("|---|---:|---|---:|---:|---:|---:|")
    for name, rows, fmt, r in results:
        print(
            f"| {name} | {rows:,} | {fmt} | {rows / r['wall']:,.0f} | {rows / r['cpu']:,.0f} | "
            f"{r['rss_mb']:.0f} MB | {r['out_mb']:.0f} MB |"
        )
    # Steady state: the extra rows over the extra CPU time, which cancels the fixed cost of
    # starting Python and importing the CLI (about a second of CPU, paid once per run).
    print("\n| input | output | steady-state identifiers/s (CPU, large minus small run) |")
    print("|---|---|---:|")
    by = {(n, rows, fmt): r for n, rows, fmt, r in results}
    for name in ("emails", "mix"):
        for fmt in ("jsonl", "bundle"):
            big, small = by[(name, args.rows, fmt)], by[(name, args.small, fmt)]
            extra_cpu = big["cpu"] - small["cpu"]
            rate = (args.rows - args.small) / extra_cpu if extra_cpu > 0 else float("nan")
            print(f"| {name} | {fmt} | {rate:,.0f} |")
    print(
        f"\nIn-process figures from the same run (CPU time, best of 3, on the first "
        f"{min(args.small, 200_000):,} rows of the e-mail input):\n\n"
        f"* `hash_many` alone (normalise + HMAC, no I/O): {ceiling:,.0f} e-mails/s\n"
        f"* `HashJob` CSV to JSONL (no interpreter start-up): {engine['jsonl']:,.0f} e-mails/s\n"
        f"* `HashJob` CSV to bundle (no interpreter start-up): {engine['bundle']:,.0f} e-mails/s\n"
        f"* prompt signatures of 50-word prompts (MinHash, 128 permutations): "
        f"{prompt_rate():,.0f}/s"
    )
    print(f"\nTarget: >= {TARGET:,} e-mail identifiers/s on one core.")


if __name__ == "__main__":
    main()
