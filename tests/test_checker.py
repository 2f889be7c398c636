"""The shared entry checker: what it refuses, that refusing leaves it unchanged, its state file."""

from __future__ import annotations

from dataclasses import replace
from functools import cache
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.check.checker import EntryChecker
from ledger.check.rules import FINAL_LT_RULE
from ledger.core.hashing import leaf_hash
from ledger.errors import MalformedError
from ledger.formats.codec import decode_value, encode_value
from ledger.formats.entries import envelope_parts
from ledger.formats.keys import verifier_key_for
from ledger.formats.records import Entry, Turnout, decode_entry_record, encode_entry, sign_record
from ledger.formats.signing import Signer, is_valid_signature
from ledger.sources.published import PublishedDirSource
from tests.conftest import GOLDEN_DIR
from tests.verify_support import EXPECTED, KEYS, PUBLISHER, VALID, VALID_SMALL

ORIGIN = PUBLISHER.name


@cache
def entries(path: str = str(VALID_SMALL)) -> tuple[bytes, ...]:
    source = PublishedDirSource(path)
    size = int(source.read_checkpoint().split(b"\n")[1])
    return tuple(source.iter_entries(0, size))


@cache
def states() -> tuple[dict[str, Any], ...]:
    """The checker's state after each prefix of valid-small (index i: after entries 0..i-1)."""
    checker = new_checker()
    out = [checker.to_value()]
    for index, data in enumerate(entries()):
        assert checker.check(index, data).ok
        out.append(checker.to_value())
    return tuple(out)


def new_checker() -> EntryChecker:
    return EntryChecker(origin=ORIGIN, publisher=PUBLISHER)


def checker_after(size: int) -> EntryChecker:
    return EntryChecker.from_value(states()[size], PUBLISHER)


def run(datas: tuple[bytes, ...], checker: EntryChecker | None = None) -> EntryChecker:
    checker = checker or new_checker()
    for data in datas:
        result = checker.check(checker.size, data)
        assert result.ok, result.errors
    return checker


def test_golden_log_is_accepted_and_its_root_recomputed() -> None:
    checker = run(entries(str(VALID)))
    assert checker.root().hex() == EXPECTED["root_hex"]
    assert checker.last_block is not None
    assert (checker.last_block.height, checker.last_block.index) == (
        EXPECTED["blocks"] - 1, EXPECTED["block_indices"][-1])
    assert checker.registry.stations == EXPECTED["stations"]


def test_end_of_log_warning_names_the_report_it_concerns() -> None:
    finish = run(entries(str(VALID))).finish()
    got = [(w.where.index, w.where.station, w.code) for w in finish]
    [want] = [w for w in EXPECTED["warnings"] if w["rule"] == FINAL_LT_RULE]
    assert got == [(want["index"], "B-5", "TO-LT-PV-B")]


# --- duplicates (step 1) -----------------------------------------------------------------------


@pytest.mark.parametrize("index", range(68))
def test_no_byte_identical_copy_of_an_entry_is_accepted(index: int) -> None:
    datas = entries()
    for size in (index + 1, len(datas)):  # right after the entry, and at the end of the log
        checked = checker_after(size).check(size, datas[index])
        assert checked.errors, f"a copy of entry {index} at {size} was accepted"


def test_a_turnout_copy_on_a_plateau_is_a_duplicate_error() -> None:
    datas = entries()
    kinds = [decode_entry_record(d)[1].KIND for d in datas]
    last_turnout = max(i for i, kind in enumerate(kinds) if kind == "turnout")
    checked = checker_after(len(datas)).check(len(datas), datas[last_turnout])
    assert [e.code for e in checked.errors] == ["duplicate-entry"]


# --- refusing leaves the checker as it was ---------------------------------------------------


