"""Do the code and the published test vectors (the cross-implementation contract) agree?"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import struct
import unicodedata
from pathlib import Path

import pytest

from sharing.identifiers import (
    ConsortiumKey,
    InvalidIdentifier,
    covering_prefixes,
    hash_identifier,
    hash_prefixes,
    lsh_band_hashes,
    normalise,
    prompt_signature,
)

from .make_vectors import build_vectors, render

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
VECTORS = json.loads((SCHEMAS / "test-vectors.json").read_text(encoding="utf-8"))
KEY = ConsortiumKey(
    VECTORS["consortium_key"]["id"], base64.b64decode(VECTORS["consortium_key"]["secret"])
)


def _kw(vec):
    return {"default_region": vec["default_region"]} if "default_region" in vec else {}


def test_checked_in_vectors_are_exactly_what_the_code_generates():
    assert (SCHEMAS / "test-vectors.json").read_text(encoding="utf-8") == render(build_vectors())


def test_vector_file_covers_every_kind_with_at_least_sixty_vectors():
    assert len(VECTORS["vectors"]) >= 60
    kinds = {v["kind"] for v in VECTORS["vectors"]}
    assert kinds == {"email", "phone", "payment", "handle", "device", "ip", "prompt"}
    assert {v["kind"] for v in VECTORS["invalid"]} == kinds


@pytest.mark.parametrize("vec", VECTORS["vectors"], ids=lambda v: f"{v['kind']}:{v['input']!r}")
def test_each_vector_normalises_and_hashes_as_published(vec):
    assert normalise(vec["kind"], vec["input"], **_kw(vec)) == vec["normalised"]
    assert hash_identifier(KEY, vec["kind"], vec["input"], **_kw(vec)) == vec["hash"]


@pytest.mark.parametrize("vec", VECTORS["vectors"], ids=lambda v: f"{v['kind']}:{v['input']!r}")
def test_published_hash_matches_a_from_scratch_hmac(vec):
    # Independent of sharing.identifiers.hashing: this is what a port implements.
    msg = vec["kind"].encode() + b"\x1f" + vec["normalised"].encode("utf-8")
    digest = hmac.new(KEY.secret, msg, hashlib.sha256).hexdigest()
    assert vec["hash"] == f"hmac-sha256:{KEY.key_id}:{digest}"


@pytest.mark.parametrize("vec", VECTORS["invalid"], ids=lambda v: f"{v['kind']}:{v['input']!r}")
def test_each_invalid_vector_is_rejected_with_its_reason(vec):
    with pytest.raises(InvalidIdentifier) as exc:
        normalise(vec["kind"], vec["input"])
    assert exc.value.kind == vec["kind"]
    assert exc.value.reason == vec["reason"]


@pytest.mark.parametrize("vec", VECTORS["ip_prefixes"]["vectors"], ids=lambda v: v["address"])
def test_ip_prefix_vectors_reproduce(vec):
    assert covering_prefixes(vec["address"]) == vec["prefixes"]
    assert hash_prefixes(KEY, vec["address"]) == vec["hashes"]


def _independent_minhash(text: str, params: dict) -> tuple[str, list[int]]:
    """docs/PROMPT_SIGNATURES.md implemented from the text, sharing nothing with the package."""
    p = params["prime"]
    norm = VECTOR_BY_INPUT[text]["normalised"]
    tokens, cur = [], ""
    for ch in norm:
        if unicodedata.category(ch)[0] in "LMN":
            cur += ch
        elif cur:
            tokens.append(cur)
            cur = ""
    if cur:
        tokens.append(cur)
    k = params["shingle_size"]
    if len(tokens) >= k:
        shingles = {" ".join(tokens[i : i + k]) for i in range(len(tokens) - k + 1)}
    else:
        shingles = {" ".join(tokens)} if tokens else {norm}
    k_p = hmac.new(KEY.secret, b"palisade-minhash-v1", hashlib.sha256).digest()
    xs = [
        int.from_bytes(hmac.new(k_p, s.encode(), hashlib.sha256).digest()[:8], "big")
        for s in shingles
    ]
    values = []
    for i in range(params["permutations"]):
        d = hmac.new(k_p, b"perm" + struct.pack(">I", i), hashlib.sha256).digest()
        a = int.from_bytes(d[:8], "big") % (p - 1) + 1
        b = int.from_bytes(d[8:16], "big") % p
        values.append(min(((a * x + b) % p) % 2**32 for x in xs))
    r = params["rows_per_band"]
    bands = [
        int.from_bytes(
            hashlib.sha256(
                struct.pack(">H", j) + struct.pack(f">{r}I", *values[j * r : (j + 1) * r])
            ).digest()[:8],
            "big",
        )
        >> 1
        for j in range(params["bands"])
    ]
    return base64.b64encode(struct.pack(">128I", *values)).decode(), bands


VECTOR_BY_INPUT = {v["input"]: v for v in VECTORS["minhash"]["vectors"]}


@pytest.mark.parametrize("vec", VECTORS["minhash"]["vectors"], ids=lambda v: v["input"][:30])
def test_prompt_signature_vectors_reproduce(vec):
    sig = prompt_signature(KEY, vec["input"])
    assert sig.encode() == vec["minhash"]
    assert lsh_band_hashes(sig) == vec["bands"]
    assert normalise("prompt", vec["input"]) == vec["normalised"]


@pytest.mark.parametrize("vec", VECTORS["minhash"]["vectors"], ids=lambda v: v["input"][:30])
def test_prompt_signature_vectors_match_an_independent_reading_of_the_spec(vec):
    minhash, bands = _independent_minhash(vec["input"], VECTORS["minhash"]["parameters"])
    assert minhash == vec["minhash"]
    assert bands == vec["bands"]
