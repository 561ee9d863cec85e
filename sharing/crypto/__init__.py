"""Encryption at rest and blind indexing: the operator runs the service but does not read it.

No Flask imports. Keys come from a 0600 key file in the instance folder or from environment
variables, never from the database; the database only holds key *ids* (in each ciphertext's
header and in the key-ring metadata table).
"""

from sharing.crypto.aead import CiphertextError, decrypt, encrypt, key_id_of
from sharing.crypto.blind_index import blind_index
from sharing.crypto.keyring import (
    KeyRing,
    KeyRingError,
    KeySource,
    generate_keyring,
    load_keyring_file,
    write_keyring_file,
)

__all__ = [
    "CiphertextError",
    "KeyRing",
    "KeyRingError",
    "KeySource",
    "blind_index",
    "decrypt",
    "encrypt",
    "generate_keyring",
    "key_id_of",
    "load_keyring_file",
    "write_keyring_file",
]
