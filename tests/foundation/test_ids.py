"""Are canonical indicator ids valid UUIDv4s that sort in the order they were minted?"""

from __future__ import annotations

import uuid

from sharing.ids import new_time_ordered_uuid4, new_time_ordered_uuid4s


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


def test_ids_minted_as_a_batch_are_version_4_uuids_led_by_the_clock() -> None:
    ids = new_time_ordered_uuid4s(5_000, now_ms=0x0123_4567_89AB)
    parsed = [uuid.UUID(value) for value in ids]
    assert all(v.version == 4 and v.variant == uuid.RFC_4122 for v in parsed)
    assert {v.hex[:12] for v in parsed} == {"0123456789ab"}
    assert all(str(v) == value for v, value in zip(parsed, ids, strict=True))  # canonical text


def test_a_batch_of_ids_has_no_repeats_and_every_variant_digit() -> None:
    ids = new_time_ordered_uuid4s(100_000, now_ms=1_700_000_000_000)
    assert len(set(ids)) == 100_000
    assert {value[19] for value in ids} == set("89ab")
