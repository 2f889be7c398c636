"""Every hash function and domain tag of election-ledger, in one place.

RFC 9162 section 2.1.1: leaf = SHA-256(0x00 || data), node = SHA-256(0x01 || left || right).
"""

from __future__ import annotations

import hashlib

HASH_SIZE = 32
#: A key id is the SHA-256 of an Ed25519 public key (docs/spec.md, "Entries").
KEY_ID_SIZE = HASH_SIZE

#: The format name: in ``ledger.json``, the store's meta, and the entry signature context.
LEDGER_FORMAT = "election-ledger/v1"

#: RFC 9162 domain separation prefixes.
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"

#: Prefix of the message a station or the publisher signs for an entry (docs/records.md, "Entries").
ENTRY_SIGNATURE_CONTEXT = LEDGER_FORMAT.encode() + b"/entry\n"

#: Root of the empty tree: SHA-256 of the empty string (RFC 9162 section 2.1.1).
EMPTY_ROOT = hashlib.sha256(b"").digest()

_sha256 = hashlib.sha256
# ledger.formats.signing.PUBLIC_KEY_SIZE; hashing imports nothing of ours.
_PUBLIC_KEY_SIZE = 32


def sha256(data: bytes) -> bytes:
    """Plain SHA-256 (key ids, attachments, tile contents)."""
    return _sha256(data).digest()


def leaf_hash(data: bytes) -> bytes:
    """RFC 9162 leaf hash: SHA-256(0x00 || data)."""
    return _sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 interior node hash: SHA-256(0x01 || left || right)."""
    return _sha256(NODE_PREFIX + left + right).digest()


def key_id(public_key: bytes) -> bytes:
    """Key id of an entry signer: SHA-256 of the raw 32-byte Ed25519 public key."""
    if len(public_key) != _PUBLIC_KEY_SIZE:
        raise ValueError(f"an Ed25519 public key is 32 bytes, got {len(public_key)}")
    return _sha256(public_key).digest()


def entry_signed_message(origin: str, body: bytes) -> bytes:
    """The exact bytes an entry signature covers: context, origin, newline, record bytes."""
    return ENTRY_SIGNATURE_CONTEXT + origin.encode("utf-8") + b"\n" + body
