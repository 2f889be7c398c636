"""The four receipts of a station's record under a national log (docs/spec.md, "One log per
county under a national log"): made by ``ledger prove`` (its national form), checked offline
with the national key alone by ``ledger check-proof``.

Two receipts from the county log (the record's and its station registration's) under the
county checkpoint the national log recorded; two from the national log (the county's ``log``
record, which gives the county key, and the ``checkpoint`` record that holds that checkpoint)
under one national checkpoint. The county receipts' checkpoint text and county signature must
be the recorded note's; cosignature lines may differ.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ledger.auditor.prove import checkpoint_note, make_receipt, prove_station
from ledger.auditor.receipts import CheckedReceipt, Receipt, check_receipt
from ledger.check.national import CountyLog, open_county_checkpoint
from ledger.errors import InputError, MalformedError, SignatureError, VerificationError, Where
from ledger.formats.keys import VerifierKey, parse_verifier_key
from ledger.formats.notes import NoteSignature, parse_unverified_note
from ledger.formats.policy import Policy
from ledger.formats.records import Log, LogCheckpoint, decode_entry_record
from ledger.sources.source import Source


@dataclass(frozen=True, slots=True, kw_only=True)
class NationalProof:
    """The four receipts, and which county log they are of."""

    code: str
    station: str
    kind: str
    record: Receipt
    registration: Receipt | None
    log: Receipt
    checkpoint: Receipt


def prove_national(
    county: Source, national: Source, station: str, *, kind: str = "report",
    category: str | None = None, size: int | None = None,
) -> NationalProof:
    """The four receipts of ``station``'s last ``kind`` entry: under the last checkpoint the
    national log's latest checkpoint (or its block checkpoint at ``size``) recorded for the
    county log ``county``.

    Raises:
        InputError: the national log registers no county log of ``county``'s origin, has
            recorded no checkpoint of it, has no block checkpoint at ``size``, or the station
            has no such entry under it.
        VerificationError: a source does not prove what it serves (a damaged source).
    """
    origin = parse_unverified_note(county.read_checkpoint(), category="checkpoint").text
    origin = origin.split("\n", 1)[0]
    note = checkpoint_note(national, size)
    size = int(parse_unverified_note(note, category="checkpoint").text.split("\n")[1])
    log_at: tuple[int, Log] | None = None
    recorded: tuple[int, LogCheckpoint] | None = None
    for index, data in enumerate(national.iter_entries(0, size)):
        try:
            _, record = decode_entry_record(data)
        except MalformedError:
            continue  # not provable; ledger verify reports it
        if type(record) is Log and record.origin == origin and log_at is None:
            log_at = (index, record)
        elif (type(record) is LogCheckpoint and log_at is not None
              and record.log == log_at[1].id):
            recorded = (index, record)
    if log_at is None:
        raise InputError(f"the national log registers no county log {origin!r}")
    if recorded is None:
        raise InputError(f"the national log recorded no checkpoint of county log {log_at[1].id}")
    code = log_at[1].id
    key = parse_verifier_key(log_at[1].vkey)
    cp = open_county_checkpoint(recorded[1].note, CountyLog(id=code, key=key, index=log_at[0]))
    pair = prove_station(county, station, kind=kind, category=category, size=cp.size)
    recorded_note = recorded[1].note.encode("utf-8")
    for receipt in (pair.record, pair.registration):
        if receipt is not None:
            _same_checkpoint(receipt.checkpoint, recorded_note, key, receipt.index)
    return NationalProof(
        code=code, station=station, kind=kind,
        record=replace(pair.record, checkpoint=recorded_note),
        registration=None if pair.registration is None
        else replace(pair.registration, checkpoint=recorded_note),
        log=make_receipt(national, log_at[0], checkpoint=note),
        checkpoint=make_receipt(national, recorded[0], checkpoint=note),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckedNational:
    """What the four receipts showed: the county record's check and the national one's."""

    county: CheckedReceipt
    code: str
    county_key: VerifierKey
    log: CheckedReceipt
    checkpoint: CheckedReceipt


def check_national(
    record: Receipt,
    station: Receipt | None,
    log: Receipt,
    checkpoint: Receipt,
    national_key: VerifierKey,
    *,
    policy: Policy | None = None,
) -> CheckedNational:
    """``ledger check-proof`` of the four receipts, offline, with the national key.

    Raises:
        VerificationError: a receipt does not check, the two national receipts are not under
            one national checkpoint or not of one county log, the recorded checkpoint does not
            verify with the registered county key, or a county receipt's checkpoint text or
            county signature is not the recorded note's.
    """
    checked_log = check_receipt(log, national_key, policy=policy)
    checked_cp = check_receipt(checkpoint, national_key, policy=policy)
    registered, held = checked_log.record, checked_cp.record
    if type(registered) is not Log or type(held) is not LogCheckpoint:
        raise _chain_error("the national receipts must hold a log record and a checkpoint "
                           f"record, not {registered.KIND} and {held.KIND}",
                           "national-receipt-kind", log.index)
    if checked_log.checkpoint != checked_cp.checkpoint:
        raise _chain_error("the two national receipts are under two national checkpoints",
                           "national-receipt-checkpoint", checkpoint.index)
    if held.log != registered.id or log.index >= checkpoint.index:
        raise _chain_error(f"the checkpoint record (entry {checkpoint.index}) is not a later "
                           f"record of log {registered.id} (entry {log.index})",
                           "national-receipt-log", checkpoint.index)
    key = parse_verifier_key(registered.vkey)
    county = CountyLog(id=registered.id, key=key, index=log.index)
    open_county_checkpoint(held.note, county)
    recorded = held.note.encode("utf-8")
    for receipt in (record, station):
        if receipt is not None:
            _same_checkpoint(receipt.checkpoint, recorded, key, receipt.index)
    checked = check_receipt(record, key, station)
    return CheckedNational(county=checked, code=registered.id, county_key=key, log=checked_log,
                           checkpoint=checked_cp)


def _county_signature(note: bytes, key: VerifierKey) -> tuple[str, NoteSignature | None]:
    parsed = parse_unverified_note(note, category="checkpoint")
    mine = [s for s in parsed.signatures if (s.name, s.key_hash) == (key.name, key.key_hash)]
    return parsed.text, mine[0] if len(mine) == 1 else None


def _same_checkpoint(note: bytes, recorded: bytes, key: VerifierKey, index: int) -> None:
    """A county receipt's checkpoint: the recorded note's text and county signature."""
    text, signature = _county_signature(note, key)
    want_text, want_signature = _county_signature(recorded, key)
    if text != want_text or signature is None or signature != want_signature:
        raise _chain_error(f"the county receipt of entry {index} is not under the checkpoint "
                           "the national log recorded (its text or the county's signature "
                           "differs)", "national-receipt-county-checkpoint", index)


def _chain_error(message: str, code: str, index: int) -> VerificationError:
    return SignatureError(message, category="log", code=code, where=Where(index=index))
