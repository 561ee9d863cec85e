"""The half of writing indicators that needs no write lock, done before taking it.

Only one submitter writes at a time (``sharing.ledger``), so whatever a bundle computes while
holding the lock, every other submitter waits for. What does not depend on the rows stored so
far is done here, outside it: the checks against reference data (consortium keys, sharing
groups), each indicator's blind index, the canonical id it will get if it is new, the
encryption of its value and prompt signature, and its timestamps in the driver's form. The
writer then holds the lock only for the dedup lookups, the report rules and the inserts.

Three consequences, all benign:

- A new canonical id is drawn for every indicator, and dropped when dedup finds the value
  already stored; ids are random, so nothing is lost but the draw.
- The reference checks read what is committed a moment before the write: a consortium key
  retired, or a member removed from a group, in that moment counts as done just after the
  bundle, as it would had the bundle arrived a second earlier.
- Values are encrypted under the data key active when the bundle was prepared. If a rotation
  starts in the second before the bundle commits, its rows are under the old key, which is
  what a worker that has not yet re-read the key file does too; ``sharing.keyrotation``'s
  second pass re-encrypts such rows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from sharing import bulk
from sharing.accounts.principal import Principal
from sharing.crypto import aead
from sharing.crypto.blind_index import BlindIndexer
from sharing.crypto.cipher import FieldCipher
from sharing.identifiers import lsh_band_hashes
from sharing.ids import new_time_ordered_uuid4s
from sharing.ingest.outcomes import Outcome, stix_timestamp
from sharing.ingest.validate import IndicatorIn
from sharing.models.accounts import SharingGroup
from sharing.models.consortium import ConsortiumKeyId


@dataclass(slots=True)
class PreparedIndicator:
    """One valid indicator, ready for the writer: everything it needs but the row ids."""

    item: IndicatorIn
    group_id: int | None
    blind_index: bytes
    # Used only if the value is new to the exchange: its id, and its value and signature
    # encrypted for that id.
    stix_id: str
    value_ct: bytes
    signature_ct: bytes | None
    band_hashes: list[int]
    # The report's columns in the driver's form (SQLite stores datetimes as text).
    modified_db: Any
    valid_from_db: Any
    valid_until_db: Any
    details_json: bytes | None
    version: str


@dataclass(frozen=True)
class ReferenceData:
    """What the checks read from the database: loaded once per bundle, before the lock."""

    key_ids: frozenset[str]
    groups: dict[str, int]

    @classmethod
    def load(cls, session: Session, group_names: set[str]) -> ReferenceData:
        key_ids = frozenset(
            session.scalars(
                select(ConsortiumKeyId.key_id).where(ConsortiumKeyId.retired_at.is_(None))
            )
        )
        groups: dict[str, int] = {}
        if group_names:
            rows = session.execute(
                select(SharingGroup.name, SharingGroup.id).where(
                    SharingGroup.name.in_(sorted(group_names))
                )
            )
            groups = {name: group_id for name, group_id in rows}
        return cls(key_ids, groups)


class RejectedHere(Exception):
    """A check that needs reference data failed; the message is the object's outcome."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def group_id_for(
    reference: ReferenceData, principal: Principal, name: str | None, tlp: str
) -> int | None:
    """The sharing group a report is restricted to, or None for the whole exchange."""
    if name is None:
        if tlp == "red":
            raise RejectedHere("TLP:RED needs a sharing group (Palisade report extension)")
        return None
    group_id = reference.groups.get(name)
    if group_id is None or group_id not in principal.group_ids:
        # Same message either way: do not reveal which groups exist.
        raise RejectedHere(f"you are not a member of a sharing group named {name!r}")
    return group_id


def prepare_indicators(
    items: list[IndicatorIn],
    reference: ReferenceData,
    principal: Principal,
    cipher: FieldCipher,
    *,
    sqlite: bool,
) -> tuple[list[PreparedIndicator], list[Outcome]]:
    """Indicators in blind-index order (so new ones enter that unique index as one ascending
    run), and the outcomes of those that failed a reference check."""
    ring = cipher.source.current()
    blind_index = BlindIndexer(ring.blind_index_key).indicator
    db_time = bulk.sqlite_datetime if sqlite else _same
    checked: list[tuple[IndicatorIn, int | None]] = []
    failures: list[Outcome] = []
    for item in items:
        try:
            if item.key_id not in reference.key_ids:
                raise RejectedHere(f"unknown consortium key id {item.key_id!r} in the hash")
            group_id = group_id_for(reference, principal, item.sharing_group, item.tlp)
        except RejectedHere as exc:
            version = stix_timestamp(item.modified)
            failures.append(Outcome(item.index, item.source_id, version, False, exc.message))
            continue
        checked.append((item, group_id))
    # Blind-index order first, then ids minted ascending in that order: new rows then enter
    # both unique indexes (blind index, STIX id) as one ascending run each, as pure appends
    # on the STIX-id side since its ids begin with the clock.
    keyed = sorted(
        ((blind_index(item.kind, item.value), item, group_id) for item, group_id in checked),
        key=itemgetter(0),
    )
    stix_ids = sorted(f"indicator--{uuid}" for uuid in new_time_ordered_uuid4s(len(keyed)))
    value_cts = aead.encrypt_many(
        ring,
        [
            (item.value.encode(), f"indicators.value:{stix_id}")
            for (_, item, _), stix_id in zip(keyed, stix_ids, strict=True)
        ],
    )
    prepared: list[PreparedIndicator] = []
    for (index_value, item, group_id), stix_id, value_ct in zip(
        keyed, stix_ids, value_cts, strict=True
    ):
        signature = item.signature
        prepared.append(
            PreparedIndicator(
                item,
                group_id,
                index_value,
                stix_id,
                value_ct,
                (
                    aead.encrypt(
                        ring,
                        json.dumps(list(signature.values)).encode(),
                        f"indicators.signature:{stix_id}",
                    )
                    if signature is not None
                    else None
                ),
                lsh_band_hashes(signature) if signature is not None else [],
                db_time(item.modified),
                db_time(item.valid_from),
                db_time(item.valid_until) if item.valid_until else None,
                # A report's details (name, description, labels, indicator_types: strings and
                # lists of strings, checked by stix2); orjson encodes them ~5x faster.
                orjson.dumps(item.details) if item.details else None,
                stix_timestamp(item.modified),
            )
        )
    return prepared, failures


def _same(value: datetime) -> datetime:
    return value
