"""Receipts for observers: C2SP tlog-proof files, checked offline (docs/spec.md, "Published form").

A receipt is ``c2sp.org/tlog-proof@v1``, an ``extra`` line with the base64 entry bytes, the leaf
``index``, the inclusion proof (one base64 hash a line), a blank line and the checkpoint note with
its signatures. :func:`check_receipt` is ``ledger check-proof``: inclusion under a checkpoint the
publisher signed, the entry's signature, and for a station-signed entry the station record that
registered the key, from a second receipt under the same checkpoint.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ledger.auditor.trust import Trust
from ledger.core.hashing import HASH_SIZE, key_id, leaf_hash
from ledger.core.proofs import MAX_TREE_SIZE, verify_inclusion
from ledger.errors import InputError, MalformedError, SignatureError, VerificationError, Where
from ledger.formats.checkpoints import (
    Checkpoint,
    SignedCheckpoint,
    open_ledger_checkpoint,
    parse_checkpoint,
)
from ledger.formats.keys import VerifierKey
from ledger.formats.notes import MAX_NOTE_SIZE, parse_unverified_note
from ledger.formats.policy import Policy
from ledger.formats.records import (
    MAX_ENTRY_SIZE,
    Entry,
    Record,
    Report,
    Station,
    Turnout,
    decode_entry_record,
    record_to_json,
    verify_entry_signature,
)
from ledger.formats.signing import is_prime_order_key
from ledger.formats.text import decode_base64, encode_base64, parse_decimal

HEADER = b"c2sp.org/tlog-proof@v1"
#: A tree of at most 2^64 leaves has inclusion proofs of at most 64 hashes.
MAX_PROOF_HASHES = 64
#: The extra data is one entry (docs/records.md, "Entries").
MAX_EXTRA_SIZE = MAX_ENTRY_SIZE
#: Header, extra line of a largest entry, index and 64 proof lines fit in 96 KiB.
MAX_RECEIPT_SIZE = MAX_NOTE_SIZE + 96 * 1024

_EXTRA = "extra "
_INDEX = "index "


@dataclass(frozen=True, slots=True, kw_only=True)
class Receipt:
    """One tlog-proof: leaf index, inclusion proof, checkpoint note bytes, extra (entry) bytes."""

    index: int
    proof: tuple[bytes, ...]
    checkpoint: bytes
    extra: bytes | None = None

    def __post_init__(self) -> None:
        if isinstance(self.index, bool) or not 0 <= self.index <= MAX_TREE_SIZE:
            raise ValueError(f"leaf index {self.index} out of range")
        if len(self.proof) > MAX_PROOF_HASHES or any(len(h) != HASH_SIZE for h in self.proof):
            raise ValueError(f"an inclusion proof is at most {MAX_PROOF_HASHES} 32-byte hashes")
        if not self.checkpoint or (self.extra is not None and not self.extra):
            raise ValueError("a receipt needs a checkpoint note, and extra data if any is given")


def _bad(message: str, code: str = "bad-receipt") -> MalformedError:
    return MalformedError(f"receipt: {message}", code=code)


def parse_receipt(data: bytes) -> Receipt:
    """Parse a tlog-proof strictly: canonical base64 on every line, decimal index, limits.

    The checkpoint note is parsed too (not verified: see :func:`check_receipt`).

    Raises:
        InputError: the first line is not ``c2sp.org/tlog-proof@v1`` (not a receipt at all).
        MalformedError: any other line, the size, or the checkpoint note is malformed.
    """
    if not data.startswith(HEADER + b"\n"):
        raise InputError(f"not a C2SP tlog-proof: the first line must be {HEADER.decode()}")
    if len(data) > MAX_RECEIPT_SIZE:
        raise _bad(f"larger than {MAX_RECEIPT_SIZE} bytes", "receipt-too-large")
    cut = data.find(b"\n\n")
    if cut < 0:
        raise _bad("no blank line before the checkpoint")
    try:
        lines = data[:cut].decode("ascii").split("\n")[1:]
    except UnicodeDecodeError as e:
        raise _bad("proof lines are not ASCII") from e
    extra = None
    if lines and lines[0].startswith(_EXTRA):
        extra = decode_base64(lines.pop(0)[len(_EXTRA) :], what="receipt extra line")
        if not 0 < len(extra) <= MAX_EXTRA_SIZE:
            raise _bad(f"extra data must be 1 to {MAX_EXTRA_SIZE} bytes, got {len(extra)}")
    if not lines or not lines[0].startswith(_INDEX):
        raise _bad("the line after the header (and extra) must be 'index <n>'")
    index = parse_decimal(lines.pop(0)[len(_INDEX) :], what="receipt index", limit=MAX_TREE_SIZE)
    if len(lines) > MAX_PROOF_HASHES:
        raise _bad(f"more than {MAX_PROOF_HASHES} proof hashes")
    proof = tuple(decode_base64(line, what="receipt proof hash") for line in lines)
    if any(len(h) != HASH_SIZE for h in proof):
        raise _bad(f"a proof hash is not {HASH_SIZE} bytes")
    note = data[cut + 2 :]
    parse_checkpoint(parse_unverified_note(note, category="checkpoint").text)
    return Receipt(index=index, proof=proof, checkpoint=note, extra=extra)


def format_receipt(receipt: Receipt) -> bytes:
    """The tlog-proof bytes of ``receipt`` (``.tlog-proof`` files)."""
    lines = [HEADER.decode()]
    if receipt.extra is not None:
        lines.append(_EXTRA + encode_base64(receipt.extra))
    lines.append(f"{_INDEX}{receipt.index}")
    lines.extend(encode_base64(h) for h in receipt.proof)
    return "".join(line + "\n" for line in lines).encode("ascii") + b"\n" + receipt.checkpoint


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckedReceipt:
    """What a receipt showed offline, and what only a full audit can show."""

    index: int
    checkpoint: Checkpoint
    entry: Entry
    record: Record
    signed_by: str  # "publisher" or "station"
    station: str | None
    station_index: int | None
    cosigned_by: tuple[str, ...]
    not_shown: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """The checked receipt as a JSON object (what it proves, about which entry)."""
        return {
            "ok": True,
            "origin": self.checkpoint.origin,
            "tree_size": self.checkpoint.size,
            "root": self.checkpoint.root.hex(),
            "index": self.index,
            "kind": self.record.KIND,
            "station": self.station,
            "signed_by": self.signed_by,
            "station_index": self.station_index,
            "cosigned_by": list(self.cosigned_by),
            "record": record_to_json(self.record),
            "not_shown": list(self.not_shown),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class _Opened:
    signed: SignedCheckpoint
    entry: Entry
    record: Record


def _open(
    receipt: Receipt, publisher: VerifierKey, witnesses: Sequence[VerifierKey], quorum: int
) -> _Opened:
    """Checkpoint signatures and profile, then inclusion of the extra bytes, then decode."""
    where = Where(index=receipt.index)
    signed = open_ledger_checkpoint(receipt.checkpoint, publisher, witnesses, quorum=quorum)
    cp = signed.checkpoint
    if receipt.extra is None:
        raise MalformedError("receipt has no extra line: the entry bytes are needed", where=where)
    try:
        verify_inclusion(leaf_hash(receipt.extra), receipt.index, cp.size, receipt.proof, cp.root)
        entry, record = decode_entry_record(receipt.extra)
    except VerificationError as e:
        raise e.at(index=receipt.index) from e
    return _Opened(signed=signed, entry=entry, record=record)


def _key_error(message: str, code: str, index: int, station: str | None) -> SignatureError:
    return SignatureError(message, category="keys", code=code,
                          where=Where(index=index, station=station))


def _verify_entry(opened: _Opened, public_key: bytes, index: int) -> None:
    try:
        verify_entry_signature(opened.entry, opened.signed.checkpoint.origin, public_key)
    except VerificationError as e:
        raise e.at(index=index, kind=opened.record.KIND) from e


def _station_record(
    receipt: Receipt,
    opened: _Opened,
    station_receipt: Receipt,
    publisher: VerifierKey,
    witnesses: Sequence[VerifierKey],
    quorum: int,
) -> tuple[int, Station]:
    """The station record that registered the entry's key, proved by the second receipt."""
    station_id = opened.record.station if isinstance(opened.record, Turnout | Report) else None
    at = station_receipt.index
    reg = _open(station_receipt, publisher, witnesses, quorum)
    if reg.signed.checkpoint != opened.signed.checkpoint:
        raise _key_error("the station receipt is under another checkpoint than the record's",
                         "station-receipt-checkpoint", at, station_id)
    if at >= receipt.index:
        raise _key_error(f"the station record (entry {at}) must come before the record "
                         f"(entry {receipt.index})", "station-receipt-not-earlier", at, station_id)
    if not isinstance(reg.record, Station):
        raise _key_error(f"the station receipt holds a {reg.record.KIND} record",
                         "station-receipt-not-station", at, station_id)
    if reg.record.id != station_id:
        raise _key_error(f"the station receipt registers {reg.record.id!r}, the record names "
                         f"{station_id!r}", "station-receipt-other-station", at, station_id)
    _verify_entry(reg, publisher.public_key, at)
    if reg.record.key_id != opened.entry.key:
        raise _key_error(f"entry {receipt.index} is not signed by the key station {station_id} "
                         f"registered at entry {at}", "station-key-mismatch", receipt.index,
                         station_id)
    if not is_prime_order_key(reg.record.pubkey):
        raise _key_error(f"the key station {station_id} registered at entry {at} is not a point "
                         "of prime order (a small-order, mixed-order or non-canonical key, for "
                         "which signatures can be forged)", "key-weak", at, station_id)
    return at, reg.record


