"""API key lifecycle, over real HTTP requests through the app."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from sharing.accounts import api_keys
from sharing.errors import InvalidInput
from sharing.models.accounts import ApiKey
from sharing.models.base import utcnow
from tests.factories import TEST_ACTOR, bearer, make_api_key, make_org


def test_a_new_key_authenticates_as_its_organization(client, session):
    org = make_org(session, "aurora")
    key, _ = make_api_key(session, org, scopes="read,match")
    response = client.get("/api/v1/whoami", headers=bearer(key))
    assert response.status_code == 200
    assert response.json == {
        "organization": "aurora",
        "scopes": ["match", "read"],
        "key_prefix": key.split("_")[1],
    }


@pytest.mark.parametrize("scheme", ["Bearer", "Token", "Basic"])
def test_every_documented_auth_scheme_is_accepted(client, session, scheme):
    key, _ = make_api_key(session)
    value = base64.b64encode(f"anyone:{key}".encode()).decode() if scheme == "Basic" else key
    response = client.get("/api/v1/whoami", headers={"Authorization": f"{scheme} {value}"})
    assert response.status_code == 200


def test_only_a_hash_of_the_key_is_stored(session):
    key, row = make_api_key(session)
    secret = key.split("_", 2)[2]
    stored = session.scalar(select(ApiKey).where(ApiKey.id == row.id))
    assert secret.encode() not in stored.secret_hash
    assert secret not in (stored.prefix + stored.scopes + stored.name)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer",
        "Bearer not-a-key",
        "Bearer pal_short_x",
        "Basic !!!notbase64",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Digest abc",
    ],
)
def test_missing_or_malformed_credentials_get_a_json_401(client, header):
    headers = {"Authorization": header} if header else {}
    response = client.get("/api/v1/whoami", headers=headers)
    assert response.status_code == 401
    assert response.is_json and response.json["status"] == 401
    assert "WWW-Authenticate" in response.headers


def test_a_wrong_secret_for_a_real_prefix_is_refused_like_an_unknown_key(client, session):
    key, _ = make_api_key(session)
    forged = key[: key.rindex("_") + 1] + "A" * 32
    wrong = client.get("/api/v1/whoami", headers=bearer(forged))
    unknown = client.get("/api/v1/whoami", headers=bearer("pal_zzzzzzzzzz_" + "A" * 32))
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json == unknown.json


def test_an_expired_key_is_refused(client, session):
    key, row = make_api_key(session, expires_at=utcnow() + timedelta(days=1))
    assert client.get("/api/v1/whoami", headers=bearer(key)).status_code == 200
    session.execute(
        update(ApiKey).where(ApiKey.id == row.id).values(expires_at=utcnow() - timedelta(1))
    )
    assert client.get("/api/v1/whoami", headers=bearer(key)).status_code == 401


def test_a_revoked_key_is_refused(client, session):
    key, row = make_api_key(session)
    assert client.get("/api/v1/whoami", headers=bearer(key)).status_code == 200
    api_keys.revoke_key(session, row.org_id, row.prefix, actor=TEST_ACTOR)
    assert client.get("/api/v1/whoami", headers=bearer(key)).status_code == 401


def test_a_member_cannot_revoke_another_members_key(session):
    _, theirs = make_api_key(session)
    mine = make_org(session)
    with pytest.raises(Exception, match="no API key"):
        api_keys.revoke_key(session, mine.id, theirs.prefix, actor=TEST_ACTOR)


def test_an_ip_allow_list_refuses_other_addresses_with_403(client, session):
    key, _ = make_api_key(session, allowed_ips=["10.9.0.0/16"])
    outside = client.get(
        "/api/v1/whoami", headers=bearer(key), environ_base={"REMOTE_ADDR": "192.0.2.7"}
    )
    inside = client.get(
        "/api/v1/whoami", headers=bearer(key), environ_base={"REMOTE_ADDR": "10.9.3.4"}
    )
    assert outside.status_code == 403
    assert inside.status_code == 200


def test_last_used_is_recorded(client, session):
    key, row = make_api_key(session)
    assert row.last_used_at is None
    client.get("/api/v1/whoami", headers=bearer(key))
    session.expire_all()
    assert session.get(ApiKey, row.id).last_used_at is not None


@pytest.mark.parametrize("scopes", ["", "read,admin", "delete"])
def test_unknown_or_empty_scopes_are_refused(session, scopes):
    with pytest.raises(InvalidInput):
        make_api_key(session, scopes=scopes)


def test_an_expiry_in_the_past_is_refused(session):
    with pytest.raises(InvalidInput, match="future"):
        make_api_key(session, expires_at=utcnow() - timedelta(minutes=1))


def test_a_bad_allowed_ip_is_refused(session):
    with pytest.raises(InvalidInput, match="allowed IP"):
        make_api_key(session, allowed_ips=["not-an-ip"])
