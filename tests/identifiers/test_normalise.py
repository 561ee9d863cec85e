"""Does normalisation make equivalent inputs collide and keep distinct ones apart?"""

from __future__ import annotations

import importlib
import ipaddress

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from sharing.identifiers import ConsortiumKey, InvalidIdentifier, hash_identifier, normalise

# The package re-exports the function under the module's name, so fetch the module itself.
normalise_module = importlib.import_module("sharing.identifiers.normalise")
KEY = ConsortiumKey("t1", b"k" * 32)
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

local_parts = st.from_regex(r"[a-z0-9][a-z0-9._-]{0,20}", fullmatch=True)
domains = st.from_regex(r"[a-z0-9]{1,10}\.(com|org|example|co\.uk)", fullmatch=True)
tags = st.from_regex(r"[a-z0-9._-]{0,10}", fullmatch=True)
ws = st.sampled_from(["", " ", "\t", "\n ", "\u00a0", "\u3000", "\ufeff"])


def _mixed_case(draw, s: str) -> str:
    flips = draw(st.lists(st.booleans(), min_size=len(s), max_size=len(s)))
    return "".join(c.upper() if f else c for c, f in zip(s, flips, strict=True))


@st.composite
def email_variants(draw):
    local, domain = draw(local_parts), draw(domains)
    canonical = normalise("email", f"{local}@{domain}")
    variant = f"{_mixed_case(draw, local)}+{draw(tags)}@{_mixed_case(draw, domain)}"
    return canonical, draw(ws) + variant + draw(ws)


@SETTINGS
@given(email_variants())
def test_case_whitespace_and_plus_tags_do_not_change_an_email_hash(pair):
    canonical, variant = pair
    assert normalise("email", variant) == canonical
    assert hash_identifier(KEY, "email", variant) == hash_identifier(KEY, "email", canonical)


@SETTINGS
@given(local_parts, st.lists(st.integers(0, 20), max_size=5), st.booleans())
def test_gmail_dots_and_googlemail_do_not_change_an_email_hash(local, dots, googlemail):
    assume(local.replace(".", ""))
    dotted = local
    for pos in dots:
        pos = min(pos, len(dotted))
        dotted = dotted[:pos] + "." + dotted[pos:]
    assume(dotted.replace(".", ""))
    domain = "googlemail.com" if googlemail else "gmail.com"
    assert normalise("email", f"{dotted}@{domain}") == normalise("email", f"{local}@gmail.com")


def test_dots_still_matter_outside_gmail():
    assert normalise("email", "j.doe@example.com") != normalise("email", "jdoe@example.com")


@SETTINGS
@given(st.emails())
def test_email_normalisation_is_idempotent(raw):
    try:
        once = normalise("email", raw)
    except InvalidIdentifier:
        return
    assert normalise("email", once) == once


@SETTINGS
@given(st.emails())
def test_email_fast_path_agrees_with_the_full_idna_path(raw):
    # The ASCII fast path is an optimisation only; disabling it must never change the result.
    try:
        fast = normalise("email", raw)
    except InvalidIdentifier as exc:
        fast = exc.reason
    original = normalise_module._FAST_EMAIL
    normalise_module._FAST_EMAIL = _NeverMatches()
    try:
        try:
            slow = normalise("email", raw)
        except InvalidIdentifier as exc:
            slow = exc.reason
    finally:
        normalise_module._FAST_EMAIL = original
    assert fast == slow


class _NeverMatches:
    def fullmatch(self, _s):
        return None


@SETTINGS
@given(st.ip_addresses(v=4), st.integers(8, 32))
def test_host_bits_and_ipv4_mapped_form_do_not_change_an_ip_hash(addr, prefix):
    net = ipaddress.ip_network(f"{addr}/{prefix}", strict=False)
    canonical = normalise("ip", str(net))
    assert canonical == str(net)
    assert normalise("ip", f"{addr}/{prefix}") == canonical
    assert normalise("ip", f"::ffff:{addr}/{prefix + 96}") == canonical
    assert normalise("ip", f" ::FFFF:{addr}/{prefix + 96} ") == canonical


