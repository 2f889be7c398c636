"""tlog-proof receipts: the golden receipts check, and every forgery or mix-up is refused."""

from __future__ import annotations

import base64
from dataclasses import dataclass, replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.auditor.receipts import (
    MAX_PROOF_HASHES,
    Receipt,
    check_receipt,
    format_receipt,
    parse_receipt,
)
from ledger.core.hashing import leaf_hash
from ledger.core.merkle import inclusion_proof
from ledger.core.merkle import root as merkle_root
from ledger.errors import InputError, MalformedError, SignatureError, VerificationError
from ledger.formats.checkpoints import Checkpoint, format_checkpoint
from ledger.formats.keys import note_signer_for, parse_verifier_key, verifier_key_for
from ledger.formats.notes import sign_note
from ledger.formats.records import (
    Category,
    Election,
    Registered,
    Report,
    Station,
    Turnout,
    encode_entry,
    sign_record,
)
from ledger.formats.signing import Signer
from tests.conftest import GOLDEN_DIR, load_json

KEYS = load_json(GOLDEN_DIR / "keys.json")
PUBLISHER = parse_verifier_key(KEYS["publisher"]["vkey"])
WITNESS = parse_verifier_key(KEYS["witness"]["vkey"])
RECEIPTS = GOLDEN_DIR / "valid" / "receipts"
AB1_REPORT = (RECEIPTS / "AB-1-report.tlog-proof").read_bytes()
AB1_STATION = (RECEIPTS / "AB-1-station.tlog-proof").read_bytes()
SR6_REPORT = (RECEIPTS / "SR-6-report-by-publisher.tlog-proof").read_bytes()
SR6_INDEX = next(r["index"] for r in load_json(GOLDEN_DIR / "valid" / "expected.json")["receipts"]
                 if r["file"].endswith("SR-6-report-by-publisher.tlog-proof"))
LEVELS = (VerificationError, InputError)


# --- the golden receipts -----------------------------------------------------------------------


@pytest.mark.parametrize("data", [AB1_REPORT, AB1_STATION, SR6_REPORT])
def test_golden_receipts_parse_and_format_back_byte_for_byte(data):
    assert format_receipt(parse_receipt(data)) == data


def test_station_signed_report_checks_with_its_station_receipt():
    expected = {r["file"]: r for r in load_json(GOLDEN_DIR / "valid" / "expected.json")["receipts"]}
    want = expected["receipts/AB-1-report.tlog-proof"]
    checked = check_receipt(
        parse_receipt(AB1_REPORT), PUBLISHER, parse_receipt(AB1_STATION), [WITNESS], quorum=1
    )
    assert (checked.index, checked.checkpoint.size) == (want["index"], want["tree_size"])
    assert (checked.record.KIND, checked.station) == ("report", "AB-1")
    assert checked.signed_by == "station"
    assert checked.station_index == 1
    assert checked.cosigned_by == (WITNESS.name,)
    assert any("revoked" in line for line in checked.not_shown)
    summary = checked.to_json()
    assert summary["record"]["station"] == "AB-1"
    assert summary["root"] == load_json(GOLDEN_DIR / "valid" / "expected.json")["root_hex"]


def test_publisher_signed_report_and_station_record_check_on_their_own():
    report = check_receipt(parse_receipt(SR6_REPORT), PUBLISHER)
    assert (report.index, report.station, report.signed_by) == (SR6_INDEX, "SR-6", "publisher")
    assert report.cosigned_by == ()
    assert any("registered" in line for line in report.not_shown)
    station = check_receipt(parse_receipt(AB1_STATION), PUBLISHER, witnesses=[WITNESS])
    assert (station.index, station.record.KIND, station.station) == (1, "station", "AB-1")


def test_station_signed_report_without_its_station_receipt_fails():
    with pytest.raises(SignatureError, match="station record") as info:
        check_receipt(parse_receipt(AB1_REPORT), PUBLISHER)
    assert (info.value.category, info.value.code) == ("keys", "station-receipt-required")


def test_receipt_checked_with_another_publisher_key_or_origin_fails():
    impostor = verifier_key_for(PUBLISHER.name, Signer(bytes(32)).public_key)
    with pytest.raises(SignatureError):
        check_receipt(parse_receipt(SR6_REPORT), impostor)
    other_origin = verifier_key_for("prezenta.example.ro/prezidentiale04052025",
                                    PUBLISHER.public_key)
    with pytest.raises(VerificationError):
        check_receipt(parse_receipt(SR6_REPORT), other_origin)


