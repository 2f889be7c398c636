"""The station key registry: every way a key may not sign a record, and its state file."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from ledger.check.registry import CURRENT, REPLACED, REVOKED, KeyRegistry
from ledger.errors import MalformedError, SignatureError, VerificationError
from ledger.formats.codec import decode_value, encode_value
from ledger.formats.records import (
    Block,
    Category,
    Election,
    Record,
    Registered,
    Report,
    Revoke,
    Station,
    Turnout,
    decode_entry_record,
    verify_entry_signature,
)
from ledger.formats.signing import Signer
from tests.conftest import GOLDEN_DIR, load_json

PUBLISHER = Signer(bytes([1]) * 32)
KEY_A1 = Signer(bytes([2]) * 32)
KEY_A2 = Signer(bytes([3]) * 32)
KEY_B1 = Signer(bytes([4]) * 32)
STRANGER = Signer(bytes([5]) * 32)

ELECTION = Election(
    name="test",
    date="2025-05-18",
    tz="Europe/Bucharest",
    categories={"PRSD": Category(rules="presidential", competitors=("A", "B"))},
)


def station(sid: str, signer: Signer) -> Station:
    return Station(id=sid, county="ALBA", number=1, name=sid, pubkey=signer.public_key)


def turnout(sid: str) -> Turnout:
    return Turnout(
        station=sid,
        at=1,
        registered=Registered(permanent=10),
        counts={"LP": 1, "LS": 0, "LT": 1, "UM": 0},
    )


def report(sid: str) -> Report:
    return Report(
        station=sid,
        category="PRSD",
        version=1,
        stage="PROV",
        at=1,
        fields={"a": 1},
        votes={"A": 1},
    )


def revoke(signer: Signer) -> Revoke:
    return Revoke(key=signer.key_id, reason="lost tablet")


BLOCK = Block(height=0, prev=bytes(32), first=0, count=3, time=1)


def accept(registry: KeyRegistry, signer: Signer, record: Record) -> bytes:
    public_key = registry.check(signer.key_id, record)
    registry.apply(record)
    return public_key


@pytest.fixture
def registry() -> KeyRegistry:
    """A registry with the election, AB-1 on KEY_A1 and B-1 on KEY_B1."""
    reg = KeyRegistry(PUBLISHER.public_key)
    accept(reg, PUBLISHER, ELECTION)
    accept(reg, PUBLISHER, station("AB-1", KEY_A1))
    accept(reg, PUBLISHER, station("B-1", KEY_B1))
    return reg


def refused(registry: KeyRegistry, signer: Signer, record: Record) -> SignatureError:
    with pytest.raises(SignatureError) as info:
        registry.check(signer.key_id, record)
    return info.value


def test_station_signs_its_own_turnout_and_report(registry: KeyRegistry) -> None:
    assert registry.check(KEY_A1.key_id, turnout("AB-1")) == KEY_A1.public_key
    assert registry.check(KEY_A1.key_id, report("AB-1")) == KEY_A1.public_key


def test_publisher_signs_its_kinds_with_its_key(registry: KeyRegistry) -> None:
    for record in (station("CJ-1", STRANGER), revoke(KEY_B1), BLOCK):
        assert registry.check(PUBLISHER.key_id, record) == PUBLISHER.public_key


def test_turnout_signed_by_unregistered_key_rejected(registry: KeyRegistry) -> None:
    error = refused(registry, STRANGER, turnout("AB-1"))
    assert (error.category, error.code) == ("keys", "key-unregistered")
    assert (error.where.station, error.where.kind) == ("AB-1", "turnout")


def test_turnout_signed_by_publisher_for_a_registered_station_accepted(
    registry: KeyRegistry,
) -> None:
    assert accept(registry, PUBLISHER, turnout("AB-1")) == PUBLISHER.public_key


def test_publisher_turnout_for_an_unregistered_station_rejected(registry: KeyRegistry) -> None:
    error = refused(registry, PUBLISHER, turnout("AB-99"))
    assert (error.category, error.code) == ("keys", "station-unregistered")


def test_station_signing_a_correction_to_lower_its_counters_is_refused(
    registry: KeyRegistry,
) -> None:
    # Only the publisher signs a correction: a station cannot lower its own counters.
    record = replace(turnout("AB-1"), correction="typo")
    error = refused(registry, KEY_A1, record)
    assert (error.category, error.code) == ("keys", "correction-by-station")
    assert accept(registry, PUBLISHER, record) == PUBLISHER.public_key


@pytest.mark.parametrize("weak", [
    bytes(32),  # y = 0: a point of order 4
    b"\x01" + bytes(31),  # the identity: a signature by it verifies on every message
    bytes.fromhex("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),  # order 2
    bytes.fromhex("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),  # y = p + 1
], ids=["y0", "identity", "order-2", "non-canonical"])
def test_registering_a_small_order_or_non_canonical_station_key_is_refused(
    registry: KeyRegistry, weak: bytes,
) -> None:
    record = replace(station("CJ-1", STRANGER), pubkey=weak)
    error = refused(registry, PUBLISHER, record)
    assert (error.category, error.code) == ("keys", "key-weak")


def test_a_station_key_is_checked_for_prime_order_once_per_record_not_per_pass(
    registry: KeyRegistry, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The point check costs as much as a signature check: check() then apply() run it once.
    import ledger.check.registry as module

    calls: list[bytes] = []
    real = module.is_prime_order_key
    monkeypatch.setattr(module, "is_prime_order_key", lambda k: calls.append(k) or real(k))
    accept(registry, PUBLISHER, station("CJ-1", STRANGER))
    assert calls == [STRANGER.public_key]


def test_a_weak_key_right_after_a_checked_one_is_still_refused(registry: KeyRegistry) -> None:
    accept(registry, PUBLISHER, station("CJ-1", STRANGER))
    record = replace(station("CJ-2", STRANGER), pubkey=b"\x01" + bytes(31))
    error = refused(registry, PUBLISHER, record)
    assert (error.category, error.code) == ("keys", "key-weak")


@pytest.mark.parametrize("make", [turnout, report])
def test_record_naming_another_station_rejected(registry: KeyRegistry, make: Any) -> None:
    error = refused(registry, KEY_B1, make("AB-1"))
    assert (error.category, error.code) == ("keys", "wrong-station")


def test_turnout_signed_after_revoke_rejected(registry: KeyRegistry) -> None:
    accept(registry, PUBLISHER, revoke(KEY_A1))
    error = refused(registry, KEY_A1, turnout("AB-1"))
    assert (error.category, error.code) == ("keys", "key-revoked")
    assert registry.station_key("AB-1") is None


def test_turnout_signed_with_replaced_key_rejected(registry: KeyRegistry) -> None:
    accept(registry, PUBLISHER, station("AB-1", KEY_A2))
    error = refused(registry, KEY_A1, turnout("AB-1"))
    assert (error.category, error.code) == ("keys", "key-replaced")
    assert registry.check(KEY_A2.key_id, turnout("AB-1")) == KEY_A2.public_key


def test_station_registered_again_after_revoke_signs_with_new_key(registry: KeyRegistry) -> None:
    accept(registry, PUBLISHER, revoke(KEY_A1))
    accept(registry, PUBLISHER, station("AB-1", KEY_A2))
    assert registry.station_key("AB-1") == KEY_A2.public_key
    assert refused(registry, KEY_A1, turnout("AB-1")).code == "key-revoked"


def test_publisher_report_for_registered_station_accepted(registry: KeyRegistry) -> None:
    assert registry.check(PUBLISHER.key_id, report("B-1")) == PUBLISHER.public_key
    accept(registry, PUBLISHER, revoke(KEY_B1))
    # A revoke retires the key, not the station: published data may still be published.
    assert registry.check(PUBLISHER.key_id, report("B-1")) == PUBLISHER.public_key


def test_publisher_report_for_unregistered_station_rejected(registry: KeyRegistry) -> None:
    error = refused(registry, PUBLISHER, report("AB-99"))
    assert (error.category, error.code) == ("keys", "station-unregistered")


@pytest.mark.parametrize("signer", [KEY_A1, STRANGER])
@pytest.mark.parametrize(
    "record", [ELECTION, station("CJ-1", STRANGER), revoke(KEY_B1), BLOCK], ids=lambda r: r.KIND
)
def test_publisher_kind_signed_by_another_key_rejected(
    registry: KeyRegistry, signer: Signer, record: Record
) -> None:
    if record is ELECTION:
        registry = KeyRegistry(PUBLISHER.public_key)
    error = refused(registry, signer, record)
    assert (error.category, error.code) == ("signature", "not-publisher")


def test_signer_checked_before_what_the_record_does(registry: KeyRegistry) -> None:
    # A station record signed by a station is refused for its signer, whatever key it names.
    error = refused(registry, KEY_B1, station("CJ-1", KEY_A1))
    assert (error.category, error.code) == ("signature", "not-publisher")


def test_two_stations_sharing_a_key_rejected(registry: KeyRegistry) -> None:
    error = refused(registry, PUBLISHER, station("CJ-1", KEY_A1))
    assert (error.category, error.code) == ("keys", "key-shared")


@pytest.mark.parametrize("retire", ["replace", "revoke"])
def test_key_retired_by_one_station_never_moves_to_another(
    registry: KeyRegistry, retire: str
) -> None:
    accept(registry, PUBLISHER, station("AB-1", KEY_A2) if retire == "replace" else revoke(KEY_A1))
    assert refused(registry, PUBLISHER, station("CJ-1", KEY_A1)).code == "key-shared"


@pytest.mark.parametrize("retire", ["replace", "revoke"])
def test_station_registering_its_own_retired_key_again_rejected(
    registry: KeyRegistry, retire: str
) -> None:
    if retire == "replace":
        accept(registry, PUBLISHER, station("AB-1", KEY_A2))
    else:
        accept(registry, PUBLISHER, revoke(KEY_A1))
    assert refused(registry, PUBLISHER, station("AB-1", KEY_A1)).code == "key-reused"


def test_station_record_restating_its_current_key_accepted(registry: KeyRegistry) -> None:
    accept(registry, PUBLISHER, station("AB-1", KEY_A1))
    assert registry.check(KEY_A1.key_id, turnout("AB-1")) == KEY_A1.public_key


def test_publisher_key_as_station_key_rejected(registry: KeyRegistry) -> None:
    error = refused(registry, PUBLISHER, station("CJ-1", PUBLISHER))
    assert (error.category, error.code) == ("keys", "publisher-key-as-station")


@pytest.mark.parametrize("signer", [STRANGER, PUBLISHER])
def test_revoke_of_unregistered_key_rejected(registry: KeyRegistry, signer: Signer) -> None:
    error = refused(registry, PUBLISHER, revoke(signer))
    assert (error.category, error.code) == ("keys", "revoke-unregistered")


def test_revoke_of_revoked_key_rejected(registry: KeyRegistry) -> None:
    accept(registry, PUBLISHER, revoke(KEY_A1))
    assert refused(registry, PUBLISHER, revoke(KEY_A1)).code == "key-already-revoked"


def test_revoke_of_replaced_key_accepted(registry: KeyRegistry) -> None:
    accept(registry, PUBLISHER, station("AB-1", KEY_A2))
    accept(registry, PUBLISHER, revoke(KEY_A1))
    owner = registry.signer_for(KEY_A1.key_id)
    assert owner is not None
    assert owner.status == REVOKED
    assert registry.station_key("AB-1") == KEY_A2.public_key


def test_second_election_record_rejected(registry: KeyRegistry) -> None:
    error = refused(registry, PUBLISHER, ELECTION)
    assert (error.category, error.code) == ("keys", "election-repeated")


@pytest.mark.parametrize("record", [station("AB-1", KEY_A1), BLOCK], ids=lambda r: r.KIND)
def test_record_before_the_election_record_rejected(record: Record) -> None:
    error = refused(KeyRegistry(PUBLISHER.public_key), PUBLISHER, record)
    assert error.code == "election-not-first"


def test_check_changes_nothing(registry: KeyRegistry) -> None:
    before = registry.to_value()
    registry.check(PUBLISHER.key_id, station("AB-1", KEY_A2))
    registry.check(PUBLISHER.key_id, revoke(KEY_B1))
    assert registry.to_value() == before


def test_apply_refuses_invalid_record_and_changes_nothing(registry: KeyRegistry) -> None:
    before = registry.to_value()
    with pytest.raises(SignatureError):
        registry.apply(station("CJ-1", KEY_A1))
    with pytest.raises(SignatureError):
        registry.apply(revoke(STRANGER))
    assert registry.to_value() == before


def test_queries(registry: KeyRegistry) -> None:
    accept(registry, PUBLISHER, station("AB-1", KEY_A2))
    old, new = registry.signer_for(KEY_A1.key_id), registry.signer_for(KEY_A2.key_id)
    assert old is not None
    assert new is not None
    assert (old.station, old.status, old.current) == ("AB-1", REPLACED, False)
    assert (new.station, new.status, new.current) == ("AB-1", CURRENT, True)
    assert registry.signer_for(PUBLISHER.key_id) is None
    assert registry.is_registered("AB-1")
    assert not registry.is_registered("CJ-1")
    assert registry.stations == 2


def test_publisher_key_must_be_32_bytes() -> None:
    with pytest.raises(ValueError):
        KeyRegistry(bytes(31))


# --- the state file ------------------------------------------------------------------------


def test_state_round_trips_through_canonical_bytes(registry: KeyRegistry) -> None:
    accept(registry, PUBLISHER, station("AB-1", KEY_A2))
    accept(registry, PUBLISHER, revoke(KEY_B1))
    data = encode_value(registry.to_value())
    restored = KeyRegistry.from_value(decode_value(data), PUBLISHER.public_key)
    assert encode_value(restored.to_value()) == data
    assert refused(restored, KEY_A1, turnout("AB-1")).code == "key-replaced"
    assert refused(restored, KEY_B1, turnout("B-1")).code == "key-revoked"
    assert restored.check(KEY_A2.key_id, turnout("AB-1")) == KEY_A2.public_key
    assert restored.is_registered("B-1")
    assert refused(restored, PUBLISHER, ELECTION).code == "election-repeated"


def _key(signer: Signer, sid: str = "AB-1", status: str = CURRENT) -> dict[str, Any]:
    return {"pubkey": signer.public_key, "station": sid, "status": status}


BAD_STATES = {
    "not-a-map": [],
    "missing-keys": {"election": True, "publisher": PUBLISHER.public_key},
    "another-publisher": {"election": True, "keys": [], "publisher": STRANGER.public_key},
    "election-int": {"election": 1, "keys": [], "publisher": PUBLISHER.public_key},
    "key-twice": {
        "election": True,
        "keys": [_key(KEY_A1), _key(KEY_A1, "B-1")],
        "publisher": PUBLISHER.public_key,
    },
    "two-current-keys": {
        "election": True,
        "keys": [_key(KEY_A1), _key(KEY_A2)],
        "publisher": PUBLISHER.public_key,
    },
    "unknown-status": {
        "election": True,
        "keys": [_key(KEY_A1, status="lost")],
        "publisher": PUBLISHER.public_key,
    },
    "publisher-key-listed": {
        "election": True,
        "keys": [_key(PUBLISHER)],
        "publisher": PUBLISHER.public_key,
    },
    "short-pubkey": {
        "election": True,
        "keys": [{"pubkey": bytes(31), "station": "AB-1", "status": CURRENT}],
        "publisher": PUBLISHER.public_key,
    },
    "key-extra-field": {
        "election": True,
        "keys": [_key(KEY_A1) | {"note": "x"}],
        "publisher": PUBLISHER.public_key,
    },
}


@pytest.mark.parametrize("value", BAD_STATES.values(), ids=BAD_STATES.keys())
def test_corrupt_or_foreign_state_rejected(value: Any) -> None:
    with pytest.raises(MalformedError):
        KeyRegistry.from_value(value, PUBLISHER.public_key)


# --- the golden logs -----------------------------------------------------------------------

KEYS = load_json(GOLDEN_DIR / "keys.json")
GOLDEN_PUBLISHER = bytes.fromhex(KEYS["publisher"]["public_key_hex"])
ORIGIN = KEYS["origin"]
CASES = load_json(GOLDEN_DIR / "reject" / "cases.json")["cases"]
KEY_CASES = [c for c in CASES if c["category"] == "keys" or c["name"].startswith("station-record")]


def _entries(folder: Path) -> Iterator[bytes]:
    """Every entry of a small published log, from its full and latest partial bundles."""
    n = 0
    while True:
        full = folder / "tile" / "entries" / f"{n:03d}"
        if full.is_file():
            bundle = full.read_bytes()
        else:
            partials = sorted(
                (folder / "tile" / "entries" / f"{n:03d}.p").glob("*"), key=lambda p: int(p.name)
            )
            if not partials:
                return
            bundle = partials[-1].read_bytes()
        at = 0
        while at < len(bundle):
            size = int.from_bytes(bundle[at : at + 2], "big")
            yield bundle[at + 2 : at + 2 + size]
            at += 2 + size
        if not full.is_file():
            return
        n += 1


def _run(
    folder: Path, registry: KeyRegistry | None = None, start: int = 0
) -> tuple[list[tuple[int, VerificationError]], KeyRegistry]:
    registry = registry or KeyRegistry(GOLDEN_PUBLISHER)
    errors = []
    for index, data in enumerate(_entries(folder)):
        if index < start:
            continue
        try:
            entry, record = decode_entry_record(data)
            public_key = registry.check(entry.key, record)
            verify_entry_signature(entry, ORIGIN, public_key)
            registry.apply(record)
        except VerificationError as e:
            errors.append((index, e))
    return errors, registry


@pytest.mark.parametrize("name", ["valid", "valid-small"])
def test_golden_valid_log_has_no_key_fault(name: str) -> None:
    errors, registry = _run(GOLDEN_DIR / name)
    assert errors == []
    assert registry.stations == (30 if name == "valid" else 8)


def test_golden_log_resumed_from_state_gives_the_same_registry() -> None:
    folder = GOLDEN_DIR / "valid"
    _, whole = _run(folder)
    half = KeyRegistry(GOLDEN_PUBLISHER)
    for index, data in enumerate(_entries(folder)):
        if index == 150:
            break
        _, record = decode_entry_record(data)
        half.apply(record)
    state = decode_value(encode_value(half.to_value()))
    errors, resumed = _run(folder, KeyRegistry.from_value(state, GOLDEN_PUBLISHER), start=150)
    assert errors == []
    assert resumed.to_value() == whole.to_value()


@pytest.mark.parametrize("case", KEY_CASES, ids=[c["name"] for c in KEY_CASES])
def test_golden_key_fault_found_at_its_entry(case: dict[str, Any]) -> None:
    errors, _ = _run(GOLDEN_DIR / case["dir"])
    assert errors, "the fault was not found"
    index, error = errors[0]
    assert index == case["index"]
    assert error.category == case["category"]