@SETTINGS
@given(st.ip_addresses(v=6), st.integers(0, 128))
def test_ipv6_normalisation_is_idempotent_and_canonical(addr, prefix):
    once = normalise("ip", f"{addr.exploded.upper()}/{prefix}")
    assert normalise("ip", once) == once
    assert "/" in once


@SETTINGS
@given(st.ip_addresses(v=4), st.ip_addresses(v=4))
def test_distinct_addresses_hash_differently(a, b):
    assume(a != b)
    assert hash_identifier(KEY, "ip", str(a)) != hash_identifier(KEY, "ip", str(b))


@SETTINGS
@given(st.text(min_size=1, max_size=80))
def test_prompt_normalisation_is_idempotent_for_any_unicode(text):
    try:
        once = normalise("prompt", text)
    except InvalidIdentifier:
        return
    assert normalise("prompt", once) == once


# Letters whose case variants fold together (excludes e.g. dotless i, whose uppercase "I"
# folds to a different letter: a genuine Unicode distinction, not a normalisation bug).
case_stable = st.characters(categories=["Ll", "Lu", "Nd"]).filter(
    lambda c: c.upper().casefold() == c.lower().casefold() == c.casefold()
)


@SETTINGS
@given(st.text(alphabet=case_stable, min_size=1, max_size=20), ws)
def test_prompt_case_and_surrounding_whitespace_do_not_change_its_hash(word, pad):
    assert hash_identifier(KEY, "prompt", f"{pad}{word.upper()}  {word}{pad}") == hash_identifier(
        KEY, "prompt", f"{word.lower()}\t{word}"
    )


@SETTINGS
@given(st.sampled_from(["payment", "device", "handle"]), st.text(min_size=1, max_size=40))
def test_opaque_kinds_are_idempotent(kind, raw):
    try:
        once = normalise(kind, raw)
    except InvalidIdentifier:
        return
    assert normalise(kind, once) == once


@SETTINGS
@given(
    st.from_regex(r"[a-z0-9]{1,12}", fullmatch=True),
    st.from_regex(r"[a-z0-9_]{1,15}", fullmatch=True),
    ws,
)
def test_handle_case_and_spacing_do_not_change_its_hash(platform, user, pad):
    assert normalise("handle", f"{pad}{platform.upper()} : {user.upper()}{pad}") == (
        f"{platform}:{user}"
    )


@pytest.mark.parametrize(
    "raw,region",
    [
        ("+1 202-555-0143", "US"),
        ("(202) 555-0143", "US"),
        ("2025550143", "US"),
        ("+1.202.555.0143", "GB"),
        ("001 202 555 0143", "GB"),
    ],
)
def test_phone_formats_and_default_region_reach_the_same_e164(raw, region):
    assert normalise("phone", raw, default_region=region) == "+12025550143"


def test_the_same_digits_differ_by_default_region():
    assert normalise("phone", "020 7946 0958", default_region="GB") == "+442079460958"
    with pytest.raises(InvalidIdentifier):
        normalise("phone", "020 7946 0958", default_region="US")


def test_kind_is_part_of_the_hash_so_equal_text_under_two_kinds_differs():
    assert hash_identifier(KEY, "payment", "abc") != hash_identifier(KEY, "device", "abc")


@pytest.mark.parametrize(
    "kind,raw,reason",
    [
        ("email", "x" * 5000 + "@example.com", "too long"),
        ("prompt", "a" * 100_001, "too long"),
        (
            "nonsense",
            "x",
            "unknown kind (expected one of email, phone, payment, handle, device, ip, prompt)",
        ),
        ("handle", "bad platform!:user", "invalid platform"),
    ],
)
def test_limits_and_unknown_kinds_are_rejected_with_a_reason(kind, raw, reason):
    with pytest.raises(InvalidIdentifier) as exc:
        normalise(kind, raw)
    assert exc.value.reason == reason
    assert isinstance(exc.value, ValueError)


def test_prompt_idempotence_holds_for_every_single_code_point():
    # Exhaustive over the BMP: cheap, and catches casefold/NFKC interactions hypothesis misses.
    for cp in range(0x10000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        ch = chr(cp)
        try:
            once = normalise("prompt", ch + "x")
        except InvalidIdentifier:
            continue
        assert normalise("prompt", once) == once, hex(cp)
