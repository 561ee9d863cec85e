"""Are canonical indicator ids valid UUIDv4s that sort in the order they were minted?"""

from __future__ import annotations

import uuid

from sharing.ids import new_time_ordered_uuid4


def test_a_canonical_id_is_an_rfc_uuid_of_version_4() -> None:
    value = uuid.UUID(new_time_ordered_uuid4())
    assert value.version == 4
    assert value.variant == uuid.RFC_4122


def test_the_first_48_bits_are_the_millisecond_clock() -> None:
    assert uuid.UUID(new_time_ordered_uuid4(now_ms=0x0123_4567_89AB)).hex[:12] == "0123456789ab"


def test_ids_minted_a_millisecond_later_sort_after_earlier_ones_as_text() -> None:
    earlier = [new_time_ordered_uuid4(now_ms=1_700_000_000_000) for _ in range(1000)]
    later = [new_time_ordered_uuid4(now_ms=1_700_000_000_001) for _ in range(1000)]
    assert max(earlier) < min(later)


def test_ids_minted_in_the_same_millisecond_still_differ() -> None:
    ids = {new_time_ordered_uuid4(now_ms=1_700_000_000_000) for _ in range(100_000)}
    assert len(ids) == 100_000
