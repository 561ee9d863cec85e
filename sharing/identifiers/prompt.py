"""Keyed MinHash signatures of prompts (scheme ``palisade-minhash-v1``).

The exact prompt hash only matches byte-identical prompts after normalisation, but extraction
campaigns paraphrase.  A MinHash signature lets the server estimate the Jaccard similarity of
two prompts' word-shingle sets without seeing either text: each shingle is first hashed with a
key ``K_p`` derived from the consortium key, so the server cannot run a dictionary of shingles
against a signature, and the derivation label keeps ``K_p`` distinct from ``K_c`` itself.

Every step is integer arithmetic on HMAC-SHA256 outputs so a browser can reproduce it with
WebCrypto and BigInt; docs/PROMPT_SIGNATURES.md is the normative description and
schemas/test-vectors.json pins it down.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import struct
import sys
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from .consortium import ConsortiumKey, ConsortiumKeyring
from .constants import (
    MINHASH_BANDS,
    MINHASH_KEY_LABEL,
    MINHASH_PERMUTATIONS,
    MINHASH_PRIME,
    MINHASH_ROWS_PER_BAND,
    MINHASH_SCHEME,
    MINHASH_SHINGLE_SIZE,
    MINHASH_VALUE_BITS,
)
from .normalise import normalise

__all__ = [
    "InvalidSignature",
    "PromptSignature",
    "decode_signature",
    "encode_signature",
    "estimate_jaccard",
    "lsh_band_hashes",
    "prompt_shingles",
    "prompt_signature",
    "prompt_tokens",
]

_VALUE_MASK = (1 << MINHASH_VALUE_BITS) - 1
_SIGNATURE_BYTES = MINHASH_PERMUTATIONS * MINHASH_VALUE_BITS // 8
_PACK = struct.Struct(f">{MINHASH_PERMUTATIONS}I")


class InvalidSignature(ValueError):
    """A MinHash signature that cannot be decoded or compared; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"invalid prompt signature: {reason}")
        self.reason = reason


@dataclass(frozen=True, slots=True)
class PromptSignature:
    """A prompt's MinHash: ``values`` are 128 unsigned 32-bit ints.

    ``key_id`` names the consortium key it was made with: signatures under different keys are
    unrelated and must not be compared.
    """

    scheme: str
    values: tuple[int, ...]
    key_id: str | None = None

    def encode(self) -> str:
        return encode_signature(self.values)

    def band_hashes(self) -> list[int]:
        return lsh_band_hashes(self.values)


@lru_cache(maxsize=1)
def _word_pattern() -> re.Pattern[str]:
    # A word is a maximal run of letters, marks and numbers (General_Category L*, M*, N*),
    # i.e. JavaScript's /[\p{L}\p{M}\p{N}]+/gu.  Python's re has no \p{..}, so build the class
    # once from unicodedata (~0.2 s, on first use only).
    ranges: list[tuple[int, int]] = []
    start = prev = -2
    for cp in range(sys.maxunicode + 1):
        if unicodedata.category(chr(cp))[0] in "LMN":
            if cp != prev + 1:
                if start >= 0:
                    ranges.append((start, prev))
                start = cp
            prev = cp
    ranges.append((start, prev))
    cls = "".join(
        re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}"
        for a, b in ranges
    )
    return re.compile(f"[{cls}]+")


def prompt_tokens(normalised: str) -> list[str]:
    """Words of an already-normalised prompt; punctuation and symbols separate words."""
    return _word_pattern().findall(normalised)


def prompt_shingles(text: str) -> list[str]:
    """The distinct word shingles of ``text`` (raw), in first-seen order.

    Shingles are ``MINHASH_SHINGLE_SIZE`` consecutive words joined by one space.  A prompt with
    fewer words is one shingle of all its words; one with no words at all (only punctuation or
    symbols) is one shingle of its whole normalised text.
    """
    normalised = normalise("prompt", text)
    tokens = prompt_tokens(normalised)
    k = MINHASH_SHINGLE_SIZE
    if len(tokens) >= k:
        shingles = [" ".join(tokens[i : i + k]) for i in range(len(tokens) - k + 1)]
    elif tokens:
        shingles = [" ".join(tokens)]
    else:
        shingles = [normalised]
    return list(dict.fromkeys(shingles))


@lru_cache(maxsize=16)
def _derived(secret: bytes) -> tuple[bytes, tuple[tuple[int, int], ...]]:
    k_p = hmac.digest(secret, MINHASH_KEY_LABEL, "sha256")
    perms = []
    for i in range(MINHASH_PERMUTATIONS):
        d = hmac.digest(k_p, b"perm" + i.to_bytes(4, "big"), "sha256")
        a = int.from_bytes(d[0:8], "big") % (MINHASH_PRIME - 1) + 1
        b = int.from_bytes(d[8:16], "big") % MINHASH_PRIME
        perms.append((a, b))
    return k_p, tuple(perms)


