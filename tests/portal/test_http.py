"""Portal sessions, CSRF, lockout and visibility over HTTP (Flask test client, both backends)."""

from __future__ import annotations

import time
from typing import Any

import pyotp
import pytest
from flask.testing import FlaskClient

from sharing.accounts import consortium
from sharing.ingest.service import submit_bundle
from sharing.portal import session as ps
from sharing.portal.spectables import TARGET, render
from tests.factories import (
    PASSWORD,
    TEST_ACTOR,
    bearer,
    make_api_key,
    make_group,
    make_org,
    make_user,
)
from tests.portal.helpers import csrf_from, enrolled_user
from tests.stix_factories import TEST_CONSORTIUM_KEY, body, make_bundle, make_indicator


def login(client: FlaskClient, username: str, password: str = PASSWORD) -> Any:
    token = csrf_from(client.get("/portal/login").text)
    return client.post(
        "/portal/login", data={"username": username, "password": password, "csrf_token": token}
    )


def code(client: FlaskClient, value: str) -> Any:
    token = csrf_from(client.get("/portal/login/code").text)
    return client.post("/portal/login/code", data={"code": value, "csrf_token": token})


@pytest.fixture
def people(rt: Any) -> dict[str, Any]:
    with rt.db.transaction(write=True) as s:
        lab_a, lab_b = make_org(s, "lab-a"), make_org(s, "lab-b")
        _, secret = enrolled_user(s, rt.cipher, lab_a, "admin", "org-admin")
        make_user(s, rt.cipher, lab_a, username="member", role="member")
        make_user(s, rt.cipher, lab_a, username="newadmin", role="org-admin")
        group = make_group(s, lab_b, name="b-only")
        key_b, _ = make_api_key(s, lab_b)
        consortium.register(s, TEST_CONSORTIUM_KEY.key_id, actor=TEST_ACTOR)
    return {"secret": secret, "key_b": key_b, "group": group.name}


def test_totp_login_and_single_use_codes(client: FlaskClient, people: dict[str, Any]) -> None:
    assert login(client, "admin").headers["Location"].endswith("/portal/login/code")
    assert client.get("/portal/dashboard").status_code == 302  # password alone is not enough
    now = pyotp.TOTP(people["secret"]).now()
    assert code(client, now).headers["Location"].endswith("/portal/dashboard")
    assert client.get("/portal/dashboard").status_code == 200
    other = client.application.test_client()
    login(other, "admin")
    replay = code(other, now)
    assert replay.status_code == 401 and "already used" in replay.text


def test_admin_cannot_skip_enrolment(client: FlaskClient, people: dict[str, Any]) -> None:
    assert login(client, "newadmin").headers["Location"].endswith("/portal/enrol")
    assert client.get("/portal/keys").status_code == 302
    page = client.get("/portal/enrol")
    assert "<svg" in page.text
    secret = page.text.split('id="totp-secret" class="secret">')[1].split("<")[0]
    answer = client.post(
        "/portal/enrol", data={"code": pyotp.TOTP(secret).now(), "csrf_token": csrf_from(page.text)}
    )
    assert answer.status_code == 302 and client.get("/portal/keys").status_code == 200


def test_lockout_after_repeated_failures(client: FlaskClient, people: dict[str, Any]) -> None:
    for _ in range(5):
        assert login(client, "member", "wrong password!!").status_code == 401
    locked = login(client, "member")
    assert locked.status_code == 401 and "too many failed attempts" in locked.text


def test_wrong_codes_count_towards_lockout(client: FlaskClient, people: dict[str, Any]) -> None:
    login(client, "admin")
    right = pyotp.TOTP(people["secret"]).now()
    wrong = "000000" if right != "000000" else "111111"
    for _ in range(5):
        assert code(client, wrong).status_code == 401
    assert "too many failed attempts" in code(client, right).text


def test_csrf_less_posts_are_refused_but_api_needs_none(
    client: FlaskClient, people: dict[str, Any]
) -> None:
    refused = client.post("/portal/login", data={"username": "member", "password": PASSWORD})
    assert refused.status_code == 400 and "CSRF" in refused.text
    login(client, "member")
    assert client.post("/portal/logout").status_code == 400
    assert client.post("/portal/match/query", json={"items": []}).status_code == 400
    assert client.get("/portal/dashboard").status_code == 200  # still logged in
    api = client.post(
        "/api/v1/match",
        json={"items": [{"kind": "email", "value": "hmac-sha256:c1:" + "0" * 64}]},
        headers=bearer(people["key_b"]),
    )
    assert api.status_code == 200


