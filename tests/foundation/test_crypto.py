"""Key ring, AEAD envelope and blind index."""

from __future__ import annotations

import base64
import os
import stat

import pytest

from sharing.crypto import aead
from sharing.crypto.blind_index import BlindIndexer, blind_index
from sharing.crypto.cipher import FieldCipher
from sharing.crypto.keyring import (
    KeyRing,
    KeyRingError,
    KeySource,
    generate_keyring,
    load_keyring_file,
    write_keyring_file,
)


def test_ciphertext_round_trips_and_hides_the_plaintext():
    ring = generate_keyring()
    blob = aead.encrypt(ring, b"analyst@example.org", "users.email:u1")
    assert b"analyst@example.org" not in blob
    assert aead.decrypt(ring, blob, "users.email:u1") == b"analyst@example.org"
    assert aead.key_id_of(blob) == ring.active_id


def test_ciphertexts_sealed_in_a_batch_open_each_under_its_own_row_only():
    ring = generate_keyring()
    items = [(f"value {i}".encode(), f"indicators.value:row-{i}") for i in range(50)]
    blobs = aead.encrypt_many(ring, items)
    opened = [aead.decrypt(ring, blob, ctx) for blob, (_, ctx) in zip(blobs, items, strict=True)]
    assert opened == [plaintext for plaintext, _ in items]
    assert len({bytes(blob[2 + blob[1] : 2 + blob[1] + aead.NONCE_BYTES]) for blob in blobs}) == 50
    with pytest.raises(aead.CiphertextError, match="moved from another row"):
        aead.decrypt(ring, blobs[0], items[1][1])


def test_same_plaintext_encrypts_differently_each_time():
    ring = generate_keyring()
    assert aead.encrypt(ring, b"x", "t.c:1") != aead.encrypt(ring, b"x", "t.c:1")


def test_a_ciphertext_moved_to_another_row_is_refused():
    ring = generate_keyring()
    blob = aead.encrypt(ring, b"secret", "users.email:row-1")
    with pytest.raises(aead.CiphertextError, match="moved from another row"):
        aead.decrypt(ring, blob, "users.email:row-2")


def test_a_ciphertext_moved_to_another_column_is_refused():
    ring = generate_keyring()
    blob = aead.encrypt(ring, b"secret", "users.email:row-1")
    with pytest.raises(aead.CiphertextError):
        aead.decrypt(ring, blob, "users.totp_secret:row-1")


@pytest.mark.parametrize("position", [-1, -20, 20])
def test_a_tampered_ciphertext_is_refused(position):
    ring = generate_keyring()
    blob = bytearray(aead.encrypt(ring, b"some secret value", "t.c:1"))
    blob[position] ^= 0x01
    with pytest.raises(aead.CiphertextError):
        aead.decrypt(ring, bytes(blob), "t.c:1")


def test_truncated_or_foreign_blobs_are_refused_with_a_clear_error():
    ring = generate_keyring()
    with pytest.raises(aead.CiphertextError, match="format"):
        aead.decrypt(ring, b"\x07garbage", "t.c:1")
    with pytest.raises(aead.CiphertextError, match="truncated"):
        aead.decrypt(ring, b"\x01\x02d1", "t.c:1")


def test_old_ciphertexts_stay_readable_after_rotation_and_new_ones_use_the_new_key():
    ring = generate_keyring()
    old_blob = aead.encrypt(ring, b"before", "t.c:1")
    rotated = ring.with_new_active_key()
    assert rotated.active_id == "d2"
    new_blob = aead.encrypt(rotated, b"after", "t.c:2")
    assert aead.key_id_of(new_blob) == "d2"
    assert aead.decrypt(rotated, old_blob, "t.c:1") == b"before"
    with pytest.raises(aead.CiphertextError, match="unknown key"):
        aead.decrypt(ring, new_blob, "t.c:2")


def test_the_active_key_cannot_be_retired():
    ring = generate_keyring().with_new_active_key()
    assert set(ring.without_keys({"d1"}).data_keys) == {"d2"}
    with pytest.raises(KeyRingError):
        ring.without_keys({"d2"})


def test_blind_index_is_stable_keyed_and_kind_separated():
    key = os.urandom(32)
    first = blind_index(key, "email", "a@example.org")
    assert first == blind_index(key, "email", "a@example.org")
    assert first == BlindIndexer(key)("email", "a@example.org")
    assert len(first) == 16
    assert first != blind_index(os.urandom(32), "email", "a@example.org")
    assert first != blind_index(key, "handle", "a@example.org")


def test_the_reusable_indexer_gives_the_reference_blind_index_for_any_key_and_value():
    # BlindIndexer runs cryptography's HMAC, blind_index the standard library's: one MAC.
    for n in range(200):
        key = os.urandom(32)
        value = f"sha256:k{n}:{os.urandom(32).hex()}" if n % 2 else f"ü{n}@exämple.org"
        indexer = BlindIndexer(key)
        assert indexer("email", value) == blind_index(key, "email", value)
        assert indexer("email", value) == indexer("email", value)  # the base state is reused


def test_key_file_is_created_with_mode_0600_and_round_trips(tmp_path):
    path = tmp_path / "keys.json"
    ring = generate_keyring()
    write_keyring_file(path, ring)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = load_keyring_file(path)
    assert loaded.data_keys == ring.data_keys
    assert loaded.blind_index_key == ring.blind_index_key


def test_key_file_is_never_silently_overwritten(tmp_path):
    path = tmp_path / "keys.json"
    write_keyring_file(path, generate_keyring())
    with pytest.raises(KeyRingError, match="refusing to overwrite"):
        write_keyring_file(path, generate_keyring())


def test_a_key_file_readable_by_others_is_refused(tmp_path):
    path = tmp_path / "keys.json"
    write_keyring_file(path, generate_keyring())
    path.chmod(0o644)
    with pytest.raises(KeyRingError, match="chmod 600"):
        load_keyring_file(path)


def test_keys_can_come_from_environment_variables():
    secret = base64.b64encode(os.urandom(32)).decode()
    index = base64.b64encode(os.urandom(32)).decode()
    ring = KeyRing.from_env(
        {"PALISADE_DATA_KEYS": f"d1:{secret},d2:{secret}", "PALISADE_BLIND_INDEX_KEY": index}
    )
    assert ring is not None and ring.active_id == "d2"
    with pytest.raises(KeyRingError, match="BLIND_INDEX"):
        KeyRing.from_env({"PALISADE_DATA_KEYS": f"d1:{secret}"})
    with pytest.raises(KeyRingError, match="32 bytes"):
        KeyRing.from_env({"PALISADE_DATA_KEYS": "d1:AAAA", "PALISADE_BLIND_INDEX_KEY": index})


def test_key_ring_repr_never_shows_secrets():
    ring = generate_keyring()
    text = repr(ring)
    assert base64.b64encode(ring.data_keys["d1"]).decode() not in text
    assert ring.data_keys["d1"].hex() not in text


def test_a_worker_picks_up_a_key_rotated_by_another_process(tmp_path):
    path = tmp_path / "keys.json"
    write_keyring_file(path, generate_keyring())
    worker = FieldCipher(KeySource(load_keyring_file(path), path))
    rotator = KeySource(load_keyring_file(path), path)
    rotator.replace(rotator.current().with_new_active_key())
    blob = FieldCipher(rotator).encrypt_text("new", "t.c:1")
    # The worker has not re-read the file yet, but an unknown key id triggers a reload.
    assert worker.decrypt_text(blob, "t.c:1") == "new"
    assert worker.active_key_id == "d2"
