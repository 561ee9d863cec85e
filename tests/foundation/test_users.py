"""Users: argon2 password hashes, login checks, back-off after failures."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sharing.accounts import users
from sharing.errors import Conflict, InvalidInput, Unauthenticated
from sharing.models.base import utcnow
from sharing.passwords import hash_password, verify_password
from tests.factories import PASSWORD, make_user


def test_passwords_are_stored_as_argon2id_hashes():
    stored = hash_password("a long enough password")
    assert stored.startswith("$argon2id$")
    assert verify_password(stored, "a long enough password")
    assert not verify_password(stored, "a long enough passworD")
    assert not verify_password("not a hash", "x")


def test_a_user_logs_in_with_the_right_password_only(session, rt):
    user = make_user(session, rt.cipher, username="alice")
    assert users.check_password(session, "ALICE ", PASSWORD).id == user.id
    with pytest.raises(Unauthenticated):
        users.check_password(session, "alice", "wrong password!!")


def test_unknown_user_and_wrong_password_get_the_same_answer(session, rt):
    make_user(session, rt.cipher, username="bob")
    with pytest.raises(Unauthenticated) as unknown:
        users.check_password(session, "nobody", PASSWORD)
    with pytest.raises(Unauthenticated) as wrong:
        users.check_password(session, "bob", "not the password")
    assert unknown.value.message == wrong.value.message


def test_repeated_failures_lock_the_account_for_a_while(session, rt):
    user = make_user(session, rt.cipher, username="carol")
    for _ in range(users.LOCKOUT_THRESHOLD):
        with pytest.raises(Unauthenticated):
            users.check_password(session, "carol", "bad guess number")
    assert user.locked_until is not None and user.locked_until > utcnow()
    with pytest.raises(Unauthenticated, match="too many failed attempts"):
        users.check_password(session, "carol", PASSWORD)
    user.locked_until = utcnow() - timedelta(seconds=1)
    assert users.check_password(session, "carol", PASSWORD).failed_logins == 0


def test_email_is_encrypted_at_rest(session, rt):
    user = make_user(session, rt.cipher, email="carol@lab.example")
    assert b"carol@lab.example" not in user.email_ct
    assert users.user_email(rt.cipher, user) == "carol@lab.example"


@pytest.mark.parametrize(
    ("username", "password", "role"),
    [("x", PASSWORD, "member"), ("ok-name", "short", "member"), ("ok-name", PASSWORD, "root")],
)
def test_bad_user_input_is_refused(session, rt, username, password, role):
    with pytest.raises(InvalidInput):
        make_user(session, rt.cipher, username=username, password=password, role=role)


def test_duplicate_usernames_are_refused(session, rt):
    make_user(session, rt.cipher, username="dave")
    with pytest.raises(Conflict):
        make_user(session, rt.cipher, username="Dave")
