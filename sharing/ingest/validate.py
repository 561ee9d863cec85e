"""Per-object validation: STIX 2.1 validity plus the exchange's own rules.

STIX validity has two paths that give the same verdict. The fast path recognises the indicator
shape DESIGN.md fixes (plain properties, canonical ids and timestamps) and answers in
microseconds; anything it is not sure of goes to ``stix2.parse`` (which also runs the
``stix2-patterns`` grammar on STIX patterns). ``tests/ingest/test_validator_differential.py``
checks on thousands of generated objects that the fast path never disagrees with stix2.

The exchange's rules come on top: one hashed-identifier pattern, a known consortium key, one TLP
marking, sane timestamps, and Palisade's report extension (anonymity, sharing group).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, Final

import stix2
from stix2.exceptions import STIXError

from sharing.identifiers import (
    HASH_RE,
    KINDS,
    MINHASH_SCHEME,
    PROMPT_SIGNATURE_EXTENSION_ID,
    REPORT_EXTENSION_ID,
    TLP_NAMES_BY_ID,
    InvalidHash,
    InvalidSignature,
    PromptSignature,
    decode_signature,
    parse_hash,
)
from sharing.identifiers.stix import PATTERN_RE, InvalidPattern, parse_pattern

CONTEXT_TYPES: Final = frozenset(
    {
        "identity",
        "campaign",
        "intrusion-set",
        "attack-pattern",
        "relationship",
        "sighting",
        "note",
        "opinion",
        "report",
        "marking-definition",
        "extension-definition",
    }
)
DEFAULT_TLP: Final = "amber"
FUTURE_SKEW: Final = timedelta(minutes=5)
MAX_NAME: Final = 256
MAX_DESCRIPTION: Final = 10_000

# \Z, not $: "$" also matches before a final newline, which stix2 refuses in ids and timestamps.
_TS_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z\Z")
_INDICATOR_ID_RE = re.compile(
    r"indicator--[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\Z"
)
_REF_ID_RE = re.compile(
    r"(identity|marking-definition)--[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[89ab][0-9a-f]{3}-"
    r"[0-9a-f]{12}\Z"
)
_MARKING_ID_RE = re.compile(
    r"marking-definition--[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\Z"
)
_REQUIRED = (
    "type",
    "spec_version",
    "id",
    "created",
    "modified",
    "pattern",
    "pattern_type",
    "valid_from",
)
_FAST_OPTIONAL = frozenset(
    {
        "name",
        "description",
        "valid_until",
        "confidence",
        "revoked",
        "labels",
        "indicator_types",
        "object_marking_refs",
        "created_by_ref",
        "extensions",
        "pattern_version",
        "lang",
    }
)
_FAST_KEYS = frozenset(_REQUIRED) | _FAST_OPTIONAL

VALID, UNSURE = "valid", "unsure"


class Rejected(Exception):
    """This object fails; the message says what and where (the caller adds the object id)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class IndicatorIn:
    index: int
    source_id: str
    created: datetime
    modified: datetime
    kind: str
    value: str
    key_id: str
    valid_from: datetime
    valid_until: datetime | None
    revoked: bool
    confidence: int | None
    tlp: str
    sharing_group: str | None
    anonymous: bool
    signature: PromptSignature | None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class ContextIn:
    index: int
    stix_id: str
    stix_type: str
    modified: datetime
    obj: dict[str, Any]
    tlp: str
    sharing_group: str | None
    anonymous: bool
    revoked: bool


def parse_timestamp(value: Any) -> datetime | None:
    """A canonical STIX timestamp (``...Z``, up to microseconds), or None if not one."""
    if not isinstance(value, str):
        return None
    return _parse_timestamp(value)


@lru_cache(maxsize=8192)
def _parse_timestamp(value: str) -> datetime | None:
    # Cached: a bundle's objects share a handful of distinct timestamps.
    if not _TS_RE.match(value):
        return None
    try:
        return datetime.fromisoformat(value[:-1]).replace(tzinfo=UTC)
    except ValueError:
        return None


