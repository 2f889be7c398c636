"""Canonical MessagePack: one byte form per value, and nothing else gets through."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import MalformedError
from ledger.formats import codec
from ledger.formats.codec import Limits, decode_value, encode_checked, encode_value
from tests.conftest import GOLDEN_DIR, load_json

REJECT = load_json(GOLDEN_DIR / "codec_reject.json")["cases"]
VALUE_CASES = [c for c in REJECT if c["decode_as"] == "value"]

# Canonical values: what the decoder gives back (maps in key order, arrays as lists).
scalars = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.booleans(),
    st.text(max_size=40),
    st.binary(max_size=40),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=6),
        st.dictionaries(st.text(max_size=8), inner, max_size=6).map(
            lambda d: dict(sorted(d.items()))
        ),
    ),
    max_leaves=30,
)


@pytest.mark.parametrize("case", VALUE_CASES, ids=[c["name"] for c in VALUE_CASES])
def test_golden_non_canonical_value_rejected(case: dict[str, Any]) -> None:
    with pytest.raises(MalformedError) as info:
        decode_value(bytes.fromhex(case["hex"]))
    assert info.value.category == "encoding"
    # The byte scanner, not the generic fallback, explains every golden case.
    assert info.value.code != "not-canonical"


@pytest.mark.parametrize(
    ("name", "code", "where"),
    [
        ("unsorted-nested", "keys-unsorted", "'counts'"),
        ("duplicate-key-same-value", "duplicate-key", "top level"),
        ("int-int16-for-uint16", "not-shortest", "'at'"),
        ("nil", "forbidden-type", "'buckets'"),
        ("trailing-bytes", "trailing-bytes", "byte 60"),
        ("invalid-utf8", "invalid-utf8", "'kind'"),
        ("int-key", "key-not-str", "top level"),
    ],
)
def test_rejection_names_what_and_where(name: str, code: str, where: str) -> None:
    case = next(c for c in VALUE_CASES if c["name"] == name)
    with pytest.raises(MalformedError) as info:
        decode_value(bytes.fromhex(case["hex"]))
    assert info.value.code == code
    assert where in str(info.value)


INT_EDGES = [
    (0, "00"),
    (127, "7f"),
    (128, "cc80"),
    (255, "ccff"),
    (256, "cd0100"),
    (65535, "cdffff"),
    (65536, "ce00010000"),
    (2**32 - 1, "ceffffffff"),
    (2**32, "cf0000000100000000"),
    (2**64 - 1, "cfffffffffffffffff"),
    (-1, "ff"),
    (-32, "e0"),
    (-33, "d0df"),
    (-128, "d080"),
    (-129, "d1ff7f"),
    (-32768, "d18000"),
    (-32769, "d2ffff7fff"),
    (-(2**31), "d280000000"),
    (-(2**31) - 1, "d3ffffffff7fffffff"),
    (-(2**63), "d38000000000000000"),
]


@pytest.mark.parametrize(("n", "hex_"), INT_EDGES)
def test_integers_take_their_shortest_form(n: int, hex_: str) -> None:
    assert encode_value(n).hex() == hex_
    assert decode_value(bytes.fromhex(hex_)) == n


@pytest.mark.parametrize(
    ("size", "header"),
    [(0, "a0"), (31, "bf"), (32, "d920"), (255, "d9ff"), (256, "da0100"), (65536, "db00010000")],
)
def test_str_headers_are_shortest(size: int, header: str) -> None:
    data = encode_value("x" * size)
    assert data.hex().startswith(header)
    assert decode_value(data, max_size=len(data)) == "x" * size


@pytest.mark.parametrize(
    ("value", "header"),
    [
        (b"", "c400"),
        (b"\0" * 256, "c50100"),
        (list(range(15)), "9f"),
        (list(range(16)), "dc0010"),
        ({f"k{i:02}": 0 for i in range(16)}, "de0010"),
    ],
)
def test_bin_array_map_headers_are_shortest(value: Any, header: str) -> None:
    data = encode_value(value)
    assert data.hex().startswith(header)
    assert decode_value(data) == value


def test_encode_sorts_keys_by_utf8_bytes() -> None:
    # 'LT' (0x4c) sorts before 'at' (0x61); 'LS' before 'LSC'; 'Z' before 'Ș' (U+0218).
    data = encode_value({"at": 1, "LT": 2, "LSC": 3, "LS": 4, "Ș": 5, "Z": 6})
    assert list(decode_value(data)) == ["LS", "LSC", "LT", "Z", "at", "Ș"]


def test_encode_sorts_nested_maps_inside_arrays() -> None:
    data = encode_value([{"b": 1, "a": {"d": 2, "c": 3}}])
    assert data == encode_value([{"a": {"c": 3, "d": 2}, "b": 1}])


@pytest.mark.parametrize("bad", [None, 1.5, {1: 2}, {"a": None}, [object()], float("nan")])
def test_encode_refuses_values_outside_the_canonical_set(bad: Any) -> None:
    with pytest.raises(TypeError):
        encode_value(bad)


@pytest.mark.parametrize("bad", [2**64, -(2**63) - 1, "\ud800"])
def test_encode_refuses_out_of_range_values(bad: Any) -> None:
    with pytest.raises(ValueError):
        encode_value(bad)


def test_encode_checked_refuses_huge_int_with_value_error() -> None:
    with pytest.raises(ValueError):
        encode_checked({"a": 2**64})


def test_tuples_encode_as_arrays() -> None:
    assert encode_value((1, "a")) == encode_value([1, "a"])


def test_value_over_size_limit_rejected() -> None:
    data = encode_value("x" * 100)
    with pytest.raises(MalformedError) as info:
        decode_value(data, max_size=50)
    assert info.value.code == "too-large"


def test_a_map_of_more_than_4096_items_within_the_entry_size_is_not_refused() -> None:
    # Issue 19: a private limit of 4,096 items made this implementation refuse logs that every
    # other one accepts; the 65,535 bytes of an entry are the only bound.
    value = {f"M-{i:05}": 1 for i in range(6000)}
    data = encode_value(value)
    assert len(data) < codec.MAX_VALUE_SIZE
    assert decode_value(data) == value


def test_container_over_item_limit_rejected() -> None:
    data = encode_value(list(range(20)))
    with pytest.raises(MalformedError) as info:
        decode_value(data, max_items=10)
    assert info.value.code == "too-many-items"


@pytest.mark.parametrize("depth", [9, 2000])
def test_nesting_over_depth_limit_rejected(depth: int) -> None:
    data = b"\x91" * depth + b"\x01"
    with pytest.raises(MalformedError) as info:
        decode_value(data)
    assert info.value.code == "too-deep"


def test_nesting_at_depth_limit_accepted() -> None:
    assert decode_value(b"\x91" * 8 + b"\x01") == [[[[[[[[1]]]]]]]]


def test_empty_ext8_rejected() -> None:
    with pytest.raises(MalformedError) as info:
        decode_value(bytes.fromhex("c70005"))
    assert info.value.code == "forbidden-type"


def test_bin_map_key_rejected_even_when_sorted() -> None:
    with pytest.raises(MalformedError) as info:
        decode_value(bytes.fromhex("81c40161" + "01"))
    assert info.value.code == "key-not-str"


def test_decode_refuses_str_input() -> None:
    with pytest.raises(TypeError):
        decode_value("81a16101")  # type: ignore[arg-type]


def test_decode_accepts_bytearray_and_memoryview() -> None:
    data = encode_value({"a": [1, b"x"]})
    assert decode_value(bytearray(data)) == {"a": [1, b"x"]}
    assert decode_value(memoryview(data)) == {"a": [1, b"x"]}


@settings(max_examples=300, deadline=None)
@given(values)
def test_canonical_values_round_trip_to_identical_bytes(value: Any) -> None:
    data = encode_value(value)
    decoded = decode_value(data, max_size=1 << 20)
    assert decoded == value
    assert encode_value(decoded) == data


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=64))
def test_arbitrary_bytes_raise_only_malformed_error(data: bytes) -> None:
    try:
        value = decode_value(data)
    except MalformedError:
        return
    assert encode_value(value) == data


LIMITS = Limits(max_size=codec.MAX_VALUE_SIZE, max_items=codec.MAX_ITEMS, max_depth=codec.MAX_DEPTH)


@settings(max_examples=400, deadline=None)
@given(values, st.data())
def test_fast_decoder_and_byte_scanner_agree_on_mutants(value: Any, data: st.DataObject) -> None:
    # The scanner is the oracle: the fast path accepts exactly what it finds nothing wrong in.
    good = encode_value(value)
    if len(good) > codec.MAX_VALUE_SIZE:
        return
    position = data.draw(st.integers(min_value=0, max_value=len(good)))
    action = data.draw(st.sampled_from(["flip", "insert", "delete"]))
    byte = data.draw(st.integers(min_value=0, max_value=255))
    if action == "flip" and position < len(good):
        mutant = good[:position] + bytes([byte]) + good[position + 1 :]
    elif action == "delete" and position < len(good):
        mutant = good[:position] + good[position + 1 :]
    else:
        mutant = good[:position] + bytes([byte]) + good[position:]
    explained = codec._explain(mutant, LIMITS)
    refused: MalformedError | None = None
    try:
        decode_value(mutant)
    except MalformedError as e:
        refused = e
    if refused is not None:
        assert explained is not None, f"scanner accepts what the decoder refused: {refused}"
    else:
        assert explained is None, f"decoder accepts what the scanner refused: {explained}"


# --- unpack_shortest: the records' fast path ---------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(values)
def test_unpack_shortest_gives_back_every_canonical_value(value: Any) -> None:
    data = encode_value(value)
    if len(data) <= codec.MAX_VALUE_SIZE:
        assert codec.unpack_shortest(data) == value


@settings(max_examples=300, deadline=None)
@given(values, st.data())
def test_unpack_shortest_accepts_a_mutant_only_as_its_exact_encoding(
    value: Any, data: st.DataObject
) -> None:
    good = encode_value(value)
    position = data.draw(st.integers(min_value=0, max_value=len(good)))
    mutant = good[:position] + bytes([data.draw(st.integers(0, 255))]) + good[position:]
    found = codec.unpack_shortest(mutant)
    if found is not None:
        assert encode_checked(found) == mutant


@pytest.mark.parametrize(
    "data",
    [
        b"\xcc\x05",  # 5 as uint8: a shorter form holds it
        b"\xd0\x05",  # non-negative in a signed form
        b"\x05\x06",  # trailing byte
        b"\x92\x01",  # truncated array
        b"\xc7\x01\x01\x00",  # ext type
        b"\xdc\x00\x01\x01",  # array16 of one item
        b"\x82\xa1a\x01\xa1a\x02",  # duplicate key: the map re-encodes shorter
    ],
    ids=["uint8", "int8", "trailing", "truncated", "ext", "array16", "duplicate"],
)
def test_unpack_shortest_refuses_what_is_not_the_exact_encoding(data: bytes) -> None:
    assert codec.unpack_shortest(data) is None
    with pytest.raises(MalformedError):
        decode_value(data)


def test_unpack_shortest_leaves_key_order_and_types_to_the_caller() -> None:
    unsorted = b"\x82\xa1b\x01\xa1a\x02"
    assert codec.unpack_shortest(unsorted) == {"b": 1, "a": 2}
    assert codec.unpack_shortest(b"\xc0") is None  # nil reads as a refusal: callers want maps
    assert codec.unpack_shortest(bytes(codec.MAX_VALUE_SIZE + 1)) is None
    # No private item limit: 5,000 items in 5,003 bytes is a value like any other.
    assert codec.unpack_shortest(b"\xdc" + (5000).to_bytes(2, "big") + b"\x01" * 5000) == [1] * 5000
