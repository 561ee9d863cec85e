"""Canonical forms of raw identifiers (spec v1, DESIGN.md "Indicator kinds and hashing").

Two labs only find each other's indicators if they hash byte-identical strings, so every
member must turn ``" John.Doe+promo@GoogleMail.com "`` into the same ``johndoe@gmail.com``
before hashing.  This module is that rule book.  It is deliberately the *only* place the
rules live: the client, the CLI, the server-side validators and the browser port (via
``schemas/test-vectors.json``) all follow it.

Where the DESIGN table is silent the choices are spelled out here so a non-Python port can
reproduce them exactly:

* "trim" removes the Unicode ``White_Space`` characters plus U+FEFF from both ends.  We do not
  use ``str.strip()`` because it also strips U+001C..U+001F, which JavaScript's ``trim()``
  keeps; an explicit set avoids the two implementations disagreeing.
* values other than prompts must not contain C0/C1 control characters (U+0000..U+001F,
  U+007F..U+009F); a stray control character is far more likely a parsing bug upstream than
  part of an identifier.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Callable
from functools import partial

import idna
import phonenumbers

from .constants import KINDS, MAX_PROMPT_LENGTH, MAX_VALUE_LENGTH

__all__ = [
    "WHITESPACE",
    "InvalidIdentifier",
    "normalise",
    "normalise_ip_network",
    "normaliser",
]

#: Unicode White_Space (PropList.txt) plus U+FEFF (ZERO WIDTH NO-BREAK SPACE / BOM).
WHITESPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
)
_WS_RUN = re.compile("[" + re.escape(WHITESPACE) + "]+")
_HAS_WS = _WS_RUN
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")

_GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})
# The common case: a domain of plain lowercase LDH labels.  Such a domain is already its own
# IDNA A-label form, so the (slow) idna codec can be skipped.  Labels containing "--" are
# excluded because they may be "xn--" A-labels or violate the hyphen rule, both of which only
# the codec can judge.
_LDH_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_LDH_DOMAIN = re.compile(rf"(?:{_LDH_LABEL}\.)+{_LDH_LABEL}")
#: Distinct domains remembered by the e-mail fast path before it starts afresh.
_FAST_DOMAINS_LIMIT = 4096


class _FastDomains(dict[str, "str | None"]):
    """The e-mail fast path: domains seen so far -> themselves if plain LDH, else None.

    An export names the same few hundred domains over and over, so after the first sight a
    domain costs one dict lookup instead of a regex match (or the idna codec).  ``fullmatch``
    keeps the name of the regex method this object stands in for: replacing ``_FAST_EMAIL``
    by anything whose ``fullmatch`` returns None switches the fast path off, and the full
    IDNA path must then give identical results (tests/identifiers/test_normalise.py).  The
    memo is bounded, so memory stays constant however many distinct domains stream past.
    """

    fullmatch = dict.__getitem__

    def __missing__(self, domain: str) -> str | None:
        if len(self) >= _FAST_DOMAINS_LIMIT:
            self.clear()
        plain = _LDH_DOMAIN.fullmatch(domain) and "--" not in domain and len(domain) <= 253
        result = self[domain] = domain if plain else None
        return result


_FAST_EMAIL: _FastDomains | re.Pattern[str] = _FastDomains()
_PLATFORM_RE = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


class InvalidIdentifier(ValueError):
    """A raw value that cannot be normalised; ``reason`` is a short phrase for the user."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(f"{kind}: {reason}")
        self.kind = kind
        self.reason = reason


def _trim(kind: str, raw: str, limit: int = MAX_VALUE_LENGTH) -> str:
    if not isinstance(raw, str):
        raise InvalidIdentifier(kind, "not a string")
    value = raw.strip(WHITESPACE)
    if not value:
        raise InvalidIdentifier(kind, f"empty {kind}")
    if len(value) > limit:
        raise InvalidIdentifier(kind, "too long")
    return value


def _no_controls(kind: str, value: str) -> str:
    if _CONTROL.search(value):
        raise InvalidIdentifier(kind, "contains control characters")
    return value


def _email_domain(domain: str) -> str:
    # An FQDN's trailing dot names the same domain.
    if domain.endswith("."):
        domain = domain[:-1]
    try:
        # UTS 46 non-transitional processing, as WHATWG URL (and so browsers) do.
        ascii_domain = idna.encode(domain, uts46=True, transitional=False).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        raise InvalidIdentifier("email", "invalid email domain") from None
    # After the one trailing dot: "g.." would come out as "g.", which is not a domain.
    if "." not in ascii_domain or ascii_domain.endswith(".") or len(ascii_domain) > 253:
        raise InvalidIdentifier("email", "invalid email domain")
    return ascii_domain