def _fast_ts(obj: dict[str, Any], name: str) -> datetime | None:
    return parse_timestamp(obj.get(name))


def fast_indicator_verdict(obj: dict[str, Any], *, pattern_checked: bool = False) -> str:
    """VALID when stix2 would certainly accept this indicator, else UNSURE. Never guesses.

    ``pattern_checked``: the caller already parsed the pattern as Palisade's shape (which is
    valid STIX pattern syntax), so it is not parsed twice.
    """
    if not _FAST_KEYS.issuperset(obj) or any(k not in obj for k in _REQUIRED):
        return UNSURE
    if obj["type"] != "indicator" or obj["spec_version"] != "2.1":
        return UNSURE
    if not isinstance(obj["id"], str) or not _INDICATOR_ID_RE.match(obj["id"]):
        return UNSURE
    if obj["pattern_type"] != "stix" or not isinstance(obj["pattern"], str):
        return UNSURE
    if not pattern_checked:
        try:
            parse_pattern(obj["pattern"])
        except InvalidPattern:
            return UNSURE
    for name in ("created", "modified", "valid_from"):
        if _fast_ts(obj, name) is None:
            return UNSURE
    if "valid_until" in obj:
        until = _fast_ts(obj, "valid_until")
        if until is None or until <= _fast_ts(obj, "valid_from"):  # type: ignore[operator]
            return UNSURE
    for name in ("name", "description", "pattern_version", "lang"):
        if name in obj and not isinstance(obj[name], str):
            return UNSURE
    if "confidence" in obj:
        c = obj["confidence"]
        if type(c) is not int or not 0 <= c <= 100:
            return UNSURE
    if "revoked" in obj and type(obj["revoked"]) is not bool:
        return UNSURE
    for name in ("labels", "indicator_types"):
        if name in obj:
            v = obj[name]
            if not isinstance(v, list) or not v or not all(isinstance(s, str) and s for s in v):
                return UNSURE
    if "object_marking_refs" in obj:
        refs = obj["object_marking_refs"]
        if (
            not isinstance(refs, list)
            or not refs
            or not all(
                isinstance(r, str) and r.startswith("marking-definition--") and _REF_ID_RE.match(r)
                for r in refs
            )
        ):
            return UNSURE
    if "created_by_ref" in obj:
        ref = obj["created_by_ref"]
        if (
            not isinstance(ref, str)
            or not ref.startswith("identity--")
            or not _REF_ID_RE.match(ref)
        ):
            return UNSURE
    if "extensions" in obj:
        ext = obj["extensions"]
        if not isinstance(ext, dict) or not ext:
            return UNSURE
        for key, body in ext.items():
            if key not in (PROMPT_SIGNATURE_EXTENSION_ID, REPORT_EXTENSION_ID):
                return UNSURE
            if not isinstance(body, dict) or body.get("extension_type") != "property-extension":
                return UNSURE
            if not all(isinstance(v, str | bool) for v in body.values()):
                return UNSURE
    return VALID


def stix2_error(obj: dict[str, Any]) -> str | None:
    """The authoritative verdict: stix2.parse (strict, no custom content). None if valid."""
    try:
        stix2.parse(obj, allow_custom=False, version="2.1")
    except (STIXError, ValueError, TypeError, KeyError, AttributeError) as exc:
        return _short(str(exc))
    except RecursionError:
        return "object is nested too deeply"
    except Exception as exc:
        # The reference libraries crash on some inputs (stix2-patterns raises
        # UnboundLocalError on certain malformed patterns): what they cannot parse, we refuse.
        return _short(f"the STIX parser could not read it ({exc.__class__.__name__})")
    return None


def stix_error(obj: dict[str, Any], *, pattern_checked: bool = False) -> str | None:
    if (
        obj.get("type") == "indicator"
        and fast_indicator_verdict(obj, pattern_checked=pattern_checked) == VALID
    ):
        return None
    return stix2_error(obj)


