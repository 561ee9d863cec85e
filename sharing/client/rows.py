"""Turning a member's raw rows into hashes, and saying precisely why a row cannot be.

A lab's abuse export is messy: typos in addresses, phone numbers without a country, a private
range someone pasted by mistake.  Every refusal names the line, the kind and a reason that
never repeats the raw value (so the summary can be pasted into a ticket), and a refused IP is
refused for the same reason on every member's machine (``sharing.identifiers.warning_for``).

Input is read lazily, one row at a time, so a 10-million-row CSV never sits in memory.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from itertools import islice, repeat
from operator import attrgetter
from typing import IO, Any

from sharing.identifiers import (
    KINDS,
    ConsortiumKeyring,
    InvalidIdentifier,
    hash_many,
    hash_prefixes,
    hasher,
    normalise,
    prompt_signature,
    prompt_signature_extension,
    warning_for,
)

from .errors import RowRejected
from .stix import stix_timestamp

__all__ = [
    "COLUMNS",
    "InputError",
    "RowError",
    "RowHasher",
    "guess_kind",
    "parse_confidence",
    "parse_tlp",
    "parse_valid_until",
    "read_rows",
]

#: Columns ``palisade hash`` understands; ``value`` is required, ``kind`` unless defaulted.
COLUMNS = ("kind", "value", "tlp", "confidence", "campaign", "valid_until")
#: CSV records parsed at a time on the common path (kind,value only).
READ_CHUNK = 1024
_LINE_NUM = attrgetter("line_num")

_TLP_ALIASES = {
    "clear": "clear",
    "white": "clear",
    "green": "green",
    "amber": "amber",
    "amber+strict": "amber+strict",
    "amber-strict": "amber+strict",
    "red": "red",
}


class InputError(ValueError):
    """The input as a whole is unusable (bad header, unknown format): a usage error."""


@dataclass(frozen=True, slots=True)
class RowError:
    """A rejected input row: 1-based ``line``, the row's ``kind`` (or ``-``) and ``reason``."""

    line: int
    kind: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.kind}: {self.reason}"

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "kind": self.kind, "reason": self.reason}


def parse_tlp(value: str | None, kind: str = "-") -> str | None:
    """``"TLP:AMBER"``, ``"amber"``, ``"white"`` ... -> a TLP 2.0 name; None if empty."""
    if value is None:
        return None
    text = value.strip().lower()
    if not text:
        return None
    if text.startswith("tlp:"):
        text = text[4:]
    tlp = _TLP_ALIASES.get(text)
    if tlp is None:
        raise RowRejected(
            kind, f"unknown TLP {value.strip()[:20]!r} (clear, green, amber, amber+strict, red)"
        )
    return tlp