def test_missing_witness_quorum_fails():
    no_witness = SR6_REPORT[: SR6_REPORT.rindex("— witness".encode())]
    assert check_receipt(parse_receipt(no_witness), PUBLISHER).index == SR6_INDEX
    with pytest.raises(SignatureError, match="quorum"):
        check_receipt(parse_receipt(no_witness), PUBLISHER, witnesses=[WITNESS], quorum=1)


def _flips(data: bytes, end: int):
    for bit in range(end * 8):
        flipped = bytearray(data)
        flipped[bit // 8] ^= 1 << (bit % 8)
        yield bit, bytes(flipped)


def _checks(data: bytes, station: bytes | None = None, **kw) -> bool:
    """True if the receipt (and station receipt) check; False if refused at any level."""
    try:
        check_receipt(parse_receipt(data), PUBLISHER,
                      None if station is None else parse_receipt(station), **kw)
    except LEVELS:
        return False
    return True


@pytest.mark.parametrize("data", [SR6_REPORT, AB1_STATION])
def test_every_bit_flip_outside_the_witness_line_fails(data):
    end = data.rindex("— witness".encode())
    assert [bit for bit, flipped in _flips(data, end) if _checks(flipped)] == []


def test_every_bit_flip_in_either_receipt_of_a_station_pair_fails():
    report_end = AB1_REPORT.rindex("— witness".encode())
    station_end = AB1_STATION.rindex("— witness".encode())
    assert [b for b, f in _flips(AB1_REPORT, report_end) if _checks(f, AB1_STATION)] == []
    assert [b for b, f in _flips(AB1_STATION, station_end) if _checks(AB1_REPORT, f)] == []


def test_every_bit_flip_fails_when_the_witness_is_required():
    flips = _flips(SR6_REPORT, len(SR6_REPORT))
    assert [b for b, f in flips if _checks(f, witnesses=[WITNESS], quorum=1)] == []


# --- a small log of our own, for the mix-ups the golden receipts do not cover -------------------

ORIGIN = "test.example.ro/alegeri"
LOG_KEY = note_signer_for(ORIGIN, Signer(b"p" * 32))
ST1, ST1B, ST2 = Signer(b"1" * 32), Signer(b"b" * 32), Signer(b"2" * 32)
AT = 1_747_558_800_000


def _station(sid: str, signer: Signer) -> Station:
    return Station(id=sid, county="ALBA", number=int(sid[-1]), name=f"Scoala {sid}",
                   pubkey=signer.public_key)


def _turnout(sid: str, lp: int) -> Turnout:
    return Turnout(station=sid, at=AT + lp, registered=Registered(permanent=100),
                   counts={"LP": lp, "LS": 0, "UM": 0, "LT": lp})


def _report(sid: str) -> Report:
    return Report(station=sid, category="PRSD", version=1, stage="FINAL", at=AT,
                  fields={"a": 10, "b": 3, "b1": 3, "b2": 0, "b3": 0, "c": 3, "d": 0, "e": 5,
                          "f": 2},
                  votes={"A": 2, "B": 1})


_publisher = LOG_KEY.signer
_ENTRIES = [
    sign_record(_publisher, ORIGIN, Election(
        name="test", date="2025-05-18", tz="Europe/Bucharest",
        categories={"PRSD": Category(rules="presidential", competitors=("A", "B"))})),
    sign_record(_publisher, ORIGIN, _station("AB-1", ST1)),  # 1
    sign_record(_publisher, ORIGIN, _station("AB-2", ST2)),  # 2
    sign_record(ST1, ORIGIN, _turnout("AB-1", 1)),  # 3
    sign_record(ST2, ORIGIN, _report("AB-2")),  # 4
    sign_record(ST1, "test.example.ro/altele", _turnout("AB-1", 2)),  # 5: another origin
    sign_record(_publisher, ORIGIN, _turnout("AB-1", 3)),  # 6: turnout by the publisher
    sign_record(ST1, ORIGIN, _station("AB-3", ST2)),  # 7: station record by a station
    sign_record(_publisher, ORIGIN, _station("AB-1", ST1B)),  # 8: AB-1's new key
    sign_record(ST1B, ORIGIN, _turnout("AB-1", 4)),  # 9
    sign_record(ST1, ORIGIN, _turnout("AB-2", 5)),  # 10: AB-1's key, names AB-2
]
_BYTES = [encode_entry(e) for e in _ENTRIES]
_LEAVES = [leaf_hash(b) for b in _BYTES]


@dataclass(frozen=True)
class _Log:
    size: int
    note: bytes

    def receipt(self, index: int, *, extra: bytes | None = None) -> Receipt:
        return Receipt(index=index, proof=tuple(inclusion_proof(_LEAVES, index, self.size)),
                       checkpoint=self.note, extra=_BYTES[index] if extra is None else extra)


def _log(size: int) -> _Log:
    cp = Checkpoint(origin=ORIGIN, size=size, root=merkle_root(_LEAVES[:size]))
    return _Log(size, sign_note(format_checkpoint(cp), [LOG_KEY]))


LOG = _log(len(_ENTRIES))
KEY = LOG_KEY.verifier_key


def test_own_log_station_turnout_and_station_report_check_with_their_station_receipts():
    assert check_receipt(LOG.receipt(3), KEY, LOG.receipt(1)).station_index == 1
    assert check_receipt(LOG.receipt(4), KEY, LOG.receipt(2)).signed_by == "station"
    assert check_receipt(LOG.receipt(9), KEY, LOG.receipt(8)).station_index == 8


def test_station_receipt_of_another_station_fails():
    with pytest.raises(SignatureError) as info:
        check_receipt(LOG.receipt(3), KEY, LOG.receipt(2))
    assert info.value.code == "station-receipt-other-station"


def test_station_receipt_of_the_stations_other_key_fails():
    with pytest.raises(SignatureError) as info:
        check_receipt(LOG.receipt(9), KEY, LOG.receipt(1))
    assert info.value.code == "station-key-mismatch"
    with pytest.raises(SignatureError) as info:
        check_receipt(LOG.receipt(3), KEY, LOG.receipt(8))
    assert info.value.code == "station-receipt-not-earlier"


def test_station_receipt_under_another_checkpoint_fails():
    older = _log(5)
    with pytest.raises(SignatureError) as info:
        check_receipt(LOG.receipt(3), KEY, older.receipt(1))
    assert info.value.code == "station-receipt-checkpoint"


def test_station_receipt_holding_another_kind_fails():
    with pytest.raises(SignatureError) as info:
        check_receipt(LOG.receipt(4), KEY, LOG.receipt(3))
    assert info.value.code == "station-receipt-not-station"


def test_entry_signed_for_another_origin_fails_as_a_replay():
    with pytest.raises(SignatureError) as info:
        check_receipt(LOG.receipt(5), KEY, LOG.receipt(1))
    assert info.value.where.index == 5


def test_turnout_signed_by_the_publisher_checks_and_says_registration_is_not_shown():
    checked = check_receipt(LOG.receipt(6), KEY)
    assert (checked.record.KIND, checked.station, checked.signed_by) == (
        "turnout", "AB-1", "publisher")
    assert any("registered" in line for line in checked.not_shown)


def test_station_record_signed_by_a_station_fails():
    with pytest.raises(SignatureError, match="signed by the publisher"):
        check_receipt(LOG.receipt(7), KEY, LOG.receipt(1))


def test_record_naming_another_station_than_its_key_fails():
    with pytest.raises(SignatureError):
        check_receipt(LOG.receipt(10), KEY, LOG.receipt(1))
    with pytest.raises(SignatureError):
        check_receipt(LOG.receipt(10), KEY, LOG.receipt(2))


def test_receipt_of_another_log_fails():
    other = note_signer_for("test.example.ro/altele", Signer(b"o" * 32))
    cp = Checkpoint(origin=other.name, size=LOG.size, root=merkle_root(_LEAVES))
    foreign = replace(LOG.receipt(2), checkpoint=sign_note(format_checkpoint(cp), [other]))
    with pytest.raises(SignatureError, match="no signature from a known key"):
        check_receipt(foreign, KEY)


def test_wrong_index_or_proof_or_extra_fails():
    good = LOG.receipt(3)
    for bad in (
        replace(good, index=4),
        replace(good, index=LOG.size),
        replace(good, proof=good.proof[:-1]),
        replace(good, proof=(*good.proof, bytes(32))),
        replace(good, extra=_BYTES[4]),
    ):
        with pytest.raises(VerificationError):
            check_receipt(parse_receipt(format_receipt(bad)), KEY, LOG.receipt(1))


def test_receipt_without_extra_fails():
    with pytest.raises(MalformedError, match="extra"):
        check_receipt(replace(LOG.receipt(2), extra=None), KEY)
    bare = replace(LOG.receipt(2), extra=None)
    assert parse_receipt(format_receipt(bare)) == bare


def test_single_leaf_log_receipt_has_no_proof_lines():
    log = _log(1)
    data = format_receipt(log.receipt(0))
    assert b"index 0\n\n" in data
    assert check_receipt(parse_receipt(data), KEY).record.KIND == "election"


# --- strict parsing --------------------------------------------------------------------------


def test_a_file_that_is_not_a_tlog_proof_is_an_input_error():
    for data in (b"", b"hello\n", AB1_STATION.replace(b"@v1", b"@v2", 1), b"\xff" * 10):
        with pytest.raises(InputError):
            parse_receipt(data)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b"index 1\n", b"index 01\n"),
        (b"index 1\n", b"index +1\n"),
        (b"index 1\n", b"index  1\n"),
        (b"index 1\n", b"Index 1\n"),
        (b"index 1\n", b""),
        (b"\nextra ", b"\nextra  "),
        (b"+q3QKg=\n", b"+q3QKh=\n"),  # non-canonical last character
        (b"+q3QKg=\n", b"+q3QKg\n"),  # padding dropped
        (b"+q3QKg=\n", b"+q3Q\n"),  # 30 bytes
        (b"\n\nprezenta", b"\nprezenta"),
        (b"\n308\n", b"\n0308\n"),
        (b"\n\n\xe2\x80\x94 prezenta", b"\n\n- prezenta"),
    ],
)
def test_malformed_receipt_lines_are_refused(old, new):
    assert old in AB1_STATION
    with pytest.raises(MalformedError):
        parse_receipt(AB1_STATION.replace(old, new, 1))


