"""The auditor's fast record decoding: it accepts nothing the strict path refuses, and gives the
same record for everything it accepts (``record_if_canonical`` against
``record_from_value(decode_value(...))``), so the two can never disagree."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import MalformedError
from ledger.formats.codec import decode_value, encode_checked, encode_value
from ledger.formats.records import Record, decode_entry_envelope, encode_record, record_from_value
from ledger.formats.records.fast import _typed_turnout, record_if_canonical
from ledger.sources.published import PublishedDirSource
from tests.conftest import GOLDEN_DIR, load_json
from tests.test_records import records, reports, stations, turnouts

GOLDEN_BODIES = [
    bytes.fromhex(r["record_hex"])
    for r in load_json(GOLDEN_DIR / "records.json")["records"]
]


def _strict(body: bytes) -> Record | None:
    try:
        return record_from_value(decode_value(body))
    except MalformedError:
        return None


def _agrees(body: bytes) -> None:
    """The fast path gives the strict path's record, or leaves the decision to it."""
    fast = record_if_canonical(body)
    if fast is not None:
        assert fast == _strict(body)
        assert type(fast) is type(_strict(body))


def _valid_small_bodies() -> list[bytes]:
    source = PublishedDirSource(GOLDEN_DIR / "valid-small")
    size = int(source.read_checkpoint().split(b"\n")[1])
    return [decode_entry_envelope(data).body for data in source.iter_entries(0, size)]


def test_every_golden_station_turnout_and_report_takes_the_fast_path() -> None:
    bodies = GOLDEN_BODIES + _valid_small_bodies()
    for body in bodies:
        strict = _strict(body)
        assert strict is not None
        fast = record_if_canonical(body)
        if strict.KIND in ("station", "turnout", "report"):
            assert fast == strict
        else:
            assert fast is None  # the rare kinds go the strict way


@settings(max_examples=200, deadline=None)
@given(st.one_of(stations, turnouts, reports))
def test_generated_record_decodes_fast_to_the_same_record(record: Record) -> None:
    assert record_if_canonical(encode_record(record)) == record


@settings(max_examples=300, deadline=None)
@given(records)
def test_fast_path_agrees_with_the_strict_path_on_every_kind(record: Record) -> None:
    _agrees(encode_record(record))


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_mutated_golden_body_is_never_accepted_where_the_strict_path_refuses(
    data: st.DataObject,
) -> None:
    body = bytearray(data.draw(st.sampled_from(GOLDEN_BODIES)))
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        how = data.draw(st.sampled_from(["flip", "set", "insert", "delete"]))
        at = data.draw(st.integers(min_value=0, max_value=max(len(body) - 1, 0)))
        byte = data.draw(st.integers(min_value=0, max_value=255))
        if how == "flip" and body:
            body[at] ^= 1 << (byte % 8)
        elif how == "set" and body:
            body[at] = byte
        elif how == "insert":
            body.insert(at, byte)
        elif body:
            del body[at]
    _agrees(bytes(body))


def _turnout_value() -> dict[str, Any]:
    return {
        "at": 1, "buckets": {"F-18-24": 1, "M-18-24": 2},
        "counts": {"LP": 3, "LS": 0, "LT": 3, "UM": 0}, "kind": "turnout",
        "registered": {"permanent": 10}, "station": "AB-1",
    }


