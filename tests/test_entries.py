"""The entry envelope's fast path: ``envelope_parts`` gives the parts exactly when the strict
decoder accepts the entry, and the parts it decodes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import MalformedError
from ledger.formats.entries import MAX_ENTRY_SIZE, Entry, encode_entry, envelope_parts
from ledger.formats.records import decode_entry_envelope
from tests.conftest import GOLDEN_DIR, load_json

GOLDEN = [bytes.fromhex(r["entry_hex"]) for r in load_json(GOLDEN_DIR / "records.json")["records"]]


def _strict(data: bytes) -> tuple[bytes, bytes, bytes] | None:
    try:
        entry = decode_entry_envelope(data)
    except MalformedError:
        return None
    return entry.body, entry.key, entry.sig


def test_golden_entries_split_into_their_parts() -> None:
    for data in GOLDEN:
        assert envelope_parts(data) == _strict(data)
        assert envelope_parts(data) is not None


@settings(max_examples=100, deadline=None)
@given(st.sampled_from([0, 1, 200, 255, 256, 300, 65_000, MAX_ENTRY_SIZE]))
def test_bodies_of_every_header_size_split_back(size: int) -> None:
    body = bytes([size % 251]) * size
    entry = Entry(body=body, key=bytes(range(32)), sig=bytes(range(64)))
    try:
        data = encode_entry(entry)
    except MalformedError:
        return  # over the entry size limit
    assert envelope_parts(data) == (entry.body, entry.key, entry.sig) == _strict(data)


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_mutated_entry_splits_only_where_the_strict_decoder_accepts_it(
    data: st.DataObject,
) -> None:
    entry = bytearray(data.draw(st.sampled_from(GOLDEN)))
    at = data.draw(st.integers(min_value=0, max_value=len(entry) - 1))
    how = data.draw(st.sampled_from(["set", "insert", "delete"]))
    byte = data.draw(st.integers(min_value=0, max_value=255))
    if how == "set":
        entry[at] = byte
    elif how == "insert":
        entry.insert(at, byte)
    else:
        del entry[at]
    assert envelope_parts(bytes(entry)) == _strict(bytes(entry))


def test_entry_over_the_size_limit_has_no_parts() -> None:
    assert envelope_parts(bytes(MAX_ENTRY_SIZE + 1)) is None
