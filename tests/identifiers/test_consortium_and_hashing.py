"""Does the consortium key file round-trip safely, and are hash strings well-formed?"""

from __future__ import annotations

import json
import os
import stat

import pytest

from sharing.identifiers import (
    HASH_RE,
    ConsortiumKey,
    ConsortiumKeyring,
    InvalidHash,
    InvalidKeyFile,
    generate_keyring,
    hash_identifier,
    hash_many,
    hash_value,
    load_keyring,
    parse_hash,
    write_keyring,
)


def test_key_file_round_trips_and_is_created_mode_0600(tmp_path):
    ring = generate_keyring()
    path = tmp_path / "consortium.json"
    write_keyring(path, ring)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    loaded = load_keyring(path)
    assert loaded.current == ring.current
    data = json.loads(path.read_text())
    assert data["format"] == "palisade-consortium-key/1"
    assert data["current"] == "c1"


def test_writing_a_key_file_refuses_to_overwrite_unless_told(tmp_path):
    path = tmp_path / "k.json"
    write_keyring(path, generate_keyring("a"))
    with pytest.raises(FileExistsError):
        write_keyring(path, generate_keyring("b"))
    write_keyring(path, generate_keyring("b"), overwrite=True)
    assert load_keyring(path).current.key_id == "b"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_rotation_keeps_old_keys_and_changes_every_hash(tmp_path):
    ring = generate_keyring("c1")
    old = ring.current
    new = ring.add_key()
    assert new.key_id == "c2" and ring.current == new
    assert [k.key_id for k in ring.keys] == ["c2", "c1"]
    h_old = hash_identifier(old, "email", "a@example.com")
    h_new = hash_identifier(ring, "email", "a@example.com")
    assert h_old.split(":")[1] == "c1" and h_new.split(":")[1] == "c2"
    assert h_old.split(":")[2] != h_new.split(":")[2]
    path = tmp_path / "k.json"
    write_keyring(path, ring)
    assert [k.key_id for k in load_keyring(path).keys] == ["c2", "c1"]


def test_a_world_readable_key_file_loads_with_a_warning(tmp_path):
    path = tmp_path / "k.json"
    write_keyring(path, generate_keyring())
    os.chmod(path, 0o644)
    with pytest.warns(UserWarning, match="chmod 600"):
        load_keyring(path)


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        '{"format": "other", "current": "c1", "keys": []}',
        '{"format": "palisade-consortium-key/1", "current": "c9", '
        '"keys": [{"id": "c1", "secret": "' + "A" * 43 + '="}]}',
        '{"format": "palisade-consortium-key/1", "current": "c1", '
        '"keys": [{"id": "c1", "secret": "c2hvcnQ="}]}',
        '{"format": "palisade-consortium-key/1", "current": "C1", '
        '"keys": [{"id": "C1", "secret": "' + "A" * 43 + '="}]}',
    ],
)
def test_malformed_key_files_are_refused(tmp_path, content):
    path = tmp_path / "k.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, content.encode())
    os.close(fd)
    with pytest.raises(InvalidKeyFile):
        load_keyring(path)


def test_key_repr_never_shows_the_secret():
    key = ConsortiumKey("c1", b"\x01" * 32)
    assert "secret" not in repr(key) and "\\x01" not in repr(key)
    assert "\\x01" not in repr(ConsortiumKeyring([key], "c1"))


def test_hash_string_has_the_designed_shape():
    h = hash_value(ConsortiumKey("c1", b"\x00" * 32), "email", "a@example.com")
    assert HASH_RE.fullmatch(h)
    assert parse_hash(h) == ("c1", h.rsplit(":", 1)[1])


@pytest.mark.parametrize(
    "value,reason",
    [
        ("sha256:c1:" + "0" * 64, "unknown algorithm 'sha256'"),
        ("hmac-sha256" + "0" * 64, "expected hmac-sha256:<key_id>:<64 hex digits>"),
        ("md5:c1:" + "0" * 64, "unknown algorithm 'md5'"),
        ("hmac-sha256:C1:" + "0" * 64, "invalid key id"),
        ("hmac-sha256:c1:" + "0" * 63, "digest must be 64 hex digits"),
        ("hmac-sha256:c1:" + "A" * 64, "digest must be lowercase hex"),
        ("hmac-sha256:c1:" + "0" * 64 + ":x", "expected hmac-sha256:<key_id>:<64 hex digits>"),
    ],
)
def test_malformed_hash_strings_are_refused_with_a_reason(value, reason):
    with pytest.raises(InvalidHash) as exc:
        parse_hash(value)
    assert exc.value.reason == reason


def test_bulk_hashing_equals_one_by_one_hashing():
    key = ConsortiumKey("c1", b"\x07" * 32)
    raws = ["A@Example.com", "b.c+d@gmail.com", "ü@bücher.de"]
    assert hash_many(key, "email", raws) == [hash_identifier(key, "email", r) for r in raws]