def minhash_key(key: ConsortiumKey | ConsortiumKeyring) -> bytes:
    """``K_p = HMAC-SHA256(K_c, "palisade-minhash-v1")`` (exposed for test vectors)."""
    k = key.current if isinstance(key, ConsortiumKeyring) else key
    return _derived(k.secret)[0]


def prompt_signature(key: ConsortiumKey | ConsortiumKeyring, text: str) -> PromptSignature:
    """MinHash signature of a raw prompt (raises InvalidIdentifier for an empty prompt)."""
    k = key.current if isinstance(key, ConsortiumKeyring) else key
    k_p, perms = _derived(k.secret)
    shingle_mac = hmac.new(k_p, digestmod="sha256")
    xs = []
    for shingle in prompt_shingles(text):
        h = shingle_mac.copy()
        h.update(shingle.encode("utf-8"))
        xs.append(int.from_bytes(h.digest()[:8], "big"))
    p, mask = MINHASH_PRIME, _VALUE_MASK
    values = tuple(min([(a * x + b) % p & mask for x in xs]) for a, b in perms)
    return PromptSignature(MINHASH_SCHEME, values, k.key_id)


def _values(sig: PromptSignature | tuple[int, ...] | list[int]) -> tuple[int, ...]:
    values = tuple(sig.values if isinstance(sig, PromptSignature) else sig)
    if len(values) != MINHASH_PERMUTATIONS:
        raise InvalidSignature(f"expected {MINHASH_PERMUTATIONS} values, got {len(values)}")
    return values


def encode_signature(sig: PromptSignature | tuple[int, ...] | list[int]) -> str:
    """Standard base64 (with padding) of the values as big-endian uint32s: 684 characters."""
    values = _values(sig)
    try:
        return base64.b64encode(_PACK.pack(*values)).decode("ascii")
    except struct.error:
        raise InvalidSignature("values must be unsigned 32-bit integers") from None


def decode_signature(encoded: str, *, key_id: str | None = None) -> PromptSignature:
    """Inverse of :func:`encode_signature`; strict about alphabet, padding and length."""
    if not isinstance(encoded, str):
        raise InvalidSignature("not a string")
    try:
        raw = binascii.a2b_base64(encoded.encode("ascii"), strict_mode=True)
    except (binascii.Error, UnicodeEncodeError):
        raise InvalidSignature("not valid base64") from None
    if len(raw) != _SIGNATURE_BYTES:
        raise InvalidSignature(f"expected {_SIGNATURE_BYTES} bytes, got {len(raw)}")
    return PromptSignature(MINHASH_SCHEME, _PACK.unpack(raw), key_id)


def estimate_jaccard(
    a: PromptSignature | tuple[int, ...] | list[int],
    b: PromptSignature | tuple[int, ...] | list[int],
) -> float:
    """Fraction of positions where the two signatures agree (estimates Jaccard similarity)."""
    for sig in (a, b):
        if isinstance(sig, PromptSignature) and sig.scheme != MINHASH_SCHEME:
            raise InvalidSignature(f"unknown scheme {sig.scheme!r}")
    if (
        isinstance(a, PromptSignature)
        and isinstance(b, PromptSignature)
        and a.key_id
        and b.key_id
        and a.key_id != b.key_id
    ):
        raise InvalidSignature("signatures made with different consortium keys")
    va, vb = _values(a), _values(b)
    return sum(x == y for x, y in zip(va, vb, strict=True)) / MINHASH_PERMUTATIONS


def lsh_band_hashes(sig: PromptSignature | tuple[int, ...] | list[int]) -> list[int]:
    """One non-negative 63-bit int per LSH band (fits a signed BIGINT column).

    Band ``i`` covers values ``[i*r, (i+1)*r)``; its hash is the first 8 bytes (big-endian) of
    ``SHA-256(uint16be(i) || uint32be(values in band))`` shifted right by one bit.  Two
    signatures are LSH candidates if any band hash is equal.
    """
    values = _values(sig)
    r = MINHASH_ROWS_PER_BAND
    out = []
    for i in range(MINHASH_BANDS):
        band = values[i * r : (i + 1) * r]
        digest = hashlib.sha256(i.to_bytes(2, "big") + struct.pack(f">{r}I", *band)).digest()
        out.append(int.from_bytes(digest[:8], "big") >> 1)
    return out
