"""The bulk hashing shortcuts must be invisible: same hashes as the plain construction.

``sharing.identifiers.hashing`` computes HMAC-SHA256 from two prepared SHA-256 states and the
e-mail normaliser memoises which domains skip the idna codec; neither may change a single
hash.  Here both are checked against the obvious implementation on inputs built to hit the
edges (trailing dots, ``--`` labels, non-ASCII, controls, Unicode spaces, long keys).
"""

from __future__ import annotations

import hmac
import importlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sharing.identifiers import (
    KINDS,
    ConsortiumKey,
    InvalidIdentifier,
    hash_identifier,
    hash_many,
    hash_value,
    hasher,
    normalise,
)

normalise_module = importlib.import_module("sharing.identifiers.normalise")
hashing_module = importlib.import_module("sharing.identifiers.hashing")
SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Characters that matter to the e-mail rules, so random strings land near every branch.
_EMAILISH = st.text(
    alphabet=st.sampled_from(
        [*"abcXYZ019.-+@@ ", "\t", "\xa0", "\u3000", "\ufeff", "\x00", "\x85", "ü", "K", "İ"]
    ),
    max_size=30,
)
_SHAPED = st.builds(
    lambda pre, local, tag, dom, suffix: f"{pre}{local}{tag}@{dom}{suffix}",
    st.sampled_from(["", " ", "\u00a0"]),
    st.from_regex(r"[A-Za-z0-9._ü-]{0,12}", fullmatch=True),
    st.sampled_from(["", "+", "+x.y", "+@"]),
    st.from_regex(
        r"([A-Za-z0-9-]{0,12}\.){0,3}(com|Org|xn--bcher-kva|xn--x|a--b|bücher|)", fullmatch=True
    ),
    st.sampled_from(["", ".", " ", "..", "\t"]),
)


class _NeverMatches:
    def fullmatch(self, _s: str) -> None:
        return None


def _outcome(raw: str) -> str:
    try:
        return normalise("email", raw)
    except InvalidIdentifier as exc:
        return "! " + exc.reason


@SETTINGS
@given(st.one_of(_EMAILISH, _SHAPED))
def test_the_domain_memo_never_changes_an_email_result(raw):
    memo = normalise_module._FAST_EMAIL
    cold = _outcome(raw)  # may fill the memo
    warm = _outcome(raw)  # answered from the memo
    normalise_module._FAST_EMAIL = _NeverMatches()
    try:
        full = _outcome(raw)  # the idna codec for every domain
    finally:
        normalise_module._FAST_EMAIL = memo
    assert cold == warm == full


def test_the_domain_memo_stays_bounded():
    memo = normalise_module._FAST_EMAIL
    for i in range(normalise_module._FAST_DOMAINS_LIMIT * 2 + 5):
        assert normalise("email", f"a@d{i}.example") == f"a@d{i}.example"
        assert len(memo) <= normalise_module._FAST_DOMAINS_LIMIT


@SETTINGS
@given(st.binary(min_size=32, max_size=32), st.sampled_from(KINDS), st.text(max_size=50))
def test_prepared_states_compute_standard_hmac_sha256(secret, kind, normalised):
    key = ConsortiumKey("k1", secret)
    message = kind.encode() + b"\x1f" + normalised.encode("utf-8")
    expected = hmac.new(secret, message, "sha256").hexdigest()
    assert hash_value(key, kind, normalised) == f"hmac-sha256:k1:{expected}"


@SETTINGS
@given(st.binary(max_size=200), st.binary(max_size=100))
def test_prepared_states_follow_rfc_2104_for_any_key_length(secret, message):
    # Consortium secrets are 32 bytes; the construction itself must still be HMAC for any.
    inner, outer = hashing_module._pads(secret, "email")
    i = inner()
    i.update(message)
    o = outer()
    o.update(i.digest())
    assert o.hexdigest() == hmac.new(secret, b"email\x1f" + message, "sha256").hexdigest()


@SETTINGS
@given(st.lists(st.one_of(_EMAILISH, _SHAPED), max_size=20))
def test_bulk_hashing_matches_value_by_value_hashing_or_fails_alike(raws):
    key = ConsortiumKey("c1", b"\x07" * 32)
    one = hasher(key, "email")
    singles: list[str] = []
    first_error = None
    for raw in raws:
        try:
            singles.append(hash_identifier(key, "email", raw))
            assert one(raw) == singles[-1]
        except InvalidIdentifier as exc:
            first_error = exc.reason
            break
    try:
        assert hash_many(key, "email", raws) == singles
        assert first_error is None
    except InvalidIdentifier as exc:
        assert exc.reason == first_error