def _same_log(opened: _Opened, other: Receipt, publisher: VerifierKey,
              witnesses: Sequence[VerifierKey], quorum: int, station: str | None) -> None:
    """A second receipt given with a publisher-signed record: it too must be of this log
    (verify with its key, its entry proved included) and under the same checkpoint."""
    try:
        second = _open(other, publisher, witnesses, quorum)
    except VerificationError as e:
        raise e.at(index=other.index) from e
    if second.signed.checkpoint != opened.signed.checkpoint:
        raise _key_error("the second receipt is under another checkpoint than the record's: "
                         "every receipt given must be of the same log and checkpoint",
                         "station-receipt-checkpoint", other.index, station)


def check_receipt(
    receipt: Receipt,
    publisher: VerifierKey,
    station_receipt: Receipt | None = None,
    witnesses: Sequence[VerifierKey] = (),
    *,
    quorum: int = 0,
    policy: Policy | None = None,
    now: int | None = None,
) -> CheckedReceipt:
    """``ledger check-proof``: show offline that a record is in the log the publisher signed.

    A station-signed ``turnout`` or ``report`` needs ``station_receipt``: the station record
    that registered its key, under the same checkpoint, at an earlier index. With ``policy``,
    the record receipt's checkpoint must be cosigned to its quorum (``now``: Unix seconds); the
    station receipt needs only the log's signature. A ``station_receipt`` given with a
    publisher-signed record is not needed, but is checked all the same: it must be of the same
    log and checkpoint.

    Raises:
        MalformedError: a receipt, its checkpoint or its entry is malformed.
        SignatureError: a checkpoint or entry signature fails, or the signer is not shown to be
            allowed to sign the record (category ``keys``).
        ProofError: the inclusion proof does not lead to the checkpoint's root.
        VerificationError: (category ``witness``) the policy's quorum is not met.
    """
    opened = _open(receipt, publisher, witnesses, quorum)
    try:
        witnessed = Trust(log_key=publisher, policy=policy).check_witnessed(
            receipt.checkpoint, now=now)
    except VerificationError as e:
        raise e.at(index=receipt.index) from e
    record, index = opened.record, receipt.index
    station = record.station if isinstance(record, Turnout | Report) else None
    if isinstance(record, Station):
        station = record.id
    station_index: int | None = None
    if opened.entry.key == key_id(publisher.public_key):
        _verify_entry(opened, publisher.public_key, index)
        if station_receipt is not None:  # not needed, but every receipt given must hold
            _same_log(opened, station_receipt, publisher, witnesses, quorum, station)
        signed_by = "publisher"
        not_shown = _not_shown_for_publisher(record, station, index)
    elif isinstance(record, Turnout | Report):
        if station_receipt is None:
            raise _key_error(f"entry {index} is signed by a station key: the receipt of the "
                             f"station record of {station} is needed to check it",
                             "station-receipt-required", index, station)
        station_index, station_record = _station_record(
            receipt, opened, station_receipt, publisher, witnesses, quorum
        )
        _verify_entry(opened, station_record.pubkey, index)
        signed_by = "station"
        not_shown = (f"that station {station}'s key, registered at entry {station_index}, was "
                     f"neither revoked nor replaced before entry {index} (only a full audit, "
                     "ledger verify, shows it)",)
    else:
        raise SignatureError(f"a {record.KIND} record is signed by the publisher, and this "
                             "entry's key is not the publisher's",
                             where=Where(index=index, kind=record.KIND, station=station))
    return CheckedReceipt(
        index=index,
        checkpoint=opened.signed.checkpoint,
        entry=opened.entry,
        record=record,
        signed_by=signed_by,
        station=station,
        station_index=station_index,
        cosigned_by=(witnessed.cosigned_by if witnessed is not None else
                     tuple(k.name for k in opened.signed.note.verified_keys if k != publisher)),
        not_shown=not_shown,
    )


def _not_shown_for_publisher(record: Record, station: str | None, index: int) -> tuple[str, ...]:
    if isinstance(record, Report | Turnout):
        return (f"that station {station} was registered before entry {index} (only a full "
                "audit, ledger verify, shows it)",)
    if isinstance(record, Station):
        return (f"that no later record replaced or revoked the key registered at entry {index} "
                "(only a full audit, ledger verify, shows it)",)
    return ()
