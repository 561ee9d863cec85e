"""Are IP prefixes expanded on the fixed ladder, and are dangerous submissions flagged?"""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sharing.identifiers import covering_prefixes, warning_for


def test_ipv4_address_expands_to_25_prefixes_most_specific_first():
    prefixes = covering_prefixes("203.0.113.77")
    assert len(prefixes) == 25
    assert prefixes[0] == "203.0.113.77/32"
    assert prefixes[-1] == "203.0.0.0/8"
    assert [int(p.split("/")[1]) for p in prefixes] == list(range(32, 7, -1))


def test_ipv6_address_expands_to_29_nibble_aligned_prefixes():
    prefixes = covering_prefixes("2001:db8:abcd:12::1")
    assert len(prefixes) == 29
    assert [int(p.split("/")[1]) for p in prefixes] == list(range(128, 15, -4))
    assert prefixes[-1] == "2001::/16"


def test_ipv4_mapped_address_expands_as_ipv4():
    assert covering_prefixes("::ffff:1.2.3.4") == covering_prefixes("1.2.3.4")


@settings(max_examples=200, deadline=None)
@given(st.ip_addresses(), st.data())
def test_a_submitted_ladder_range_is_among_the_prefixes_of_every_address_inside_it(addr, data):
    ladder = list(range(8, 33)) if addr.version == 4 else list(range(16, 129, 4))
    length = data.draw(st.sampled_from(ladder))
    if addr.version == 6 and addr.ipv4_mapped:
        return
    submitted = str(ipaddress.ip_network(f"{addr}/{length}", strict=False))
    assert submitted in covering_prefixes(str(addr))


def test_a_range_query_returns_only_prefixes_at_least_as_broad():
    assert covering_prefixes("1.2.3.0/24")[0] == "1.2.3.0/24"
    assert len(covering_prefixes("1.2.3.0/24")) == 17


@pytest.mark.parametrize(
    "value,phrase",
    [
        ("10.1.2.3", "private"),
        ("192.168.0.0/24", "private"),
        ("172.16.5.4", "private"),
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("169.254.1.1", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("192.0.2.10", "documentation"),
        ("198.51.100.0/24", "documentation"),
        ("203.0.113.5", "documentation"),
        ("2001:db8::1", "documentation"),
        ("100.64.1.1", "CGNAT"),
        ("198.18.0.1", "benchmarking"),
        ("fd00::1", "private"),
        ("8.8.8.8", "public resolver"),
        ("8.8.4.4", "public resolver"),
        ("1.1.1.1", "public resolver"),
        ("1.0.0.1", "public resolver"),
        ("9.9.9.9", "public resolver"),
        ("149.112.112.112", "public resolver"),
        ("208.67.222.222", "public resolver"),
        ("208.67.220.220", "public resolver"),
        ("2001:4860:4860::8888", "public resolver"),
        ("2001:4860:4860::8844", "public resolver"),
        ("2606:4700:4700::1111", "public resolver"),
        ("2606:4700:4700::1001", "public resolver"),
        ("2620:fe::fe", "public resolver"),
        ("8.8.8.0/24", "public resolver"),
        ("5.0.0.0/15", "broader than /16"),
        ("2a00::/31", "broader than /32"),
        ("2a00:1450::/30", "broader than /32"),
        ("2a00:1450:4001::/50", "multiple of 4"),
        ("4000::1", "outside global unicast"),
        ("not an ip", "bad IP address"),
    ],
)
def test_warning_list_flags_ranges_no_member_should_report(value, phrase):
    warning = warning_for(value)
    assert warning is not None and phrase in warning


@pytest.mark.parametrize(
    "value",
    ["5.45.67.89", "5.45.0.0/16", "2a00:1450:4001:80b::200e", "2a00:1450::/32", "8.8.9.0/24"],
)
def test_ordinary_public_addresses_and_ranges_raise_no_warning(value):
    assert warning_for(value) is None
