"""The one object services use to encrypt and decrypt column values.

It wraps the process's :class:`KeySource`, so a ciphertext written by another worker under a
key this worker has not loaded yet triggers one re-read of the key file instead of a failure.
"""

from __future__ import annotations

from sharing.crypto import aead
from sharing.crypto.blind_index import BlindIndexer
from sharing.crypto.keyring import KeySource


class FieldCipher:
    def __init__(self, source: KeySource) -> None:
        self.source = source
        self._indexer: BlindIndexer | None = None
        self._indexer_key: bytes | None = None

    @property
    def active_key_id(self) -> str:
        return self.source.current().active_id

    def encrypt(self, plaintext: bytes, context: str) -> bytes:
        return aead.encrypt(self.source.current(), plaintext, context)

    def encrypt_text(self, text: str, context: str) -> bytes:
        return self.encrypt(text.encode(), context)

    def decrypt(self, blob: bytes, context: str) -> bytes:
        ring = self.source.current()
        if aead.key_id_of(blob) not in ring.data_keys:
            ring = self.source.refresh()
        return aead.decrypt(ring, blob, context)

    def decrypt_text(self, blob: bytes, context: str) -> str:
        return self.decrypt(blob, context).decode()

    def blind_index(self, kind: str, value: str) -> bytes:
        """A plain blind index (reporter pseudonyms)."""
        return self._current_indexer()(kind, value)

    def indicator_blind_index(self, kind: str, value: str) -> bytes:
        """An indicator's blind index, led by its hash prefix (``BlindIndexer.indicator``)."""
        return self._current_indexer().indicator(kind, value)

    def _current_indexer(self) -> BlindIndexer:
        key = self.source.current().blind_index_key
        if self._indexer is None or key != self._indexer_key:
            self._indexer, self._indexer_key = BlindIndexer(key), key
        return self._indexer
