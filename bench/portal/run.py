"""Portal page server time with 1M indicators stored (issue 7: target <= 200 ms per page).

Loads N canonical indicators (7 kinds, three reporting labs, a year of report dates, a TLP mix
with some TLP:RED in a sharing group, campaigns linked to 5%) straight into a fresh SQLite
instance with ``sharing.bulk.insert_rows``, logs in once as a platform admin (password + TOTP)
through the real portal, then times each page in-process through the WSGI app: server time,
no network or browser. Prints a Markdown table.

    python -m bench.portal.run                   # 1,000,000 indicators
    python -m bench.portal.run --n 100000 --repeat 10
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pyotp

from bench.common import ACTOR, Instance, machine
from sharing import bulk, create_app
from sharing.accounts import orgs, users
from sharing.identifiers import KINDS, TLP_MARKING_IDS  # noqa: F401
from sharing.models.context import ContextLink, ContextObject
from sharing.models.indicators import Indicator, Report, Reporter
from sharing.portal import mfa
from sharing.visibility import reporter_index

CHUNK = 20_000
PASSWORD = "correct horse battery staple"
NOW = datetime.now(UTC)
TOKEN = re.compile(r'name="csrf-token" content="([^"]+)"')


def load(inst: Instance, n: int, org_ids: list[int], group_id: int) -> float:
    cipher = inst.rt.cipher
    rng = random.Random(11)
    bis = [reporter_index(cipher, o) for o in org_ids]
    started = time.perf_counter()
    with inst.db.transaction(write=True) as s:
        for org_id, bi in zip(org_ids, bis, strict=True):
            s.add(
                Reporter(
                    id=bi.hex(),
                    org_ct=cipher.encrypt_text(str(org_id), f"reporters.org:{bi.hex()}"),
                )
            )
        campaigns = []
        for c in range(10):
            stix_id = f"campaign--{uuid.UUID(int=rng.getrandbits(128), version=4)}"
            body = {"type": "campaign", "id": stix_id, "name": f"Operation {c}"}
            campaigns.append(stix_id)
            s.add(
                ContextObject(
                    stix_id=stix_id,
                    stix_type="campaign",
                    reporter_bi=bis[c % 3],
                    reporter_ct=cipher.encrypt_text(
                        str(org_ids[c % 3]), f"context.reporter:{stix_id}"
                    ),
                    modified=NOW,
                    tlp="green",
                    group_id=None,
                    anonymous=False,
                    revoked=False,
                    body_ct=cipher.encrypt(json.dumps(body).encode(), f"context.body:{stix_id}"),
                    submission_id="bench",
                )
            )
    link_id = 0
    for start in range(1, n + 1, CHUNK):
        indicators, reports, links = [], [], []
        for i in range(start, min(n, start + CHUNK - 1) + 1):
            stix_id = f"indicator--{uuid.UUID(int=rng.getrandbits(128), version=4)}"
            kind = KINDS[i % len(KINDS)]
            value = f"hmac-sha256:c1:{rng.getrandbits(256):064x}"
            created = NOW - timedelta(seconds=rng.randrange(365 * 86400))
            reporter = i % 3
            red = rng.random() < 0.02
            indicators.append(
                {
                    "id": i,
                    "stix_id": stix_id,
                    "kind": kind,
                    "blind_index": cipher.indicator_blind_index(kind, value),
                    "value_ct": cipher.encrypt_text(value, f"indicators.value:{stix_id}"),
                    "consortium_key_id": "c1",
                    "signature_ct": None,
                    "created_at": created,
                }
            )
            reports.append(
                {
                    "id": i,
                    "indicator_id": i,
                    "reporter_bi": bis[reporter],
                    "source_id": f"indicator--{uuid.uuid4()}",
                    "source_modified": created,
                    "confidence": rng.choice((50, 70, 90)),
                    "tlp": "red" if red else rng.choice(("clear", "green", "green", "amber")),
                    "group_id": group_id if red else None,
                    "valid_from": created,
                    "valid_until": None,
                    "revoked": False,
                    "anonymous": rng.random() < 0.1,
                    "details_ct": None,
                    "submission_id": "bench",
                    "created_at": created,
                    "updated_at": created,
                }
            )
            if rng.random() < 0.05:
                link_id += 1
                links.append(
                    {
                        "id": link_id,
                        "report_id": i,
                        "relationship_stix_id": f"relationship--{uuid.uuid4()}",
                        "target_stix_id": campaigns[rng.randrange(10)],
                    }
                )
        with inst.db.transaction(write=True) as s:
            bulk.insert_rows(s, Indicator.__table__, indicators)
            bulk.insert_rows(s, Report.__table__, reports)
            bulk.insert_rows(s, ContextLink.__table__, links)
    with inst.db.engine.connect() as connection:
        connection.exec_driver_sql("ANALYZE")
        connection.commit()
    return time.perf_counter() - started


def seed_people(inst: Instance) -> tuple[list[int], int, str]:
    with inst.db.transaction(write=True) as s:
        labs = [orgs.create_org(s, name, actor=ACTOR) for name in ("lab-a", "lab-b", "lab-c")]
        group = orgs.create_group(s, "bc-only", actor=ACTOR)
        for lab in labs[1:]:
            orgs.add_group_member(s, group, lab, actor=ACTOR)
        user = users.create_user(
            s, inst.rt.cipher, labs[0], "alice", PASSWORD, role="platform-admin", actor=ACTOR
        )
        secret = pyotp.random_base32()
        user.totp_secret_ct = inst.rt.cipher.encrypt_text(secret, mfa.context(user.id))
        return [lab.id for lab in labs], group.id, secret


def login(client: Any, secret: str) -> str:
    token = TOKEN.search(client.get("/portal/login").text).group(1)
    client.post(
        "/portal/login", data={"username": "alice", "password": PASSWORD, "csrf_token": token}
    )
    token = TOKEN.search(client.get("/portal/login/code").text).group(1)
    answer = client.post(
        "/portal/login/code", data={"code": pyotp.TOTP(secret).now(), "csrf_token": token}
    )
    assert answer.status_code == 302, answer.text
    return TOKEN.search(client.get("/portal/dashboard").text).group(1)


def timed(client: Any, method: str, path: str, repeat: int, **kwargs: Any) -> list[float]:
    out = []
    for _ in range(repeat + 1):
        started = time.perf_counter()
        response = client.open(path, method=method, **kwargs)
        out.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.status_code, response.text[:500])
    return out  # out[0] warms caches (templates, statements; the dashboard's first rollup)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    with Instance("portal") as inst:
        org_ids, group_id, secret = seed_people(inst)
        load_s = load(inst, args.n, org_ids, group_id)
        app = create_app(
            {"settings": inst.settings, "database": inst.db, "key_source": inst.rt.keys}
        )
        client = app.test_client()
        csrf = login(client, secret)
        with inst.db.transaction() as s:
            campaign = s.query(ContextObject.stix_id).first()[0]
            detail = s.query(Indicator.stix_id).filter(Indicator.id == args.n // 2).one()[0]
        match_body = json.dumps(
            {"items": [{"kind": "email", "value": f"hmac-sha256:c1:{i:064x}"} for i in range(10)]}
        )
        pages = [
            ("dashboard", "GET", "/portal/dashboard", {}),
            ("indicators", "GET", "/portal/indicators", {}),
            ("indicators, kind=phone", "GET", "/portal/indicators?kind=phone", {}),
            ("indicators, tlp=amber", "GET", "/portal/indicators?tlp=amber", {}),
            ("indicators, campaign", "GET", f"/portal/indicators?campaign={campaign}", {}),
            (
                "indicators, last 7 days",
                "GET",
                f"/portal/indicators?since={(NOW - timedelta(days=7)).date()}",
                {},
            ),
            (
                "indicators, page at id 500,000",
                "GET",
                f"/portal/indicators?before={args.n // 2}",
                {},
            ),
            ("indicator detail", "GET", f"/portal/indicators/{detail}", {}),
            ("submit", "GET", "/portal/submit", {}),
            ("match (page)", "GET", "/portal/match", {}),
            (
                "match (10 values)",
                "POST",
                "/portal/match/query",
                {
                    "data": match_body,
                    "headers": {"X-CSRFToken": csrf, "Content-Type": "application/json"},
                },
            ),
            ("feeds", "GET", "/portal/feeds", {}),
            ("API keys", "GET", "/portal/keys", {}),
            ("audit log", "GET", "/portal/audit", {}),
            ("lab admin", "GET", "/portal/lab", {}),
            ("platform admin", "GET", "/portal/platform", {}),
        ]
        print(f"# Portal server time, {args.n:,} indicators ({machine()})\n")
        print(f"Load: {load_s:.0f} s. First request, then {args.repeat} timed requests per page.\n")
        print("| page | first ms | median ms | p95 ms | max ms |")
        print("|---|---:|---:|---:|---:|")
        for name, method, path, kwargs in pages:
            first, *rest = timed(client, method, path, args.repeat, **kwargs)
            times = sorted(rest)
            p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
            print(
                f"| {name} | {first:.1f} | {statistics.median(times):.1f} | {p95:.1f} "
                f"| {times[-1]:.1f} |"
            )
        started = time.perf_counter()
        client.get("/portal/platform/keys")
        elapsed = (time.perf_counter() - started) * 1000
        print(f"\nKey-rotation page (rotation records): {elapsed:.0f} ms")


if __name__ == "__main__":
    main()
