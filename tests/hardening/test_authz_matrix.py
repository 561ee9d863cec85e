"""Authorization matrix: every route x every kind of caller -> the expected status, no leaks.

The routes come from ``app.url_map``; ``EXPECTED`` below says, for each (method, rule), what each
class of caller gets. A route with no entry fails :func:`test_every_route_has_an_entry`, so a
new endpoint cannot ship without someone deciding who may call it.

Caller classes:

- ``none``: no ``Authorization``; ``malformed``: an unparseable header; ``wrong_key``: a
  well-formed key with a wrong secret; ``expired`` / ``revoked``: a real key past its expiry or
  revoked. All of these: 401 on every authenticated route, the same message each time.
- ``wrong_scope``: a real key of the owning member lacking the scope the route needs.
- ``owner``: the member that submitted the seeded data (a TLP:RED indicator, so no one else
  may see it) with all scopes. ``org_admin``: a key created by an org-admin user of the owner's
  organization (keys carry no role: it is simply one of the owner's keys).
- ``other_member``: another member with all scopes. ``platform_admin``: a key of the operator's
  organization, whose user is a platform administrator: on the API it is just another member
  and must see nothing of the owner's RED data.

For every caller except the owner's own keys, the body must not contain the owner's name,
the RED indicator's hash value, its canonical id or the owner's submission id (unless the
caller put that string in the request itself).

Portal routes (session login) are their own class: unauthenticated requests must be redirected
to the login page or get 401; add them to ``PORTAL_PREFIXES`` when they appear.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from flask import Flask
from sqlalchemy import select, update

from sharing.accounts import api_keys
from sharing.feeds.collections import ALL, collection_id
from sharing.identifiers import hash_identifier
from sharing.models import ApiKey, Indicator
from sharing.models.base import utcnow
from tests.factories import TEST_ACTOR, make_group, make_user
from tests.stix_factories import TEST_CONSORTIUM_KEY, body, make_bundle, make_indicator

CLASSES = (
    "none",
    "malformed",
    "wrong_key",
    "expired",
    "revoked",
    "wrong_scope",
    "other_member",
    "platform_admin",
    "org_admin",
    "owner",
)
UNAUTHENTICATED = ("none", "malformed", "wrong_key", "expired", "revoked")
PORTAL_PREFIXES = ("/portal",)
PUBLIC_RULES = {"/healthz", "/readyz", "/metrics", "/api/v1/openapi.json", "/api/docs"}
TAXII_ACCEPT = "application/taxii+json;version=2.1"
STIX = "application/stix+json"


def row(*, wrong_scope: int, owner: int, other: int) -> dict[str, int]:
    """Expected statuses for an authenticated route."""
    expected = {c: 401 for c in UNAUTHENTICATED}
    expected.update(
        wrong_scope=wrong_scope,
        other_member=other,
        platform_admin=other,
        org_admin=owner,
        owner=owner,
    )
    return expected


def public(status: int = 200) -> dict[str, int]:
    return {c: status for c in CLASSES}


# (method, rule) -> expected status per caller class. Keep in step with the routes.
EXPECTED: dict[tuple[str, str], dict[str, int]] = {
    ("GET", "/healthz"): public(),
    ("GET", "/readyz"): public(),
    ("GET", "/metrics"): public(),
    ("GET", "/api/v1/openapi.json"): public(),
    ("GET", "/static/<path:filename>"): public(404),
    ("GET", "/api/docs"): public(),
    ("GET", "/api/docs/static/<path:filename>"): public(404),
    ("GET", "/api/v1/whoami"): row(wrong_scope=200, owner=200, other=200),
    ("POST", "/api/v1/bundles"): row(wrong_scope=403, owner=202, other=202),
    ("GET", "/api/v1/status/<string:status_id>"): row(wrong_scope=403, owner=200, other=404),
    ("POST", "/api/v1/match"): row(wrong_scope=403, owner=200, other=200),
    ("GET", "/api/v1/range/<string:prefix>"): row(wrong_scope=403, owner=200, other=200),
    ("POST", "/api/v1/sightings"): row(wrong_scope=403, owner=201, other=404),
    ("GET", "/taxii2/"): row(wrong_scope=200, owner=200, other=200),
    ("GET", "/taxii2/exchange/"): row(wrong_scope=200, owner=200, other=200),
    ("GET", "/taxii2/exchange/collections/"): row(wrong_scope=200, owner=200, other=200),
    ("GET", "/taxii2/exchange/collections/<collection_id>/"): row(
        wrong_scope=200, owner=200, other=200
    ),
    ("GET", "/taxii2/exchange/collections/<collection_id>/manifest/"): row(
        wrong_scope=403, owner=200, other=200
    ),
    ("GET", "/taxii2/exchange/collections/<collection_id>/objects/"): row(
        wrong_scope=403, owner=200, other=200
    ),
    ("POST", "/taxii2/exchange/collections/<collection_id>/objects/"): row(
        wrong_scope=403, owner=202, other=202
    ),
    ("GET", "/taxii2/exchange/collections/<collection_id>/objects/<object_id>/"): row(
        wrong_scope=403, owner=200, other=404
    ),
    ("GET", "/taxii2/exchange/collections/<collection_id>/objects/<object_id>/versions/"): row(
        wrong_scope=403, owner=200, other=404
    ),
    ("GET", "/taxii2/exchange/status/<status_id>/"): row(wrong_scope=403, owner=200, other=404),
    ("DELETE", "/taxii2/exchange/collections/<collection_id>/objects/<object_id>/"): row(
        wrong_scope=403, owner=200, other=404
    ),
}

# The scope each route needs, to build the wrong-scope key (a key with every other scope).
NEEDS_SCOPE: dict[tuple[str, str], str] = {
    ("POST", "/api/v1/bundles"): "write",
    ("GET", "/api/v1/status/<string:status_id>"): "write",
    ("POST", "/api/v1/match"): "match",
    ("GET", "/api/v1/range/<string:prefix>"): "match",
    ("POST", "/api/v1/sightings"): "write",
    ("POST", "/taxii2/exchange/collections/<collection_id>/objects/"): "write",
    ("DELETE", "/taxii2/exchange/collections/<collection_id>/objects/<object_id>/"): "write",
    ("GET", "/taxii2/exchange/status/<status_id>/"): "write",
}


def routes(app: Flask) -> list[tuple[str, str]]:
    found = []
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((method, rule.rule))
    return sorted(found)


def test_every_route_has_an_entry(app: Flask) -> None:
    missing = [
        route
        for route in routes(app)
        if route not in EXPECTED and not route[1].startswith(PORTAL_PREFIXES)
    ]
    assert not missing, (
        f"routes without an authorization entry in {__name__}.EXPECTED: {missing}; decide who "
        "may call them and add a row"
    )


def test_no_entry_is_stale(app: Flask) -> None:
    """A row for a route that vanished means a blueprint stopped being registered (or moved)."""
    stale = [route for route in EXPECTED if route not in routes(app)]
    assert not stale, f"EXPECTED lists routes the app no longer serves: {stale}"


# Portal routes (session login): without a session, pages redirect to the login page and
# state-changing posts are refused (CSRF, 400) before anything else; an API key, however valid,
# opens nothing there. Public: the login page itself and static files.
PORTAL_PUBLIC = {"/portal/login", "/portal/static/<path:filename>"}


def _portal_path(rule: str) -> str:
    for name, value in (
        ("<stix_id>", "indicator--00000000-0000-4000-8000-000000000000"),
        ("<prefix>", "AAAAAAAAAA"),
        ("<username>", "someone"),
        ("<group>", "g"),
        ("<org>", "o"),
        ("<path:filename>", "nothing.js"),
    ):
        rule = rule.replace(name, value)
    return rule


def test_portal_routes_need_a_session(app: Flask, exchange) -> None:  # type: ignore[no-untyped-def]
    member = exchange.member("lab-portal")
    client = app.test_client()
    portal = [r for r in routes(app) if r[1].startswith(PORTAL_PREFIXES)]
    problems = []
    for method, rule in portal:
        if rule in PORTAL_PUBLIC:
            continue
        for headers in ({}, member.headers):
            response = client.open(_portal_path(rule), method=method, headers=headers)
            status = response.status_code
            if method == "GET":
                ok = status in (302, 303) and "/portal/login" in response.headers.get(
                    "Location", ""
                )
                ok = ok or status == 401
            else:
                ok = status in (302, 303, 400, 401, 403)
            if not ok:
                problems.append(f"{method} {rule} ({'key' if headers else 'none'}): {status}")
            assert status < 500
    assert not problems, problems


@dataclass
class World:
    owner_name: str
    keys: dict[str, dict[str, str]]  # class -> headers
    scope_keys: dict[str, dict[str, str]]  # missing scope -> headers of an owner key without it
    status_id: str
    canonical_id: str
    red_value: str
    secrets: list[str] = field(default_factory=list)


def _seed(app: Flask, exchange: Any) -> World:  # type: ignore[no-untyped-def]
    owner = exchange.member("lab-owner")
    other = exchange.member("lab-other")
    operator = exchange.member("lab-operator")
    db = exchange.db
    from sharing.accounts import orgs

    with db.transaction(write=True) as session:
        cipher = app.extensions["palisade"].cipher
        admin = make_user(
            session, cipher, orgs.get_org(session, "lab-operator"), role="platform-admin"
        )
        org_admin = make_user(session, cipher, orgs.get_org(session, "lab-owner"), role="org-admin")
        admin_key, _ = api_keys.create_key(
            session,
            orgs.get_org(session, "lab-operator"),
            name="ops",
            scopes="read,write,match",
            created_by=admin.id,
            actor=TEST_ACTOR,
        )
        org_admin_key, _ = api_keys.create_key(
            session,
            orgs.get_org(session, "lab-owner"),
            name="oa",
            scopes="read,write,match",
            created_by=org_admin.id,
            actor=TEST_ACTOR,
        )
        expiring, expiring_row = api_keys.create_key(
            session,
            orgs.get_org(session, "lab-owner"),
            name="exp",
            scopes="read,write,match",
            expires_at=utcnow() + timedelta(days=1),
            actor=TEST_ACTOR,
        )
        session.execute(
            update(ApiKey)
            .where(ApiKey.id == expiring_row.id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        revoked, revoked_row = api_keys.create_key(
            session,
            orgs.get_org(session, "lab-owner"),
            name="rev",
            scopes="read,write,match",
            actor=TEST_ACTOR,
        )
        api_keys.revoke_key(session, None, revoked_row.prefix, actor=TEST_ACTOR)
        make_group(session, orgs.get_org(session, "lab-owner"), name="owner-only")
    del operator
    scope_keys = {}
    for scope in ("read", "write", "match"):
        rest = ",".join(s for s in ("read", "write", "match") if s != scope)
        scope_keys[scope] = {"Authorization": f"Bearer {exchange.key_for(owner, scopes=rest)}"}
    red_raw = "red-only@owner.test"
    red_value = hash_identifier(TEST_CONSORTIUM_KEY, "email", red_raw)
    client = app.test_client()
    answer = client.post(
        "/api/v1/bundles",
        data=body(make_bundle(make_indicator(red_raw, tlp="red", group="owner-only"))),
        headers={**owner.headers, "Content-Type": STIX},
    )
    assert answer.status_code == 202, answer.get_json()
    assert answer.get_json()["success_count"] == 1, answer.get_json()
    status_id = answer.get_json()["id"]
    with db.transaction() as session:
        canonical = session.scalar(select(Indicator.stix_id))
    wrong = owner.key.rsplit("_", 1)[0] + "_" + "x" * 20
    keys = {
        "none": {},
        "malformed": {"Authorization": "Basic !!not-base64!!"},
        "wrong_key": {"Authorization": f"Bearer {wrong}"},
        "expired": {"Authorization": f"Bearer {expiring}"},
        "revoked": {"Authorization": f"Token {revoked}"},
        "other_member": other.headers,
        "platform_admin": {"Authorization": f"Bearer {admin_key}"},
        "org_admin": {
            "Authorization": "Basic " + base64.b64encode(f"x:{org_admin_key}".encode()).decode()
        },
        "owner": owner.headers,
    }
    return World("lab-owner", keys, scope_keys, status_id, canonical, red_value)


def _request(world: World, method: str, rule: str) -> tuple[str, dict[str, Any]]:
    """A concrete path and request options for (method, rule), aimed at the owner's data."""
    everything = collection_id(ALL)
    path = (
        rule.replace("<string:status_id>", world.status_id)
        .replace("<status_id>", world.status_id)
        .replace("<string:prefix>", world.red_value.rsplit(":", 1)[1][:5])
        .replace("<collection_id>", everything)
        .replace("<object_id>", world.canonical_id)
        .replace("<path:filename>", "nothing.js")
    )
    options: dict[str, Any] = {"headers": {}}
    if rule.startswith("/taxii2"):
        options["headers"]["Accept"] = TAXII_ACCEPT
    if method == "POST" and rule.endswith("/bundles"):
        options["data"] = body(
            make_bundle(make_indicator(f"{uuid.uuid4()}@x.test", anonymous=True))
        )
        options["headers"]["Content-Type"] = STIX
    elif method == "POST" and rule.endswith("/objects/"):
        options["data"] = json.dumps(
            {"objects": [make_indicator(f"{uuid.uuid4()}@x.test", anonymous=True)]}
        )
        options["headers"]["Content-Type"] = TAXII_ACCEPT
    elif rule.endswith("/match"):
        options["json"] = {"items": [{"kind": "email", "value": world.red_value}]}
    elif rule.endswith("/sightings"):
        options["json"] = {"type": "seen", "indicator_id": world.canonical_id}
    return path, options