def test_session_cookie_flags_and_expiry(client: FlaskClient, people: dict[str, Any]) -> None:
    response = login(client, "member")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert client.get("/portal/dashboard").status_code == 200
    with client.session_transaction() as session:
        session["seen"] = int(time.time()) - ps.IDLE_TIMEOUT - 1
    assert client.get("/portal/dashboard").status_code == 302
    login(client, "member")
    with client.session_transaction() as session:
        session["iat"] = int(time.time()) - ps.ABSOLUTE_TIMEOUT - 1
    assert client.get("/portal/dashboard").status_code == 302


def test_security_headers(client: FlaskClient, people: dict[str, Any]) -> None:
    page = client.get("/portal/login")
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["Cache-Control"] == "no-store"


def test_members_cannot_reach_admin_pages(client: FlaskClient, people: dict[str, Any]) -> None:
    login(client, "member")
    assert client.get("/portal/lab").status_code == 403
    assert client.get("/portal/platform").status_code == 403
    token = csrf_from(client.get("/portal/keys").text)
    assert (
        client.post(
            "/portal/keys", data={"name": "x", "scopes": "read", "csrf_token": token}
        ).status_code
        == 403
    )


def test_red_report_of_another_lab_is_invisible(
    client: FlaskClient, rt: Any, people: dict[str, Any]
) -> None:
    from sharing.accounts import api_keys

    with rt.db.transaction() as s:
        principal = api_keys.authenticate(s, people["key_b"], None)
    secret = make_indicator("red@x.example", "email", tlp="red", group=people["group"])
    public = make_indicator("green@x.example", "email", tlp="green")
    status = submit_bundle(rt, principal, body(make_bundle(secret, public)))
    assert len(status.successes) == 2
    login(client, "member")
    listing = client.get("/portal/indicators").text
    assert listing.count('href="/portal/indicators/indicator--') == 1
    assert "TLP:RED" not in listing
    assert "TLP:RED" not in client.get("/portal/indicators?tlp=red").text


def test_logout_everywhere(client: FlaskClient, people: dict[str, Any]) -> None:
    login(client, "member")
    other = client.application.test_client()
    login(other, "member")
    token = csrf_from(client.get("/portal/account").text)
    assert (
        client.post("/portal/account/logout-everywhere", data={"csrf_token": token}).status_code
        == 302
    )
    assert other.get("/portal/dashboard").status_code == 302


def test_open_redirects_are_refused(client: FlaskClient, people: dict[str, Any]) -> None:
    token = csrf_from(client.get("/portal/login?next=https://evil.example/").text)
    answer = client.post(
        "/portal/login",
        data={
            "username": "member",
            "password": PASSWORD,
            "csrf_token": token,
            "next": "https://evil.example/",
        },
    )
    assert answer.headers["Location"].endswith("/portal/dashboard")


def test_spec_tables_are_up_to_date() -> None:
    assert TARGET.read_text(encoding="utf-8") == render(), (
        "run `python -m sharing.portal.spectables`"
    )


def test_a_lab_admin_deactivates_a_member_who_is_then_logged_out_and_refused(
    client: FlaskClient, people: dict[str, Any]
) -> None:
    member = client.application.test_client()
    login(member, "member")
    assert member.get("/portal/dashboard").status_code == 200
    login(client, "admin")
    code(client, pyotp.TOTP(people["secret"]).now())
    token = csrf_from(client.get("/portal/lab").text)
    response = client.post(
        "/portal/lab/users/member/active", data={"active": "0", "csrf_token": token}
    )
    assert response.status_code == 302
    assert member.get("/portal/dashboard").status_code == 302
    assert "/portal/dashboard" not in login(member, "member").headers.get("Location", "")
    # an admin cannot deactivate themself
    token = csrf_from(client.get("/portal/lab").text)
    own = client.post("/portal/lab/users/admin/active", data={"active": "0", "csrf_token": token})
    assert own.status_code == 404
