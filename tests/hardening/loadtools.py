"""Helpers shared by the concurrency, crash and backup tests: overlapping bundles and a poster
that retries 503 + Retry-After the way a well-behaved member client does."""

from __future__ import annotations

import os
import random
import signal
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import requests

from sharing.identifiers import hash_identifier
from tests.live import LiveServer
from tests.stix_factories import TEST_CONSORTIUM_KEY, body, make_bundle, make_indicator

STIX = "application/stix+json"
ROOT = Path(__file__).resolve().parents[2]


def raw_values(member: int, bundles: int, size: int, pool: int, seed: int = 7) -> list[list[str]]:
    """``bundles`` lists of raw e-mails for ``member``: half from a shared pool, half its own.

    A member never repeats a value across its own bundles, so every (member, value) pair is
    exactly one report and the expected reporter counts are exact.
    """
    rng = random.Random(seed * 1000 + member)
    shared = rng.sample(range(pool), min(pool, bundles * size // 2))
    out: list[list[str]] = []
    own = 0
    for b in range(bundles):
        chunk = [f"pool{v}@shared.test" for v in shared[b * (size // 2) : (b + 1) * (size // 2)]]
        while len(chunk) < size:
            chunk.append(f"m{member}-{own}@own.test")
            own += 1
        out.append(chunk)
    return out


def bundle_bytes(raws: list[str]) -> bytes:
    return body(make_bundle(*[make_indicator(r, anonymous=False) for r in raws]))


def hashed(raw: str) -> str:
    return hash_identifier(TEST_CONSORTIUM_KEY, "email", raw)


@dataclass
class PostLog:
    statuses: Counter[int] = field(default_factory=Counter)
    retried: int = 0


def post_with_retry(
    session: requests.Session,
    url: str,
    key: str,
    data: bytes,
    log: PostLog,
    *,
    attempts: int = 20,
    timeout: float = 120,
) -> requests.Response:
    for _ in range(attempts):
        response = session.post(
            url + "/api/v1/bundles",
            data=data,
            headers={"Authorization": f"Bearer {key}", "Content-Type": STIX},
            timeout=timeout,
        )
        log.statuses[response.status_code] += 1
        if response.status_code == 503 and "Retry-After" in response.headers:
            log.retried += 1
            time.sleep(min(float(response.headers["Retry-After"]), 2.0) * random.random() + 0.05)
            continue
        return response
    return response


def start_gunicorn(
    server: LiveServer,
    workers: int = 3,
    boot_timeout: float = 90,
    extra_env: dict[str, str] | None = None,
) -> None:
    """Gunicorn in its own process group, patient with slow boots (see tests.live)."""
    server.start_gunicorn(workers, boot_timeout=boot_timeout, extra_env=extra_env)


def kill9(server: LiveServer) -> None:
    """SIGKILL the gunicorn master and every worker at once (a power cut, as far as it goes)."""
    process = server._process
    assert process is not None
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    server._process = None