def _leaks(world: World, text: str, request_text: str) -> list[str]:
    found = []
    suffix = world.red_value.rsplit(":", 1)[1][5:]
    for secret in (world.owner_name, world.red_value, suffix, world.canonical_id, world.status_id):
        if secret in text and secret not in request_text:
            found.append(secret)
    return found


def _run_matrix(app: Flask, exchange: Any) -> list[str]:  # type: ignore[no-untyped-def]
    world = _seed(app, exchange)
    client = app.test_client()
    problems: list[str] = []
    # Destructive routes last, and the owner last within each route.
    ordered = sorted(EXPECTED, key=lambda r: (r[0] == "DELETE", r[1]))
    for method, rule in ordered:
        if (method, rule) not in routes(app):
            continue
        for caller in CLASSES:
            if caller == "wrong_scope":
                needed = NEEDS_SCOPE.get((method, rule), "read")
                headers = world.scope_keys[needed]
            else:
                headers = world.keys[caller]
            path, options = _request(world, method, rule)
            options["headers"] = {**options["headers"], **headers}
            response = client.open(path, method=method, **options)
            expected = EXPECTED[(method, rule)][caller]
            if response.status_code != expected:
                problems.append(
                    f"{method} {rule} as {caller}: {response.status_code} (expected {expected}): "
                    f"{response.get_data(as_text=True)[:160]}"
                )
            assert response.status_code < 500, (method, rule, caller)
            if caller not in ("owner", "org_admin", "wrong_scope"):
                request_text = (
                    path + json.dumps(options.get("json") or "") + str(options.get("data"))
                )
                leaked = _leaks(world, response.get_data(as_text=True), request_text)
                if leaked:
                    problems.append(f"{method} {rule} as {caller} leaks {leaked}")
            if caller in UNAUTHENTICATED and expected == 401:
                assert "WWW-Authenticate" in response.headers
                assert response.get_json() is not None
    return problems


def test_the_matrix(app: Flask, exchange) -> None:  # type: ignore[no-untyped-def]
    problems = _run_matrix(app, exchange)
    assert not problems, "\n".join(problems)


def test_unauthenticated_answers_are_identical(app: Flask, exchange) -> None:  # type: ignore[no-untyped-def]
    """Wrong, expired and revoked keys are indistinguishable: a prober learns nothing."""
    world = _seed(app, exchange)
    client = app.test_client()
    bodies = set()
    for caller in ("wrong_key", "expired", "revoked"):
        answer = client.get("/api/v1/whoami", headers=world.keys[caller])
        assert answer.status_code == 401
        bodies.add(answer.get_data(as_text=True))
    assert len(bodies) == 1