def _require_stated(obj: dict[str, Any], *more: str) -> None:
    """stix2.parse invents an absent id, spec_version, created or modified rather than refusing
    it; the exchange keeps and serves the object as sent, so the sender must state them."""
    missing = [name for name in ("id", "spec_version", "created", *more) if name not in obj]
    if missing:
        raise Rejected(f"not valid STIX 2.1: missing required {', '.join(missing)}")


def _short(message: str, limit: int = 300) -> str:
    message = " ".join(message.split())
    return message if len(message) <= limit else message[: limit - 1] + "…"


def _tlp_of(obj: dict[str, Any]) -> str:
    refs = obj.get("object_marking_refs") or []
    found = {TLP_NAMES_BY_ID[r] for r in refs if isinstance(r, str) and r in TLP_NAMES_BY_ID}
    if len(found) > 1:
        raise Rejected(f"carries conflicting TLP markings ({', '.join(sorted(found))})")
    return found.pop() if found else DEFAULT_TLP


def _report_extension(obj: dict[str, Any]) -> tuple[bool, str | None]:
    ext = (obj.get("extensions") or {}).get(REPORT_EXTENSION_ID)
    if ext is None:
        return False, None
    if not isinstance(ext, dict):
        raise Rejected("Palisade report extension must be an object")
    anonymous = ext.get("anonymous", False)
    group = ext.get("sharing_group")
    if type(anonymous) is not bool:
        raise Rejected("report extension: 'anonymous' must be true or false")
    if group is not None and (not isinstance(group, str) or not group):
        raise Rejected("report extension: 'sharing_group' must be a group name")
    return anonymous, group


def _not_in_future(obj: dict[str, Any], name: str, when: datetime, now: datetime) -> None:
    if when > now + FUTURE_SKEW:
        raise Rejected(f"'{name}' {obj.get(name)} is in the future")


def check_indicator(obj: dict[str, Any], index: int, *, now: datetime) -> IndicatorIn:
    """The common shape in one pass; anything else through :func:`check_indicator_fully`."""
    item = one_pass_indicator(obj, index, now + FUTURE_SKEW)
    return item if item is not None else check_indicator_fully(obj, index, now=now)


# What the one-pass path handles: the required properties and the plain optional ones.
# Extensions, references and the rarer properties take the full path.
_REQUIRED_KEYS: Final = frozenset(_REQUIRED)
_ONE_PASS_KEYS: Final = _REQUIRED_KEYS | (
    _FAST_OPTIONAL - {"extensions", "created_by_ref", "pattern_version", "lang"}
)
_DETAIL_KEYS: Final = ("name", "description", "labels", "indicator_types")