def _flip(data: bytes, bit: int) -> bytes:
    flipped = bytearray(data)
    flipped[bit // 8] ^= 1 << (bit % 8)
    return bytes(flipped)


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_any_bit_flip_of_any_entry_is_refused(data: st.DataObject) -> None:
    datas = entries()
    index = data.draw(st.integers(0, len(datas) - 1), label="index")
    bit = data.draw(st.integers(0, len(datas[index]) * 8 - 1), label="bit")
    checker = checker_after(index)
    checked = checker.check(index, _flip(datas[index], bit))
    assert checked.errors
    assert checker.to_value() == states()[index]  # a publisher refuses it: nothing changed


def test_publisher_mode_keeps_the_tree_and_auditor_mode_grows_it() -> None:
    datas = entries()
    bad = _flip(datas[12], 8 * (len(datas[12]) - 10))  # inside the signature
    publisher = checker_after(12)
    assert publisher.check(12, bad).errors
    assert publisher.size == 12
    auditor = checker_after(12)
    assert auditor.check(12, bad, in_log=True).errors
    assert auditor.size == 13
    assert auditor.root() != checker_after(13).root()


def test_auditor_chains_the_next_block_to_a_faulty_one() -> None:
    source = PublishedDirSource(GOLDEN_DIR / "reject/block-height-wrong")
    checker = new_checker()
    errors = []
    for index, data in enumerate(source.iter_entries(0, 68)):
        errors += checker.check(index, data, in_log=True).errors
    assert [(e.code, e.where.index, e.where.block) for e in errors] == [("block-height", 46, 2)]


def test_entries_must_come_in_order() -> None:
    with pytest.raises(ValueError, match="out of order"):
        new_checker().check(1, entries()[0])


def test_entry_over_the_size_limit_is_an_encoding_error() -> None:
    checked = new_checker().check(0, b"\x80" * 65_536)
    assert [(e.category, e.code) for e in checked.errors] == [("encoding", "entry-too-large")]


def test_publisher_key_must_be_named_after_the_origin() -> None:
    with pytest.raises(ValueError, match="origin"):
        EntryChecker(origin="prezenta.example.ro/other", publisher=PUBLISHER)


# --- batch signatures ------------------------------------------------------------------------


def test_signature_keys_found_ahead_of_checking_verify_every_entry() -> None:
    checker = new_checker()
    datas = entries(str(VALID))
    keys = checker.signature_keys(datas)  # station keys registered in the same batch
    verdicts = [key is not None and is_valid_signature(key, checker.message_prefix + body, sig)
                for key, (body, _key, sig) in zip(keys, map(envelope_parts_of, datas),
                                                  strict=True)]
    assert all(verdicts)
    for index, (data, ok) in enumerate(zip(datas, verdicts, strict=True)):
        assert checker.check(index, data, signature_ok=ok).ok
    assert checker.root().hex() == EXPECTED["root_hex"]


def test_a_failed_batch_signature_is_a_signature_error() -> None:
    checked = checker_after(12).check(12, entries()[12], signature_ok=False)
    assert [(e.category, e.code, e.where.index) for e in checked.errors] == [
        ("signature", "bad-signature", 12)
    ]


def test_signature_key_of_an_unknown_signer_is_none() -> None:
    stranger = Signer(bytes(range(32)))
    body = decode_entry_record(entries()[12])[0].body
    entry = Entry(body=body, key=stranger.key_id, sig=bytes(64))
    assert new_checker().signature_keys([encode_entry(entry), b"not an entry"]) == [None, None]


def envelope_parts_of(data: bytes) -> tuple[bytes, bytes, bytes]:
    """(body, key id, signature) of a canonical entry."""
    parts = envelope_parts(data)
    assert parts is not None
    return parts


# --- the state file --------------------------------------------------------------------------


def test_state_value_is_canonical_and_round_trips() -> None:
    value = states()[-1]
    data = encode_value(value)
    assert decode_value(data, max_items=1 << 20) == value
    assert EntryChecker.from_value(value, PUBLISHER).to_value() == value


def test_a_restored_checker_continues_exactly_like_the_original() -> None:
    datas = entries()
    for size in (0, 1, 10, 30, 47):
        checker = run(datas[size:], checker_after(size))
        assert checker.to_value() == states()[-1]


@pytest.mark.parametrize(
    "damage",
    [
        lambda v: v.update(v=1),
        lambda v: v.update(extra=1),
        lambda v: v["tree"].update(size=v["tree"]["size"] + 2),
        lambda v: v["tree"]["hashes"].append(bytes(32)),
        lambda v: v.pop("rules"),
        lambda v: v["last_block"].update(leaf_hash=b"short"),
        lambda v: v["turnout_plateaus"].update({"AB-1": {"digest": b"", "hashes": []}}),
        lambda v: v["rules"]["reports"].update({"AB-1": {"PRSD": -1}}),
    ],
)
def test_damaged_state_is_refused(damage: Any) -> None:
    value = decode_value(encode_value(states()[-1]), max_items=1 << 20)
    damage(value)
    with pytest.raises(MalformedError):
        EntryChecker.from_value(value, PUBLISHER)


def test_state_of_another_publisher_is_refused() -> None:
    other = verifier_key_for(ORIGIN, Signer(bytes(32)).public_key)
    with pytest.raises(MalformedError):
        EntryChecker.from_value(states()[-1], other)


def test_leaf_hashes_are_those_of_the_entry_bytes() -> None:
    checker = new_checker()
    for index, data in enumerate(entries()[:5]):
        assert checker.check(index, data).leaf_hash == leaf_hash(data)


# --- turnout plateaus across a state file ------------------------------------------------------


def _repeat_of_last_turnout(checker: EntryChecker, later_by: int) -> bytes:
    """A new turnout entry of the log's last turnout station, with the same counters."""
    datas = entries()
    last = max(i for i, d in enumerate(datas) if decode_entry_record(d)[1].KIND == "turnout")
    turnout = decode_entry_record(datas[last])[1]
    assert type(turnout) is Turnout
    public = checker.registry.station_key(turnout.station)
    seed = next(bytes.fromhex(s["seed_hex"]) for s in KEYS["stations"]
                if s["public_key_hex"] == (public or b"").hex())
    again = replace(turnout, at=turnout.at + later_by)
    return encode_entry(sign_record(Signer(seed), ORIGIN, again))


def test_restored_plateau_takes_a_same_counter_turnout_and_refuses_its_copy() -> None:
    size = len(entries())
    live, restored = run(entries()), checker_after(size)
    restored_value = restored.to_value()
    first, second = _repeat_of_last_turnout(live, 1), _repeat_of_last_turnout(live, 2)
    for checker in (live, restored):
        assert checker.check(size, first).ok
        assert checker.check(size + 1, second).ok
        assert [e.code for e in checker.check(size + 2, first).errors] == ["duplicate-entry"]
    assert live.to_value() == restored.to_value() != restored_value
    station = decode_entry_record(first)[1].station  # type: ignore[union-attr]
    assert len(live.to_value()["turnout_plateaus"][station]["hashes"]) >= 3
