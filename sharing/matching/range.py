"""k-anonymity range lookup, after Have I Been Pwned's range API.

A member who does not want to reveal even the hash it holds sends the first 5 hex digits of the
hash part (20 bits; about 10 stored indicators per bucket at 10 million) and compares the
returned suffixes locally. The answer lists, per consortium key id, the remaining 59 hex digits
of every indicator under that prefix that the caller may see and that is active (a visible
report not revoked and not expired), padded with random decoy suffixes to at least
:data:`RANGE_MIN_SUFFIXES` per key id and sorted, so neither the size nor the order of the
answer says how many real indicators the bucket holds. Decoys are 59 random hex digits: a
client's real suffix collides with one with probability 2^-236.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field

from sqlalchemy import exists, or_, select

from sharing import audit
from sharing.accounts.principal import Principal
from sharing.corroboration import decrypt_value
from sharing.crypto.blind_index import prefix_range
from sharing.errors import InvalidInput
from sharing.models.base import utcnow
from sharing.models.consortium import ConsortiumKeyId
from sharing.models.indicators import Indicator, Report
from sharing.runtime import Runtime
from sharing.visibility import Viewer, audience_filter

PREFIX_LENGTH = 5
SUFFIX_LENGTH = 64 - PREFIX_LENGTH
#: Every key id's list holds at least this many suffixes (real ones plus decoys).
RANGE_MIN_SUFFIXES = 128
_PREFIX_RE = re.compile(r"[0-9a-fA-F]{5}")


@dataclass
class RangeAnswer:
    prefix: str
    suffixes: dict[str, list[str]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "prefix": self.prefix,
            "min_suffixes": RANGE_MIN_SUFFIXES,
            "keys": [{"key_id": k, "suffixes": v} for k, v in sorted(self.suffixes.items())],
        }


def parse_prefix(prefix: str) -> str:
    if not _PREFIX_RE.fullmatch(prefix):
        raise InvalidInput(
            f"prefix must be the first {PREFIX_LENGTH} hex digits of the hash part "
            "(after hmac-sha256:<key_id>:)"
        )
    return prefix.lower()


def range_lookup(rt: Runtime, principal: Principal, prefix: str) -> RangeAnswer:
    principal.require_scope("match")
    prefix = parse_prefix(prefix)
    viewer = Viewer.of(principal, rt.cipher)
    now = utcnow()
    visible_active = exists().where(
        Report.indicator_id == Indicator.id,
        Report.revoked.is_(False),
        or_(Report.valid_until.is_(None), Report.valid_until > now),
        audience_filter(viewer, Report.group_id, Report.reporter_bi),
    )
    answer = RangeAnswer(prefix)
    with rt.db.transaction() as session:
        for key_id in session.scalars(
            select(ConsortiumKeyId.key_id).where(ConsortiumKeyId.retired_at.is_(None))
        ):
            answer.suffixes[key_id] = []
        low, high = prefix_range(prefix)
        in_bucket = [Indicator.blind_index >= low]
        if high is not None:
            in_bucket.append(Indicator.blind_index < high)
        rows = session.execute(
            select(Indicator.stix_id, Indicator.value_ct).where(*in_bucket, visible_active)
        ).all()
    for stix_id, value_ct in rows:
        key_id, digest = decrypt_value(rt.cipher, stix_id, value_ct).split(":")[1:]
        answer.suffixes.setdefault(key_id, []).append(digest[PREFIX_LENGTH:])
    for suffixes in answer.suffixes.values():
        while len(suffixes) < RANGE_MIN_SUFFIXES:
            suffixes.append(secrets.token_hex(30)[:SUFFIX_LENGTH])
        suffixes.sort()
    with rt.db.transaction(write=True) as session:
        # Who asked and when; never the prefix (20 bits of the value asked about).
        audit.record(session, principal.actor, "match.range", f"org:{principal.org_id}")
    return answer