def one_pass_indicator(obj: dict[str, Any], index: int, latest: datetime) -> IndicatorIn | None:
    """The indicator :func:`check_indicator_fully` would build from ``obj``, or None.

    Most objects of a bundle are plain indicators of one shape; checking them one property at
    a time, with the exchange's rules and the STIX verdict apart, cost ~14 µs each and re-read
    every property twice. This makes every check once (~5 µs) and gives up, returning None,
    at anything it does not handle or that fails, so the full path decides those and words
    the message. It never accepts what the full path refuses, and builds the same
    ``IndicatorIn`` (``tests/ingest/test_validator_differential.py`` checks both on generated
    objects). ``latest``: the latest ``created``/``modified`` accepted (now plus the skew).
    """
    keys = obj.keys()
    if not (keys >= _REQUIRED_KEYS and keys <= _ONE_PASS_KEYS):
        return None
    if obj["type"] != "indicator" or obj["spec_version"] != "2.1" or obj["pattern_type"] != "stix":
        return None
    source_id, pattern = obj["id"], obj["pattern"]
    if type(source_id) is not str or type(pattern) is not str:
        return None
    found = PATTERN_RE.fullmatch(pattern)
    if found is None or not _INDICATOR_ID_RE.match(source_id):
        return None
    kind, value = found.groups()
    hashed = HASH_RE.fullmatch(value)
    if hashed is None or kind not in KINDS:
        return None
    created = parse_timestamp(obj["created"])
    modified = parse_timestamp(obj["modified"])
    valid_from = parse_timestamp(obj["valid_from"])
    if created is None or modified is None or valid_from is None:
        return None
    if created > latest or modified > latest or modified < created:
        return None
    valid_until = None
    if "valid_until" in obj:
        valid_until = parse_timestamp(obj["valid_until"])
        if valid_until is None or valid_until <= valid_from:
            return None
    # A property that is present must hold a proper value: JSON null is not "absent" to stix2.
    confidence = obj.get("confidence")
    if "confidence" in obj and (type(confidence) is not int or not 0 <= confidence <= 100):
        return None
    revoked = obj.get("revoked", False)
    if type(revoked) is not bool:
        return None
    details = {}
    for name in _DETAIL_KEYS:
        if name in obj:
            details[name] = obj[name]
    if "name" in details and not (
        type(details["name"]) is str and len(details["name"]) <= MAX_NAME
    ):
        return None
    if "description" in details and not (
        type(details["description"]) is str and len(details["description"]) <= MAX_DESCRIPTION
    ):
        return None
    for listing in ("labels", "indicator_types"):
        if listing in details:
            listed = details[listing]
            if not (type(listed) is list and listed and all(type(v) is str and v for v in listed)):
                return None
    tlp = DEFAULT_TLP
    if "object_marking_refs" in obj:
        refs = obj["object_marking_refs"]
        if type(refs) is not list or not refs:
            return None
        tlps = set()
        for ref in refs:
            if type(ref) is not str or not _MARKING_ID_RE.match(ref):
                return None
            if ref in TLP_NAMES_BY_ID:
                tlps.add(TLP_NAMES_BY_ID[ref])
        if len(tlps) > 1:
            return None
        if tlps:
            tlp = tlps.pop()
    return IndicatorIn(
        index,
        source_id,
        created,
        modified,
        kind,
        value,
        hashed.group(1),
        valid_from,
        valid_until,
        revoked,
        confidence,
        tlp,
        None,
        False,
        None,
        details,
    )


def check_indicator_fully(obj: dict[str, Any], index: int, *, now: datetime) -> IndicatorIn:
    """Exchange rules first (cheap, precise messages), then STIX validity."""
    if obj.get("pattern_type") != "stix":
        raise Rejected("pattern_type must be 'stix'")
    try:
        kind, value = parse_pattern(obj.get("pattern"))  # type: ignore[arg-type]
    except InvalidPattern as exc:
        raise Rejected(str(exc)) from None
    try:
        key_id, _ = parse_hash(value)
    except InvalidHash as exc:
        raise Rejected(f"invalid hash value: {exc.reason}") from None
    _require_stated(obj, "modified")  # a context object may lack it (marking definitions)
    error = stix_error(obj, pattern_checked=True)
    if error is not None:
        raise Rejected(f"not valid STIX 2.1: {error}")
    created = _ts(obj, "created")
    modified = _ts(obj, "modified")
    valid_from = _ts(obj, "valid_from")
    valid_until = _ts(obj, "valid_until") if "valid_until" in obj else None
    _not_in_future(obj, "created", created, now)
    _not_in_future(obj, "modified", modified, now)
    if modified < created:
        raise Rejected("'modified' is earlier than 'created'")
    confidence = obj.get("confidence")
    if confidence is not None and (type(confidence) is not int or not 0 <= confidence <= 100):
        raise Rejected("'confidence' must be an integer from 0 to 100")
    revoked = obj.get("revoked", False)
    if type(revoked) is not bool:
        raise Rejected("'revoked' must be true or false")
    anonymous, group = _report_extension(obj)
    signature = _signature(obj, kind, key_id)
    details = {k: obj[k] for k in ("name", "description", "labels", "indicator_types") if k in obj}
    if len(str(details.get("name", ""))) > MAX_NAME:
        raise Rejected(f"'name' is longer than {MAX_NAME} characters")
    if len(str(details.get("description", ""))) > MAX_DESCRIPTION:
        raise Rejected(f"'description' is longer than {MAX_DESCRIPTION} characters")
    return IndicatorIn(
        index=index,
        source_id=obj["id"],
        created=created,
        modified=modified,
        kind=kind,
        value=value,
        key_id=key_id,
        valid_from=valid_from,
        valid_until=valid_until,
        revoked=revoked,
        confidence=confidence,
        tlp=_tlp_of(obj),
        sharing_group=group,
        anonymous=anonymous,
        signature=signature,
        details=details,
    )