def _email(raw: str) -> str:
    # _trim inlined for the common case; it still judges (and words) every exception.
    value = raw.strip(WHITESPACE) if raw.__class__ is str else ""
    if not value or len(value) > MAX_VALUE_LENGTH:
        value = _trim("email", raw)
    value = value.lower()
    # isprintable() is False for every C0/C1 control and every White_Space character except
    # U+0020, so for the usual printable address two regex scans shrink to ``" " in local``.
    printable = value.isprintable()
    if not printable:
        _no_controls("email", value)
    local, sep, domain = value.rpartition("@")
    if (
        not sep
        or not local
        or not domain
        or "@" in local
        or (" " in local if printable else _HAS_WS.search(local))
    ):
        raise InvalidIdentifier("email", "invalid email")
    local = local.partition("+")[0]
    if not local:
        raise InvalidIdentifier("email", "empty local part")
    domain = _FAST_EMAIL.fullmatch(domain) or _email_domain(domain)
    if domain in _GMAIL_DOMAINS:
        # Gmail ignores dots in the local part and treats googlemail.com as an alias.
        local = local.replace(".", "")
        domain = "gmail.com"
        if not local:
            raise InvalidIdentifier("email", "empty local part")
    if len(local) > 64:
        raise InvalidIdentifier("email", "local part too long")
    return f"{local}@{domain}"


def _phone(raw: str, default_region: str) -> str:
    value = _trim("phone", raw, limit=64)
    try:
        number = phonenumbers.parse(value, default_region)
    except phonenumbers.NumberParseException:
        raise InvalidIdentifier("phone", "unparseable phone") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidIdentifier("phone", "invalid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _opaque(kind: str, raw: str) -> str:
    return _no_controls(kind, _trim(kind, raw).lower())


def _handle(raw: str) -> str:
    value = _no_controls("handle", _trim("handle", raw).lower())
    platform, sep, username = value.partition(":")
    if not sep:
        raise InvalidIdentifier("handle", "expected platform:username")
    platform = platform.strip(WHITESPACE)
    username = username.strip(WHITESPACE)
    if not platform:
        raise InvalidIdentifier("handle", "empty platform")
    if not username:
        raise InvalidIdentifier("handle", "empty username")
    if not _PLATFORM_RE.fullmatch(platform):
        raise InvalidIdentifier("handle", "invalid platform")
    return f"{platform}:{username}"


def normalise_ip_network(raw: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """Parse an address or CIDR into its canonical network object (see :func:`normalise`)."""
    value = _trim("ip", raw, limit=64)
    if "%" in value:
        # Zone ids name an interface on the reporting host; they mean nothing to anyone else.
        raise InvalidIdentifier("ip", "bad IP address")
    try:
        network = ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise InvalidIdentifier("ip", "bad CIDR" if "/" in value else "bad IP address") from None
    if network.version == 6 and network.prefixlen >= 96:
        mapped = network.network_address.ipv4_mapped
        if mapped is not None:
            network = ipaddress.IPv4Network((mapped, network.prefixlen - 96))
    return network


def _ip(raw: str) -> str:
    return str(normalise_ip_network(raw))


def _prompt(raw: str) -> str:
    if not isinstance(raw, str):
        raise InvalidIdentifier("prompt", "not a string")
    if len(raw) > MAX_PROMPT_LENGTH * 2:
        raise InvalidIdentifier("prompt", "too long")
    # NFKC before casefold so compatibility characters fold too; NFKC again after because
    # case folding can produce decomposed sequences (U+0390 -> U+03B9 U+0308 U+0301), and
    # without the second pass normalise() would not be idempotent.
    text = unicodedata.normalize("NFKC", raw).casefold()
    text = unicodedata.normalize("NFKC", text)
    text = _WS_RUN.sub(" ", text).strip(" ")
    if not text:
        raise InvalidIdentifier("prompt", "empty prompt")
    if len(text) > MAX_PROMPT_LENGTH:
        raise InvalidIdentifier("prompt", "too long")
    return text


def normaliser(kind: str, *, default_region: str = "US") -> Callable[[str], str]:
    """The ``raw -> canonical`` function of one kind: :func:`normalise` without the dispatch.

    For bulk hashing, where the kind is fixed for many values and a Python call per value
    counts; unknown kinds raise :class:`InvalidIdentifier` here, once.
    """
    if kind == "email":
        return _email
    if kind == "phone":
        return partial(_phone, default_region=default_region)
    if kind in ("payment", "device"):
        return partial(_opaque, kind)
    if kind == "handle":
        return _handle
    if kind == "ip":
        return _ip
    if kind == "prompt":
        return _prompt
    raise InvalidIdentifier(str(kind), f"unknown kind (expected one of {', '.join(KINDS)})")


def normalise(kind: str, raw: str, *, default_region: str = "US") -> str:
    """Return the canonical form of ``raw`` for ``kind`` or raise :class:`InvalidIdentifier`.

    ``default_region`` (ISO 3166 alpha-2) only matters for phone numbers written without an
    international prefix.
    """
    return normaliser(kind, default_region=default_region)(raw)