def test_receipt_limits_are_enforced():
    good = LOG.receipt(3)
    head, _, rest = format_receipt(good).partition(b"\n\n")
    too_many = head + b"".join(b"\n" + base64.b64encode(bytes(32)) for _ in range(65))
    with pytest.raises(MalformedError, match="more than"):
        parse_receipt(too_many + b"\n\n" + rest)
    huge = b"c2sp.org/tlog-proof@v1\nextra " + base64.b64encode(bytes(70_000)) + b"\nindex 0\n\n"
    with pytest.raises(MalformedError, match="extra"):
        parse_receipt(huge + LOG.note)
    with pytest.raises(MalformedError, match="extra data"):
        parse_receipt(b"c2sp.org/tlog-proof@v1\nextra \nindex 0\n\n" + LOG.note)
    with pytest.raises(MalformedError, match="larger"):
        parse_receipt(b"c2sp.org/tlog-proof@v1\n" + b"x" * (2 << 20))
    with pytest.raises(ValueError, match="32-byte"):
        Receipt(index=0, proof=(bytes(31),), checkpoint=LOG.note)
    with pytest.raises(ValueError, match="32-byte"):
        Receipt(index=0, proof=(bytes(32),) * (MAX_PROOF_HASHES + 1), checkpoint=LOG.note)