def _ts(obj: dict[str, Any], name: str) -> datetime:
    parsed = parse_timestamp(obj.get(name))
    if parsed is not None:
        return parsed
    # stix2 accepted a form the fast parser does not take (e.g. nanoseconds): let it parse.
    from stix2.utils import parse_into_datetime

    return parse_into_datetime(obj[name]).astimezone(UTC)  # type: ignore[no-any-return]


def _signature(obj: dict[str, Any], kind: str, key_id: str) -> PromptSignature | None:
    ext = (obj.get("extensions") or {}).get(PROMPT_SIGNATURE_EXTENSION_ID)
    if ext is None:
        return None
    if kind != "prompt":
        raise Rejected("only prompt indicators may carry a prompt signature")
    if not isinstance(ext, dict) or ext.get("scheme") != MINHASH_SCHEME:
        raise Rejected(f"prompt signature scheme must be {MINHASH_SCHEME!r}")
    if ext.get("key_id") not in (None, key_id):
        raise Rejected("prompt signature was made with another consortium key than the hash")
    try:
        return decode_signature(ext.get("minhash"), key_id=key_id)  # type: ignore[arg-type]
    except InvalidSignature as exc:
        raise Rejected(f"invalid prompt signature: {exc}") from None


def check_context(obj: dict[str, Any], index: int, *, now: datetime) -> ContextIn:
    stix_type = obj.get("type")
    if stix_type not in CONTEXT_TYPES:
        raise Rejected(
            f"type {str(stix_type)[:40]!r} is not accepted; this exchange takes indicators and "
            f"{', '.join(sorted(CONTEXT_TYPES))}"
        )
    _require_stated(obj)
    error = stix2_error(obj)
    if error is not None:
        raise Rejected(f"not valid STIX 2.1: {error}")
    modified_raw = obj.get("modified") or obj.get("created")
    modified = _ts({"m": modified_raw}, "m") if modified_raw else datetime(1970, 1, 1, tzinfo=UTC)
    _not_in_future({"modified": modified_raw}, "modified", modified, now)
    anonymous, group = _report_extension(obj)
    revoked = obj.get("revoked", False) is True
    return ContextIn(
        index=index,
        stix_id=obj["id"],
        stix_type=stix_type,
        modified=modified,
        obj=obj,
        tlp=_tlp_of(obj) if stix_type != "marking-definition" else "clear",
        sharing_group=group,
        anonymous=anonymous,
        revoked=revoked,
    )


def check_object(obj: Any, index: int, *, now: datetime) -> IndicatorIn | ContextIn:
    if not isinstance(obj, dict):
        raise Rejected(f"objects[{index}] is not a JSON object")
    if obj.get("type") == "indicator":
        return check_indicator(obj, index, now=now)
    return check_context(obj, index, now=now)


def is_uuid_id(value: Any) -> bool:
    if not isinstance(value, str) or "--" not in value:
        return False
    try:
        uuid.UUID(value.split("--", 1)[1])
    except ValueError:
        return False
    return True
