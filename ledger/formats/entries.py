"""The entry envelope of docs/records.md, "Entries": ``{body, key, sig, v}``, one leaf of the tree.

``body`` holds canonical record bytes, ``key`` the signer's key id (SHA-256 of its public key),
``sig`` Ed25519 over ``entry_signed_message(origin, body)``. Import these from
:mod:`ledger.formats.records`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ledger.core.hashing import KEY_ID_SIZE, entry_signed_message, key_id
from ledger.errors import MalformedError, SignatureError
from ledger.formats.codec import decode_value
from ledger.formats.signing import SIGNATURE_SIZE, Signer, verify_signature

#: Largest entry: tlog-tiles entry bundles carry a 16-bit length (docs/records.md, "Entries").
MAX_ENTRY_SIZE = 65_535
ENTRY_VERSION = 1

_ENTRY_KEYS = frozenset({"body", "key", "sig", "v"})
# The canonical entry, byte for byte: {"body": bin, "key": bin 32, "sig": bin 64, "v": 1}.
_HEAD = b"\x84\xa4body"
_KEY = b"\xa3key\xc4\x20"
_SIG = b"\xa3sig\xc4\x40"
_TAIL = b"\xa1v\x01"
_ENVELOPE = len(_HEAD) + len(_KEY) + KEY_ID_SIZE + len(_SIG) + SIGNATURE_SIZE + len(_TAIL)
# Everything after the body has a fixed size: offsets from the end of the entry.
_TAIL_SIZE = _ENVELOPE - len(_HEAD)
_KEY_AT = -_TAIL_SIZE + len(_KEY)
_KEY_END = _KEY_AT + KEY_ID_SIZE
_SIG_AT = _KEY_END + len(_SIG)
_SIG_END = _SIG_AT + SIGNATURE_SIZE


def _bad(message: str, code: str) -> MalformedError:
    return MalformedError(f"entry: {message}", code=code)


@dataclass(frozen=True, slots=True, kw_only=True)
class Entry:
    """One signed entry; built from untrusted bytes only by :func:`decode_entry`."""

    body: bytes
    key: bytes
    sig: bytes
    v: int = ENTRY_VERSION

    def __post_init__(self) -> None:
        if type(self.body) is not bytes:
            raise _bad(f"body must be bin, got {type(self.body).__name__}", "bad-entry")
        if type(self.key) is not bytes or len(self.key) != KEY_ID_SIZE:
            raise _bad(f"key must be a {KEY_ID_SIZE}-byte bin", "bad-entry-key")
        if type(self.sig) is not bytes or len(self.sig) != SIGNATURE_SIZE:
            raise _bad(f"sig must be a {SIGNATURE_SIZE}-byte bin", "bad-entry-sig")
        if type(self.v) is not int or self.v != ENTRY_VERSION:
            raise _bad(f"v must be the int {ENTRY_VERSION}, got {self.v!r}", "bad-entry-version")


def entry_size(body_size: int) -> int:
    """Size in bytes of the encoded entry whose body has ``body_size`` bytes."""
    return _ENVELOPE + len(_bin_header(body_size)) + body_size


def _bin_header(size: int) -> bytes:
    if size < 0x100:
        return b"\xc4" + size.to_bytes(1, "big")
    if size < 0x1_0000:
        return b"\xc5" + size.to_bytes(2, "big")
    return b"\xc6" + size.to_bytes(4, "big")


def encode_entry(entry: Entry) -> bytes:
    """Canonical entry bytes (keys body, key, sig, v in that order).

    Raises:
        MalformedError: the entry would be larger than :data:`MAX_ENTRY_SIZE`.
    """
    size = entry_size(len(entry.body))
    if size > MAX_ENTRY_SIZE:
        raise _bad(f"{size} bytes, over the limit of {MAX_ENTRY_SIZE}", "entry-too-large")
    body = entry.body
    return b"".join((_HEAD, _bin_header(len(body)), body, _KEY, entry.key, _SIG, entry.sig, _TAIL))


def decode_entry_envelope(data: bytes) -> Entry:
    """The entry in ``data`` with its envelope checked but its body not decoded yet.

    Raises:
        MalformedError: over the size limit, not canonical, not exactly the four keys, or a
            field of the wrong type or length.
    """
    if len(data) > MAX_ENTRY_SIZE:
        raise _bad(f"{len(data)} bytes, over the limit of {MAX_ENTRY_SIZE}", "entry-too-large")
    entry = _exact_envelope(bytes(data))
    if entry is not None:
        return entry
    # Not the one canonical layout: decode generically to say exactly what is wrong.
    value = decode_value(data, max_size=MAX_ENTRY_SIZE)
    if type(value) is not dict:
        raise _bad(f"expected a map, got {type(value).__name__}", "bad-entry")
    if value.keys() != _ENTRY_KEYS:
        found = ", ".join(value.keys())
        raise _bad(f"expected exactly the keys body, key, sig, v; got {found}", "bad-entry")
    return Entry(body=value["body"], key=value["key"], sig=value["sig"], v=value["v"])


def envelope_parts(data: bytes) -> tuple[bytes, bytes, bytes] | None:
    """(body, key, sig) if ``data`` is byte for byte the canonical entry layout, else None.

    The fast path of :func:`decode_entry_envelope` (and of batch signature jobs): an entry of at
    most :data:`MAX_ENTRY_SIZE` bytes decodes exactly when this gives its parts.
    """
    n = len(data)
    if n < _ENVELOPE + 2 or n > MAX_ENTRY_SIZE or not data.startswith(_HEAD):
        return None
    if data[6] == 0xC4:
        size, start = data[7], 8
    elif data[6] == 0xC5:
        size, start = int.from_bytes(data[7:9], "big"), 9
        if size < 0x100:
            return None
    else:
        return None
    end = n - _TAIL_SIZE
    if (
        start + size != end
        or data[end:_KEY_AT] != _KEY
        or data[_KEY_END:_SIG_AT] != _SIG
        or data[_SIG_END:] != _TAIL
    ):
        return None
    return data[start:end], data[_KEY_AT:_KEY_END], data[_SIG_AT:_SIG_END]


def claimed_key_id(data: bytes) -> bytes | None:
    """The 32 bytes where the canonical layout puts the key id, unchecked (None: too short).

    Only to pick the key for a batch signature check: its verdict counts only for an entry
    that then decodes, and then these bytes are its key id.
    """
    return data[_KEY_AT:_KEY_END] if len(data) >= _ENVELOPE + 2 else None


def _exact_envelope(data: bytes) -> Entry | None:
    """The entry if ``data`` is byte for byte the canonical layout, else None (fast path)."""
    parts = envelope_parts(data)
    if parts is None:
        return None
    # The layout fixes every field's type and length: what Entry.__post_init__ would check.
    entry = _new_entry(Entry)
    _set(entry, "body", parts[0])
    _set(entry, "key", parts[1])
    _set(entry, "sig", parts[2])
    _set(entry, "v", ENTRY_VERSION)
    return entry


_new_entry = object.__new__
_set = object.__setattr__


def decode_body_value(entry: Entry) -> Any:
    """The canonical value in an entry's body (a record, once checked by the caller).

    Raises:
        MalformedError: the body bytes are not one canonical value.
    """
    try:
        return decode_value(entry.body, max_size=MAX_ENTRY_SIZE)
    except MalformedError as e:
        raise MalformedError(f"entry body: {e.message}", code=e.code, where=e.where) from e


def decode_entry(data: bytes) -> Entry:
    """An entry from its bytes: the envelope and the body both strictly canonical.

    Raises:
        MalformedError: see :func:`decode_entry_envelope` and :func:`decode_body_value`.
    """
    entry = decode_entry_envelope(data)
    decode_body_value(entry)
    return entry


def sign_body(signer: Signer, origin: str, body: bytes) -> Entry:
    """The entry for canonical record bytes ``body``, signed for the log ``origin``.

    Raises:
        MalformedError: the entry would be larger than :data:`MAX_ENTRY_SIZE`.
    """
    size = entry_size(len(body))
    if size > MAX_ENTRY_SIZE:
        raise _bad(f"{size} bytes, over the limit of {MAX_ENTRY_SIZE}", "entry-too-large")
    sig = signer.sign(entry_signed_message(origin, body))
    return Entry(body=body, key=signer.key_id, sig=sig)


def verify_entry_signature(entry: Entry, origin: str, public_key: bytes) -> None:
    """Check that ``public_key`` is the entry's key and signed its body for ``origin``.

    Raises:
        SignatureError: the key id differs (code ``key-mismatch``) or the signature does not
            verify over this origin and body.
    """
    if key_id(public_key) != entry.key:
        raise SignatureError("entry key id is not the id of the key given", code="key-mismatch")
    verify_signature(public_key, entry_signed_message(origin, entry.body), entry.sig)
