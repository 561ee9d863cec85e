"""A match request body, checked item by item before anything touches the database.

Every problem names the item (``items[17]: ...`` plus ``details.index``) so a pipeline sending
10,000 hashes knows which one to fix; an over-long batch is refused as a whole (413) before any
item is looked at. Checking is by hand rather than with marshmallow because it runs on every
item of every batch and must stay at a few microseconds per item; the marshmallow schemas in
``sharing.api.match_schemas`` describe the same shape for the OpenAPI document.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sharing.errors import InvalidInput, PayloadTooLarge
from sharing.identifiers import (
    HASH_RE,
    KINDS,
    MINHASH_THRESHOLD,
    InvalidHash,
    InvalidSignature,
    PromptSignature,
    decode_signature,
    parse_hash,
)
from sharing.identifiers.constants import IPV6_PREFIX_LENGTHS

#: An IPv6 address has 29 ladder prefixes (/128 to /16 in steps of 4), IPv4 25.
MAX_PREFIXES = len(IPV6_PREFIX_LENGTHS)
_ITEM_KEYS = {"kind", "value", "prefixes", "minhash", "key_id"}


@dataclass(frozen=True)
class MatchItem:
    index: int
    kind: str
    #: Exact hashes to look up. One for most kinds; an ip item's covering prefixes, most
    #: specific first; empty for a prompt item that only carries a MinHash.
    hashes: tuple[str, ...]
    signature: PromptSignature | None = None


@dataclass(frozen=True)
class MatchRequest:
    items: list[MatchItem]
    min_similarity: float


def _bad(index: int, message: str) -> InvalidInput:
    return InvalidInput(f"items[{index}]: {message}", details={"index": index})


def _hash(index: int, value: Any, what: str) -> str:
    if isinstance(value, str) and HASH_RE.fullmatch(value):
        return value
    try:
        parse_hash(value)
    except InvalidHash as exc:
        raise _bad(index, f"{what} is not a valid hash ({exc.reason})") from None
    raise _bad(index, f"{what} is not a valid hash")  # pragma: no cover - parse_hash raised


def _item(index: int, raw: Any) -> MatchItem:
    if not isinstance(raw, dict):
        raise _bad(index, "each item must be a JSON object")
    unknown = set(raw) - _ITEM_KEYS
    if unknown:
        raise _bad(index, f"unknown field {sorted(unknown)[0][:40]!r}")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise _bad(index, f"kind must be one of {', '.join(KINDS)}")
    if kind != "prompt" and ("minhash" in raw or "key_id" in raw):
        raise _bad(index, "only prompt items carry a minhash")
    if kind == "ip" and "prefixes" in raw:
        if "value" in raw:
            raise _bad(index, "give either value or prefixes, not both")
        prefixes = raw["prefixes"]
        if not isinstance(prefixes, list) or not 1 <= len(prefixes) <= MAX_PREFIXES:
            raise _bad(index, f"prefixes must be a list of 1 to {MAX_PREFIXES} hashes")
        hashes = tuple(
            _hash(index, value, f"prefixes[{position}]") for position, value in enumerate(prefixes)
        )
        return MatchItem(index, kind, hashes)
    if "prefixes" in raw:
        raise _bad(index, "only ip items carry prefixes")
    if kind == "prompt":
        return _prompt_item(index, raw)
    if "value" not in raw:
        raise _bad(index, "value (the member-side hash) is required")
    return MatchItem(index, kind, (_hash(index, raw["value"], "value"),))


def _prompt_item(index: int, raw: dict[str, Any]) -> MatchItem:
    hashes: tuple[str, ...] = ()
    key_id = raw.get("key_id")
    if "value" in raw:
        value = _hash(index, raw["value"], "value")
        hashes = (value,)
        key_id = key_id or value.split(":", 2)[1]
    if key_id is not None and not isinstance(key_id, str):
        raise _bad(index, "key_id must be a string")
    signature = None
    if "minhash" in raw:
        try:
            signature = decode_signature(raw["minhash"], key_id=key_id)
        except InvalidSignature as exc:
            raise _bad(index, f"minhash is not a valid signature ({exc.reason})") from None
    if not hashes and signature is None:
        raise _bad(index, "a prompt item needs a value, a minhash or both")
    return MatchItem(index, "prompt", hashes, signature)


def parse_match_request(body: Any, *, max_items: int) -> MatchRequest:
    """Typed items, or :class:`InvalidInput` naming the first bad item; 413 past ``max_items``."""
    if not isinstance(body, dict):
        raise InvalidInput('the body must be a JSON object with "items"')
    unknown = set(body) - {"items", "min_similarity"}
    if unknown:
        raise InvalidInput(f"unknown field {sorted(unknown)[0][:40]!r}")
    items = body.get("items")
    if not isinstance(items, list):
        raise InvalidInput('"items" must be a list')
    if len(items) > max_items:
        raise PayloadTooLarge(
            f"the request holds {len(items)} items; the limit is {max_items} per request"
        )
    threshold = body.get("min_similarity", MINHASH_THRESHOLD)
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, int | float)
        or not 0 < threshold <= 1
    ):
        raise InvalidInput("min_similarity must be a number in (0, 1]")
    return MatchRequest([_item(i, raw) for i, raw in enumerate(items)], float(threshold))