def _with(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    out = _turnout_value()
    target = out
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return out


# Values whose plain MessagePack re-encodes byte for byte, yet are not canonical records:
# only the field-by-field checks can refuse them.
NOT_CANONICAL = {
    "unsorted keys": dict(reversed(_turnout_value().items())),
    "unsorted buckets": _with(("buckets",), {"M-18-24": 2, "F-18-24": 1}),
    "unsorted registered": _with(("registered",), {"permanent": 10, "complementary": 1}),
    "nil buckets": _with(("buckets",), None),
    "nil complementary": _with(("registered", "complementary"), None),
    "float count": _with(("counts", "LP"), 3.0),
    "bool time": _with(("at",), True),
    "negative time": _with(("at",), -1),
    "bin bucket name": _with(("buckets",), {b"F-18-24": 1}),
    "turnout fields as a station": {**_with(("kind",), "station"), "id": "AB-1"},
    "unknown counter": _with(("counts", "XX"), 1),
    "kind of another layout": _with(("kind",), "report"),
}


def test_a_turnout_of_5000_buckets_under_the_entry_size_is_read_by_both_paths() -> None:
    # No private limit of 4,096 items: the fast and the strict decoder accept it alike.
    value = _with(("buckets",), {f"b{i:05}": 1 for i in range(5000)})
    body = encode_checked(value)
    strict = record_from_value(decode_value(body))
    assert record_if_canonical(body) == strict


@pytest.mark.parametrize("value", NOT_CANONICAL.values(), ids=NOT_CANONICAL.keys())
def test_non_canonical_record_that_re_encodes_identically_is_refused(value: Any) -> None:
    body = encode_checked(value)  # packs as given: no sorting, no checks
    assert record_if_canonical(body) is None
    with pytest.raises(MalformedError):
        record_from_value(decode_value(body))


def test_station_with_a_nil_optional_field_is_refused() -> None:
    value = {"county": "AB", "id": "AB-1", "kind": "station", "name": "x", "number": 1,
             "pubkey": bytes(32), "siruta": None}
    assert record_if_canonical(encode_checked(value)) is None
    del value["siruta"]
    assert record_if_canonical(encode_value(value)) is not None


def test_report_attachments_must_be_an_array_of_hashes() -> None:
    value = {"at": 1, "attachments": [bytes(32)], "category": "PRSD", "fields": {"a": 1},
             "kind": "report", "stage": "PROV", "station": "AB-1", "version": 1,
             "votes": {"X": 1}}
    assert record_if_canonical(encode_value(value)) is not None
    for bad in (bytes(32), [bytes(31)], None):
        value["attachments"] = bad
        assert record_if_canonical(encode_checked(value)) is None


@pytest.mark.parametrize("station", ["RR-1", "AB-01", "AB 1", "ALBA-1"])
def test_a_turnout_naming_a_station_outside_the_id_grammar_is_refused_on_both_paths(
    station: str,
) -> None:
    value = {"at": 1, "counts": {"LP": 0, "LS": 1, "LT": 1, "UM": 0}, "kind": "turnout",
             "registered": {"permanent": 5}, "station": station}
    body = encode_value(value)
    assert _strict(body) is None
    assert record_if_canonical(body) is None


# The typed (msgspec) path accepts a turnout only when its own encoding gives the same bytes:
# that is sound only if msgspec writes every integer, string and map header in the shortest
# form the canonical codec writes. These are the boundaries of each MessagePack family.
INT_BOUNDARIES = [0, 127, 128, 255, 256, 65_535, 65_536, 2**32 - 1, 2**32, 2**64 - 1]
STR_BOUNDARIES = [1, 31, 32, 255, 256, 65_535 - 200]
BUCKET_COUNTS = [1, 14, 15, 16, 17, 5_000]


@pytest.mark.parametrize("number", INT_BOUNDARIES)
def test_the_typed_path_reads_every_integer_width_as_the_codec_writes_it(number: int) -> None:
    value = _with(("counts", "LP"), number)
    value["at"] = number
    body = encode_value(value)
    assert record_if_canonical(body) == _strict(body) is not None
    assert _typed_turnout(body) == _strict(body)


@pytest.mark.parametrize("length", STR_BOUNDARIES)
def test_the_typed_path_reads_every_string_width_as_the_codec_writes_it(length: int) -> None:
    value = _with(("buckets",), {"F" * length: 1})
    body = encode_value(value)
    assert _typed_turnout(body) == _strict(body) is not None


@pytest.mark.parametrize("count", BUCKET_COUNTS)
def test_the_typed_path_reads_every_map_width_as_the_codec_writes_it(count: int) -> None:
    value = _with(("buckets",), {f"b{i:05}": i for i in range(count)})
    body = encode_value(value)
    assert _typed_turnout(body) == _strict(body) is not None


@pytest.mark.parametrize(
    "body",
    [
        bytes.fromhex("cd0080"),  # a header, not a map
        # the canonical turnout with `at` = 1 written as uint8 (0xcc 0x01), not a fixint
        encode_value(_turnout_value()).replace(b"\xa2at\x01", b"\xa2at\xcc\x01"),
        # ... and with its `counts` map header as map16 (0xde 0x00 0x04)
        encode_value(_turnout_value()).replace(b"\xa6counts\x84", b"\xa6counts\xde\x00\x04"),
    ],
    ids=["not a map", "long integer header", "long map header"],
)
def test_a_turnout_in_a_longer_form_than_canonical_is_refused_by_the_typed_path(
    body: bytes,
) -> None:
    assert _typed_turnout(body) is None
    assert record_if_canonical(body) is None
    assert _strict(body) is None


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_a_mutated_turnout_is_never_accepted_by_the_typed_path_where_the_strict_path_refuses(
    data: st.DataObject,
) -> None:
    body = bytearray(encode_value(_turnout_value()))
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        at = data.draw(st.integers(min_value=0, max_value=len(body) - 1))
        body[at] = data.draw(st.integers(min_value=0, max_value=255))
    typed = _typed_turnout(bytes(body))
    if typed is not None:
        assert typed == _strict(bytes(body))