@settings(max_examples=50, deadline=None)
@given(
    index=st.integers(min_value=0, max_value=2**64 - 1),
    proof=st.lists(st.binary(min_size=32, max_size=32), max_size=MAX_PROOF_HASHES),
    extra=st.none() | st.binary(min_size=1, max_size=300),
)
def test_format_then_parse_round_trips(index, proof, extra):
    receipt = Receipt(index=index, proof=tuple(proof), checkpoint=LOG.note, extra=extra)
    assert parse_receipt(format_receipt(receipt)) == receipt



def test_a_receipt_other_readers_cannot_read_is_said_so() -> None:
    from ledger.auditor.prove import PORTABLE_ENTRY_SIZE, portability_warning
    from ledger.auditor.receipts import Receipt

    line_limit = 64 << 10  # Go's transparency-dev/formats tlog-proof line limit
    assert len(f"extra {'A' * (4 * -(-PORTABLE_ENTRY_SIZE // 3))}\n") <= line_limit
    assert len(f"extra {'A' * (4 * -(-(PORTABLE_ENTRY_SIZE + 1) // 3))}\n") > line_limit
    small = Receipt(index=0, proof=(), checkpoint=b"note", extra=bytes(PORTABLE_ENTRY_SIZE))
    large = Receipt(index=0, proof=(), checkpoint=b"note", extra=bytes(PORTABLE_ENTRY_SIZE + 1))
    assert portability_warning(small) is None
    assert "49,146 bytes" in (portability_warning(large) or "")


def test_a_report_forged_under_a_small_order_station_key_is_refused() -> None:
    # With the identity as a station's "key", R = B and s = 1 verify on every message under
    # OpenSSL's equation: the key rule (docs/spec.md, "Identity and keys") stops the forgery.
    from tests.observer_vectors import weak_key_receipts

    receipt, registration = weak_key_receipts()
    with pytest.raises(SignatureError, match="not a point of prime order") as e:
        check_receipt(parse_receipt(receipt), PUBLISHER, parse_receipt(registration))
    assert (e.value.category, e.value.code) == ("keys", "key-weak")
