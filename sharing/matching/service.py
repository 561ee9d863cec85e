"""Match hashed identifiers against the exchange, showing only what the caller may see.

Every lookup is an indexed equality: exact hashes (and an ip item's covering prefixes) by the
unique blind index on ``indicators``, prompt MinHash signatures by the band-hash index on
``prompt_bands`` (candidates then verified by estimated Jaccard similarity). Lookups are batched
into a few ``IN`` queries per request, whatever the batch size. What a match says comes from
:func:`sharing.corroboration.summarise`, the one per-viewer view, so an indicator with no report
the caller may see (or only revoked/expired ones) simply does not match.

The asker's privacy: queried hashes live only in this request's memory. The audit log gets who
asked, how many items and how many matched; nothing is logged about the values.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from sharing import audit, bulk, ledger
from sharing.accounts.principal import Principal
from sharing.corroboration import Summary, summarise
from sharing.crypto.cipher import FieldCipher
from sharing.db import core
from sharing.identifiers import estimate_jaccard, lsh_band_hashes
from sharing.ingest.bundle import parse_json
from sharing.ingest.outcomes import stix_timestamp
from sharing.matching.request import MatchItem, MatchRequest, parse_match_request
from sharing.models.base import utcnow
from sharing.models.indicators import Indicator, PromptBand
from sharing.runtime import Runtime
from sharing.visibility import Viewer

#: Parameters per IN query: well under SQLite's 32,766 and cheap for PostgreSQL to plan.
CHUNK = 2000
#: LSH candidates verified per prompt item, most band collisions first: bounds the work a
#: very common prompt can cause.
MAX_PROMPT_CANDIDATES = 500


@dataclass(frozen=True)
class _Hit:
    indicator_id: int
    similarity: float
    #: Position of the matching hash in the item (an ip item's prefix rank: 0 = most specific).
    position: int


def _chunks(values: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def match(rt: Runtime, principal: Principal, body: bytes) -> dict[str, Any]:
    """Answer a match request body (JSON bytes): one result per item, in order."""
    principal.require_scope("match")
    request = parse_match_request(parse_json(body), max_items=rt.settings.max_match_items)
    viewer = Viewer.of(principal, rt.cipher)
    now = utcnow()
    # PostgreSQL: the lookups and the audit row share one connection in autocommit (one pool
    # checkout with its pre-ping, no BEGIN/COMMIT): each statement is correct on its own, since
    # the summary re-checks visibility whatever the lookup saw, and the audit append is a
    # single INSERT that retries on a lost race (sharing.audit). SQLite: a read transaction
    # cannot safely become a write one, and holding the write lock through the lookups would
    # serialise every match, so the audit row gets its own short write transaction, queued
    # with the bundle submitters (``ledger.queue``) so that it gets its turn between them.
    shared = rt.db.dialect == "postgresql"
    with rt.db.connect(autocommit=shared) as connection:
        hits = find_hits(connection, rt.cipher, request)
        summaries = summarise(
            connection,
            rt.cipher,
            viewer,
            {h.indicator_id for hs in hits.values() for h in hs},
            now,
            # Authentication has just read the caller's own name: its own reports need no
            # second look-up (a round trip on PostgreSQL).
            org_names={principal.org_id: principal.org_name},
        )
        results = [_result(item, hits.get(item.index, []), summaries) for item in request.items]
        matched = sum(1 for r in results if r["matched"])
        if shared:
            _audit(connection, principal, len(results), matched)
    if not shared:
        with ledger.queue(rt.db), rt.db.connect(write=True) as connection:
            _audit(connection, principal, len(results), matched)
    return {"results": results, "matched_count": matched, "checked_at": stix_timestamp(now)}


def _audit(connection: Connection, principal: Principal, items: int, matched: int) -> None:
    """Who asked, how many items, how many matched: never the values."""
    audit.record(
        connection,
        principal.actor,
        "match",
        f"org:{principal.org_id}",
        {"items": items, "matched": matched},
    )


# On the DB-API connection (sharing.bulk): through Core, building and running this statement
# cost a one-item match ~60 µs against ~3 µs for SQLite to answer it.
_BY_BLIND_INDEX = "SELECT blind_index, id FROM indicators WHERE blind_index IN ({})"


def find_hits(
    session: Session | Connection, cipher: FieldCipher, request: MatchRequest
) -> dict[int, list[_Hit]]:
    """Candidate indicators per item index, before visibility (summarise decides that)."""
    wanted: dict[bytes, list[tuple[int, int]]] = defaultdict(list)
    for item in request.items:
        for position, value in enumerate(item.hashes):
            wanted[cipher.indicator_blind_index(item.kind, value)].append((item.index, position))
    hits: dict[int, list[_Hit]] = defaultdict(list)
    connection = core(session)
    for bi, indicator_id in bulk.select_in(connection, _BY_BLIND_INDEX, list(wanted)):
        for index, position in wanted[bytes(bi)]:
            hits[index].append(_Hit(indicator_id, 1.0, position))
    prompts = [item for item in request.items if item.signature is not None]
    if prompts:
        _similar_prompts(connection, cipher, prompts, request.min_similarity, hits)
    return hits


def _similar_prompts(
    connection: Connection,
    cipher: FieldCipher,
    items: list[MatchItem],
    threshold: float,
    hits: dict[int, list[_Hit]],
) -> None:
    """LSH candidates by band hash, verified by estimated Jaccard similarity."""
    bands: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for item in items:
        assert item.signature is not None
        for band, value in enumerate(lsh_band_hashes(item.signature)):
            bands[value].append((item.index, band))
    collisions: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for chunk in _chunks(list(bands)):
        for indicator_id, band, value in connection.execute(
            select(PromptBand.indicator_id, PromptBand.band, PromptBand.band_hash).where(
                PromptBand.band_hash.in_(chunk)
            )
        ):
            for index, wanted_band in bands[value]:
                if wanted_band == band:
                    collisions[index][indicator_id] += 1
    by_index = {item.index: item for item in items}
    candidates = {
        index: sorted(found, key=lambda i: -found[i])[:MAX_PROMPT_CANDIDATES]
        for index, found in collisions.items()
    }
    ids = sorted({i for found in candidates.values() for i in found})
    signatures: dict[int, tuple[str, str, tuple[int, ...]]] = {}
    for chunk in _chunks(ids):
        for row in connection.execute(
            select(
                Indicator.id, Indicator.stix_id, Indicator.consortium_key_id, Indicator.signature_ct
            ).where(Indicator.id.in_(chunk), Indicator.signature_ct.is_not(None))
        ):
            values = json.loads(cipher.decrypt(row[3], f"indicators.signature:{row[1]}"))
            signatures[row[0]] = (row[1], row[2], tuple(values))
    for index, found in candidates.items():
        signature = by_index[index].signature
        assert signature is not None
        exact = {h.indicator_id for h in hits.get(index, [])}
        for indicator_id in found:
            stored = signatures.get(indicator_id)
            if stored is None or indicator_id in exact:
                continue
            if signature.key_id and signature.key_id != stored[1]:
                continue  # signatures under different consortium keys are unrelated
            similarity = estimate_jaccard(signature.values, stored[2])
            if similarity >= threshold:
                hits[index].append(_Hit(indicator_id, similarity, 0))


def _result(item: MatchItem, hits: list[_Hit], summaries: dict[int, Summary]) -> dict[str, Any]:
    visible = [h for h in hits if h.indicator_id in summaries]
    visible = [h for h in visible if summaries[h.indicator_id].matchable]
    # ip: most specific prefix first; prompt: most similar first (exact = 1.0).
    visible.sort(key=lambda h: (h.position, -h.similarity, h.indicator_id))
    matches = [_render(item, h, summaries[h.indicator_id]) for h in visible]
    return {"index": item.index, "kind": item.kind, "matched": bool(matches), "matches": matches}


def _render(item: MatchItem, hit: _Hit, summary: Summary) -> dict[str, Any]:
    match: dict[str, Any] = {
        "indicator_id": summary.stix_id,
        "kind": summary.kind,
        "similarity": round(hit.similarity, 4),
        "reporter_count": summary.reporter_count,
        "reporters": summary.reporters,
        "first_seen": stix_timestamp(summary.first_seen),
        "last_seen": stix_timestamp(summary.last_seen),
        "confidence": summary.confidence,
        "score": summary.score,
        "tlp": summary.tlp,
        "campaigns": list(summary.campaigns),
        "disputed": summary.disputed,
        "sighting_count": summary.sighting_count,
        "valid_until": stix_timestamp(summary.valid_until) if summary.valid_until else None,
    }
    if item.kind == "ip":
        match["prefix_index"] = hit.position
    return match
