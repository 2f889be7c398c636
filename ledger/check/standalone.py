"""The checks of the one entry checker that need no log, for whoever writes an entry outside a
ledger (``ledger sign``): what ``append`` would refuse whatever the log holds is refused before
it is written (docs/spec.md, "Verification", order of the checks 4.1 to 4.3).

Checks that need the log (which keys are registered, the election's rules, the station's
earlier entries) stay with :class:`~ledger.check.checker.EntryChecker` at ``append``.
"""

from __future__ import annotations

from ledger.check.checker import decode_checked
from ledger.check.registry import PUBLISHER_KINDS
from ledger.core.hashing import entry_signed_message
from ledger.errors import ChainError, MalformedError, SignatureError, Where
from ledger.formats.records import Record, encode_entry, sign_record
from ledger.formats.signing import Signer, is_valid_signature


def sign_checked(signer: Signer, origin: str, record: Record, *, publisher: bool) -> bytes:
    """Entry bytes of ``record`` signed by ``signer`` for the log ``origin``, after the checks
    ``append`` runs on every entry whatever the log holds; ``publisher``: whether ``signer``
    may be the log's publisher key (its name is the origin).

    Raises:
        MalformedError: text that is not valid Unicode (a lone surrogate), an entry over
            65,535 bytes, or an entry that does not decode back to ``record`` (the checker's
            own refusal: a station id with white space, ...).
        SignatureError: (category ``keys``) a publisher's record kind signed by a key that is
            not the publisher's.
        ChainError: a block record (blocks are sealed, never signed apart).
    """
    where = Where(kind=record.KIND)
    if record.KIND == "block":
        raise ChainError("block entries are made by seal, not signed apart",
                         code="block-appended", where=where)
    if record.KIND in PUBLISHER_KINDS and not publisher:
        raise SignatureError(f"a {record.KIND} record is signed by the publisher key, whose name "
                             f"is the origin {origin!r}", category="keys",
                             code="not-publisher", where=where)
    try:
        entry = sign_record(signer, origin, record)
        data = encode_entry(entry)
    except ValueError as e:  # text the canonical form cannot hold
        raise MalformedError(f"the record cannot be encoded: {e}", code="bad-text",
                             where=where) from e
    decoded_entry, decoded = decode_checked(data)
    if decoded != record or not is_valid_signature(
            signer.public_key, entry_signed_message(origin, decoded_entry.body),
            decoded_entry.sig):
        raise MalformedError("the signed entry does not decode back to its record",
                             code="not-canonical", where=where)
    return data
