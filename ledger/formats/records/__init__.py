"""Records and entries, in one import (docs/records.md, "Record kinds" and "Entries").

The record kinds live in :mod:`ledger.formats.records.kinds`, their value and JSON forms in
:mod:`ledger.formats.records.values` and the entry envelope in :mod:`ledger.formats.entries`;
import all of them from here.
"""

from __future__ import annotations

from ledger.formats.codec import decode_value, encode_checked
from ledger.formats.entries import (
    ENTRY_VERSION,
    MAX_ENTRY_SIZE,
    Entry,
    decode_body_value,
    decode_entry,
    decode_entry_envelope,
    encode_entry,
    entry_size,
    sign_body,
    verify_entry_signature,
)
from ledger.formats.records.kinds import (
    ATTACHMENT_SIZE,
    COUNTS_OPTIONAL,
    COUNTS_REQUIRED,
    RULE_SETS,
    SCOPES,
    STAGES,
    Ballot,
    Block,
    Category,
    Election,
    Log,
    LogCheckpoint,
    Record,
    Registered,
    Report,
    Revoke,
    Station,
    Turnout,
)
from ledger.formats.records.values import (
    KINDS,
    record_from_json,
    record_from_value,
    record_to_json,
    record_to_value,
)
from ledger.formats.signing import Signer

__all__ = [
    "ATTACHMENT_SIZE",
    "COUNTS_OPTIONAL",
    "COUNTS_REQUIRED",
    "ENTRY_VERSION",
    "KINDS",
    "MAX_ENTRY_SIZE",
    "RULE_SETS",
    "SCOPES",
    "STAGES",
    "Ballot",
    "Block",
    "Category",
    "Election",
    "Entry",
    "Log",
    "LogCheckpoint",
    "Record",
    "Registered",
    "Report",
    "Revoke",
    "Station",
    "Turnout",
    "decode_body_value",
    "decode_entry",
    "decode_entry_envelope",
    "decode_entry_record",
    "decode_record",
    "encode_entry",
    "encode_record",
    "entry_size",
    "record_from_json",
    "record_from_value",
    "record_to_json",
    "record_to_value",
    "sign_body",
    "sign_record",
    "verify_entry_signature",
]


def encode_record(record: Record) -> bytes:
    """The canonical bytes of a record: what an entry's ``body`` holds."""
    # record_to_value builds every map in key order from fields checked on construction.
    return encode_checked(record_to_value(record))


def decode_record(data: bytes) -> Record:
    """The record in canonical bytes ``data``.

    Raises:
        MalformedError: the bytes are not canonical or not a valid record.
    """
    return record_from_value(decode_value(data))


def decode_entry_record(data: bytes) -> tuple[Entry, Record]:
    """An entry and its record from entry bytes, decoding the body once (the auditor's path).

    Raises:
        MalformedError: the envelope or the body is not canonical, or the body not a record.
    """
    entry = decode_entry_envelope(data)
    return entry, record_from_value(decode_body_value(entry))


def sign_record(signer: Signer, origin: str, record: Record) -> Entry:
    """The entry carrying ``record``, signed by ``signer`` for the log ``origin``.

    Raises:
        MalformedError: the entry would be larger than :data:`MAX_ENTRY_SIZE`.
    """
    return sign_body(signer, origin, encode_record(record))