def parse_confidence(value: str | int | None, kind: str = "-") -> int | None:
    """An integer 0-100, or None if empty."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise RowRejected(kind, "confidence must be an integer from 0 to 100")
    try:
        number = int(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise RowRejected(kind, "confidence must be an integer from 0 to 100") from None
    if not 0 <= number <= 100 or (isinstance(value, float) and value != number):
        raise RowRejected(kind, "confidence must be an integer from 0 to 100")
    return number


def parse_valid_until(
    value: str | datetime | None, kind: str = "-", *, now: datetime | None = None
) -> str | None:
    """An ISO 8601 date or date-time in the future -> a STIX timestamp; None if empty.

    A bare date means midnight UTC at its start; a date-time without an offset is UTC.
    """
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        when = value
    else:
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            when = datetime.fromisoformat(text)
        except ValueError:
            raise RowRejected(kind, "valid_until is not an ISO 8601 date or date-time") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    if when <= (now or datetime.now(UTC)):
        raise RowRejected(kind, "valid_until is not in the future")
    return stix_timestamp(when)


def guess_kind(raw: str) -> str:
    """email, ip or phone, judged from the shape of ``raw``; RowRejected if none fits.

    Only used where the caller gave no kind (``palisade match`` on bare values).  Handles,
    payment and device fingerprints and prompts look like anything and must be named.
    """
    text = raw.strip()
    if "@" in text and " " not in text:
        return "email"
    try:
        normalise("ip", text)
        return "ip"
    except InvalidIdentifier:
        pass
    digits = sum(c.isdigit() for c in text)
    if digits >= 7 and all(c.isdigit() or c in "+-(). " for c in text):
        return "phone"
    raise RowRejected("-", "cannot guess the kind (email, ip, phone); give it with --kind")


class RowHasher:
    """Normalise and hash raw values of any kind with the current consortium key.

    ``hash(kind, raw)`` returns ``(hash, extensions)`` where ``extensions`` holds the MinHash
    property-extension for prompts and is None otherwise; invalid values raise
    :class:`RowRejected` with the reason (IP warnings too, unless ``force_ip``).
    """

    def __init__(
        self,
        keyring: ConsortiumKeyring,
        *,
        force_ip: bool = False,
        default_region: str = "US",
    ) -> None:
        self.keyring = keyring
        self.key = keyring.current
        self.force_ip = force_ip
        self.default_region = default_region
        self._fns: dict[str, Callable[[str], str]] = {}
        for kind in KINDS:
            kw = {"default_region": default_region} if kind == "phone" else {}
            self._fns[kind] = hasher(self.key, kind, **kw)

    def function(self, kind: str) -> Callable[[str], str] | None:
        """The bare ``raw -> hash`` function for kinds with no extra checks (hot loop)."""
        if kind in ("ip", "prompt"):
            return None
        return self._fns.get(kind)

    def bulk(self, kind: str) -> Callable[[list[str]], list[str]] | None:
        """``raws -> hashes`` for a batch of one kind with no extra checks (the hot loop).

        Raises :class:`~sharing.identifiers.InvalidIdentifier` on the first invalid value;
        the caller then redoes the batch value by value to report it.
        """
        if self.function(kind) is None:
            return None
        kw = {"default_region": self.default_region} if kind == "phone" else {}
        return partial(hash_many, self.key, kind, **kw)

    def hash(self, kind: str, raw: Any) -> tuple[str, dict[str, Any] | None]:
        fn = self._fns.get(kind)
        if fn is None:
            raise RowRejected(
                kind or "-", "unknown kind (expected one of " + ", ".join(KINDS) + ")"
            )
        if not isinstance(raw, str):
            raise RowRejected(kind, f"{kind} value must be a string")
        try:
            value = fn(raw)
            if kind == "ip" and not self.force_ip:
                warning = warning_for(raw)
                if warning is not None:
                    raise RowRejected(kind, warning + " (use --force-ip to submit anyway)")
            if kind == "prompt":
                return value, prompt_signature_extension(prompt_signature(self.key, raw))
            return value, None
        except InvalidIdentifier as exc:
            raise RowRejected(kind, exc.reason) from None

    def query_items(self, kind: str, raw: str) -> list[dict[str, Any]]:
        """Match-request items for ``raw``: one per consortium key (rotation overlap).

        IPs become every covering prefix; prompts carry their MinHash.  Match queries skip
        the IP warning list: asking about a private address is harmless.
        """
        items: list[dict[str, Any]] = []
        try:
            for key in self.keyring.keys:
                if kind == "ip":
                    items.append({"kind": "ip", "prefixes": hash_prefixes(key, raw)})
                elif kind == "prompt":
                    sig = prompt_signature(key, raw)
                    value = hasher(key, "prompt")(raw)
                    items.append({"kind": "prompt", "value": value, "minhash": sig.encode()})
                elif kind in KINDS:
                    kw = {"default_region": self.default_region} if kind == "phone" else {}
                    items.append({"kind": kind, "value": hasher(key, kind, **kw)(raw)})
                else:
                    raise RowRejected(kind or "-", "unknown kind")
        except InvalidIdentifier as exc:
            raise RowRejected(kind, exc.reason) from None
        return items


# ---- readers ----------------------------------------------------------------------------


def _csv_rows(stream: IO[str], default_kind: str | None) -> Iterator[tuple[Any, ...] | RowError]:
    reader = csv.reader(stream)
    header: list[str] | None = None
    for fields in reader:
        if fields:
            header = [h.strip().lower() for h in fields]
            break
    if header is None:
        return
    if "value" not in header:
        raise InputError(
            "the CSV header must name a 'value' column "
            "(columns: kind,value[,tlp,confidence,campaign,valid_until])"
        )
    if "kind" not in header and default_kind is None:
        raise InputError("the CSV has no 'kind' column; add one or pass --kind")
    unknown = [h for h in header if h not in COLUMNS]
    if unknown:
        raise InputError(
            f"unknown CSV column(s) {', '.join(repr(u) for u in unknown)}; "
            f"expected {', '.join(COLUMNS)}"
        )
    idx = {name: header.index(name) if name in header else None for name in COLUMNS}
    i_kind, i_value = idx["kind"], idx["value"]
    extras = [idx[n] for n in ("tlp", "confidence", "campaign", "valid_until")]
    width = len(header)
    if all(e is None for e in extras):
        # The common case (kind,value or value only): no per-row optional columns.  Rows are
        # built a chunk at a time by comprehensions; a chunk with a short or empty row is
        # redone row by row so that row is reported (or skipped) exactly as below.
        kinds: dict[str, str | None] = {}

        def kind_of(raw: str) -> str | None:
            kind = kinds[raw] = raw.strip().lower() or default_kind
            return kind

        # (fields, line number) pairs; zip asks the reader for a record before its line_num.
        numbered = zip(reader, map(_LINE_NUM, repeat(reader)), strict=False)
        while True:
            chunk = list(islice(numbered, READ_CHUNK))
            if not chunk:
                return
            try:
                if i_kind is None:
                    rows = [(n, default_kind, f[i_value], None, None, None, None) for f, n in chunk]
                else:
                    rows = [
                        (
                            n,
                            kinds.get(f[i_kind]) or kind_of(f[i_kind]),
                            f[i_value],
                            None,
                            None,
                            None,
                            None,
                        )
                        for f, n in chunk
                    ]
                yield from rows
                continue
            except IndexError:
                pass
            for fields, n in chunk:
                if len(fields) < width:
                    if not fields or fields == [""]:
                        continue
                    yield RowError(n, "-", f"expected {width} columns, got {len(fields)}")
                    continue
                kind = fields[i_kind].strip().lower() if i_kind is not None else default_kind
                yield (n, kind or default_kind, fields[i_value], None, None, None, None)
    for fields in reader:
        if len(fields) < width:
            if not fields or fields == [""]:
                continue
            yield RowError(reader.line_num, "-", f"expected {width} columns, got {len(fields)}")
            continue
        kind = fields[i_kind].strip().lower() if i_kind is not None else default_kind
        yield (
            reader.line_num,
            kind or default_kind,
            fields[i_value],
            *(fields[e] if e is not None else None for e in extras),
        )


def _jsonl_rows(stream: IO[str], default_kind: str | None) -> Iterator[tuple[Any, ...] | RowError]:
    for line_no, line in enumerate(stream, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            yield RowError(line_no, "-", "not valid JSON")
            continue
        if not isinstance(obj, dict):
            yield RowError(line_no, "-", "not a JSON object")
            continue
        kind = obj.get("kind", default_kind)
        kind = kind.strip().lower() if isinstance(kind, str) else default_kind
        if not kind:
            yield RowError(line_no, "-", "no kind (add a 'kind' field or pass --kind)")
            continue
        if "value" not in obj:
            yield RowError(line_no, kind, "no 'value' field")
            continue
        yield (
            line_no,
            kind,
            obj["value"],
            obj.get("tlp"),
            obj.get("confidence"),
            obj.get("campaign"),
            obj.get("valid_until"),
        )


def read_rows(
    stream: IO[str], fmt: str, *, default_kind: str | None = None
) -> Iterator[tuple[Any, ...] | RowError]:
    """Lazily yield ``(line, kind, value, tlp, confidence, campaign, valid_until)`` tuples.

    Unreadable rows come out as :class:`RowError` in their place; a bad header raises
    :class:`InputError`.  ``fmt`` is ``csv`` or ``jsonl``.
    """
    if default_kind is not None and default_kind not in KINDS:
        raise InputError(f"unknown kind {default_kind!r}; expected one of {', '.join(KINDS)}")
    if fmt == "csv":
        return _csv_rows(stream, default_kind)
    if fmt == "jsonl":
        return _jsonl_rows(stream, default_kind)
    raise InputError(f"unknown input format {fmt!r} (csv or jsonl)")


def rows_from_values(
    values: Iterable[Any], default_kind: str | None = None
) -> Iterator[tuple[Any, ...] | RowError]:
    """Rows from Python values: ``"raw"``, ``(kind, raw)`` or ``{"kind":..., "value":...}``."""
    for n, item in enumerate(values, 1):
        if isinstance(item, dict):
            yield (
                n,
                item.get("kind") or default_kind,
                item.get("value"),
                *(item.get(c) for c in ("tlp", "confidence", "campaign", "valid_until")),
            )
        elif isinstance(item, tuple | list) and len(item) == 2:
            yield (n, item[0], item[1], None, None, None, None)
        else:
            yield (n, default_kind, item, None, None, None, None)
