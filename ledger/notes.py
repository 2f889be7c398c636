"""C2SP signed notes, verifier and signer keys, and cosignatures (DESIGN.md 4, 5).

The parsers are generic C2SP (signed-note, tlog-cosignature); checkpoint bodies and the
election-ledger profile are in :mod:`ledger.checkpoints`. Key strings are trust inputs: one that
does not parse is an :class:`InputError` (exit 2).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ledger.errors import InputError, MalformedError, SignatureError
from ledger.hashing import sha256
from ledger.signing import PUBLIC_KEY_SIZE, SIGNATURE_SIZE, Signer, verify_signature

#: Signature types of C2SP signed-note: Ed25519 note signatures and cosignature/v1.
SIG_ED25519 = 0x01
SIG_COSIGNATURE_V1 = 0x04
KEY_HASH_SIZE = 4
#: C2SP signed-note: accept at least 16 signature lines; we refuse more than 100.
MAX_SIGNATURES = 100
#: Upper bound on a whole note (room for 100 post-quantum signatures of foreign keys).
MAX_NOTE_SIZE = 1 << 20
MAX_KEY_STRING = 4096
#: C2SP tlog-cosignature: the timestamp MUST NOT exceed 2^63 - 1.
MAX_TIMESTAMP = (1 << 63) - 1

SIGNATURE_PREFIX = "\u2014 "  # em dash, space
COSIGNATURE_HEADER = "cosignature/v1\n"
PRIVATE_KEY_PREFIX = "PRIVATE+KEY+"

_SUPPORTED_TYPES = (SIG_ED25519, SIG_COSIGNATURE_V1)
CONTROL_CHARACTERS = re.compile("[\x00-\x09\x0b-\x1f]")
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,19}")
_HEX8 = re.compile(r"[0-9a-f]{8}")


# --- strict scalar parsing -------------------------------------------------------------------


def decode_base64(text: str, *, what: str, category: str | None = None) -> bytes:
    """Standard padded base64, canonical only (re-encoding must give ``text`` back).

    Raises:
        MalformedError: not base64, or not its canonical form.
    """
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError as e:  # binascii.Error, or non-ASCII text
        raise MalformedError(f"{what} is not valid base64", category=category) from e
    if base64.b64encode(raw).decode("ascii") != text:
        raise MalformedError(f"{what} is not canonical base64", category=category)
    return raw


def encode_base64(data: bytes) -> str:
    """Standard padded base64 text."""
    return base64.b64encode(data).decode("ascii")


def parse_decimal(text: str, *, what: str, limit: int, category: str | None = None) -> int:
    """ASCII decimal without leading zeros, at most ``limit``.

    Raises:
        MalformedError: anything else.
    """
    if not _DECIMAL.fullmatch(text) or int(text) > limit:
        raise MalformedError(
            f"{what} must be a decimal from 0 to {limit} without leading zeros, got {text[:40]!r}",
            category=category,
        )
    return int(text)


def is_valid_key_name(name: str) -> bool:
    """C2SP signed-note key name: non-empty, no Unicode spaces, no ``+``, no control characters."""
    return (
        bool(name)
        and "+" not in name
        and not any(c.isspace() for c in name)
        and not CONTROL_CHARACTERS.search(name)
    )


def note_key_hash(name: str, sig_type: int, public_key: bytes) -> bytes:
    """C2SP key ID: SHA-256(name || 0x0A || type || public key)[:4]."""
    return sha256(name.encode("utf-8") + b"\n" + bytes([sig_type]) + public_key)[:KEY_HASH_SIZE]


# --- keys --------------------------------------------------------------------------------------


def _check_key_fields(name: str, key_hash: bytes, sig_type: int, public_key: bytes) -> None:
    if not is_valid_key_name(name):
        raise ValueError(f"invalid key name {name!r}")
    if sig_type not in _SUPPORTED_TYPES:
        raise ValueError(f"unsupported signature type 0x{sig_type:02x}")
    if len(public_key) != PUBLIC_KEY_SIZE:
        raise ValueError(f"an Ed25519 public key is 32 bytes, got {len(public_key)}")
    if key_hash != note_key_hash(name, sig_type, public_key):
        raise ValueError(f"key hash {key_hash.hex()} does not match key {name!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifierKey:
    """A C2SP verifier key: name, 4-byte key hash, type (0x01 or 0x04), Ed25519 public key."""

    name: str
    key_hash: bytes
    type: int
    public_key: bytes

    def __post_init__(self) -> None:
        _check_key_fields(self.name, self.key_hash, self.type, self.public_key)

    def __str__(self) -> str:
        return format_verifier_key(self)


def verifier_key_for(name: str, public_key: bytes, type: int = SIG_ED25519) -> VerifierKey:  # noqa: A002
    """The verifier key of ``public_key`` under ``name`` (key hash computed)."""
    return VerifierKey(
        name=name, key_hash=note_key_hash(name, type, public_key), type=type, public_key=public_key
    )


def format_verifier_key(key: VerifierKey) -> str:
    """``name+hex8+base64(type || public key)``."""
    material = encode_base64(bytes([key.type]) + key.public_key)
    return f"{key.name}+{key.key_hash.hex()}+{material}"


def _split_key_string(s: str, what: str) -> tuple[str, bytes, int, bytes]:
    """Split ``name+hex8+base64(type || key)`` strictly; raises InputError."""
    if len(s) > MAX_KEY_STRING:
        raise InputError(f"{what} is longer than {MAX_KEY_STRING} characters")
    parts = s.split("+", 2)
    if len(parts) != 3:
        raise InputError(f"{what} must be name+hex8+base64, got {len(parts)} '+'-separated parts")
    name, hex8, b64 = parts
    if not is_valid_key_name(name):
        raise InputError(f"{what} has an invalid key name {name[:80]!r}")
    if not _HEX8.fullmatch(hex8):
        raise InputError(f"{what} key hash must be 8 lower-case hex digits, got {hex8[:20]!r}")
    try:
        material = decode_base64(b64, what=f"{what} key material")
    except MalformedError as e:
        raise InputError(e.message) from e
    if len(material) != 1 + PUBLIC_KEY_SIZE or material[0] not in _SUPPORTED_TYPES:
        raise InputError(f"{what} is not an Ed25519 (0x01) or cosignature/v1 (0x04) key")
    return name, bytes.fromhex(hex8), material[0], material[1:]


def parse_verifier_key(s: str) -> VerifierKey:
    """Parse a verifier key string and check its key hash.

    Raises:
        InputError: not a verifier key string, unsupported type, or key hash mismatch.
    """
    name, key_hash, sig_type, public_key = _split_key_string(s.removesuffix("\n"), "verifier key")
    if key_hash != note_key_hash(name, sig_type, public_key):
        raise InputError(f"verifier key hash {key_hash.hex()} does not match the key")
    return VerifierKey(name=name, key_hash=key_hash, type=sig_type, public_key=public_key)


@dataclass(frozen=True, slots=True, kw_only=True)
class NoteSigner:
    """A private note key: name, key hash, type (0x01 notes, 0x04 cosignatures) and signer."""

    name: str
    key_hash: bytes
    signer: Signer = field(repr=False)
    type: int = SIG_ED25519

    def __post_init__(self) -> None:
        _check_key_fields(self.name, self.key_hash, self.type, self.signer.public_key)

    @property
    def verifier_key(self) -> VerifierKey:
        """The matching verifier key."""
        return verifier_key_for(self.name, self.signer.public_key, self.type)


def note_signer_for(name: str, signer: Signer, type: int = SIG_ED25519) -> NoteSigner:  # noqa: A002
    """A note signer for ``signer`` under ``name`` (key hash computed)."""
    return NoteSigner(
        name=name, key_hash=note_key_hash(name, type, signer.public_key), signer=signer, type=type
    )


def as_cosigner(key: NoteSigner) -> NoteSigner:
    """The same Ed25519 key as a cosignature/v1 (type 0x04) signer, as witnesses use it."""
    return note_signer_for(key.name, key.signer, SIG_COSIGNATURE_V1)


def parse_signer_key(s: str) -> NoteSigner:
    """Parse the Go form ``PRIVATE+KEY+name+hex8+base64(type || seed)``.

    Raises:
        InputError: not a signer key string, or its key hash does not match.
    """
    s = s.removesuffix("\n")
    if not s.startswith(PRIVATE_KEY_PREFIX):
        raise InputError(f"a signer key starts with {PRIVATE_KEY_PREFIX!r}")
    name, key_hash, sig_type, seed = _split_key_string(s[len(PRIVATE_KEY_PREFIX) :], "signer key")
    signer = Signer(seed)
    if key_hash != note_key_hash(name, sig_type, signer.public_key):
        raise InputError(f"signer key hash {key_hash.hex()} does not match the key")
    return NoteSigner(name=name, key_hash=key_hash, signer=signer, type=sig_type)


def format_signer_key(key: NoteSigner) -> str:
    """``PRIVATE+KEY+name+hex8+base64(type || seed)``: keep it secret."""
    material = encode_base64(bytes([key.type]) + key.signer.seed)
    return f"{PRIVATE_KEY_PREFIX}{key.name}+{key.key_hash.hex()}+{material}"


# --- signed notes ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class NoteSignature:
    """One signature line: key name, key hash, and the signature bytes after the hash."""

    name: str
    key_hash: bytes
    signature: bytes

    def line(self) -> str:
        """The signature line, newline included."""
        return f"{SIGNATURE_PREFIX}{self.name} {encode_base64(self.key_hash + self.signature)}\n"


@dataclass(frozen=True, slots=True, kw_only=True)
class UnverifiedNote:
    """A note split into text and signature lines; nothing verified: do not trust the text."""

    text: str
    signatures: tuple[NoteSignature, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Note:
    """An opened note: its text, every signature line, and the known keys that verified."""

    text: str
    signatures: tuple[NoteSignature, ...]
    verified_keys: tuple[VerifierKey, ...]

    @property
    def verified_by(self) -> tuple[str, ...]:
        """Names of the known keys whose signature verified, in note order."""
        return tuple(k.name for k in self.verified_keys)


def format_note(text: str, signatures: Sequence[NoteSignature]) -> bytes:
    """Note bytes: text, blank line, signature lines (to add or drop cosignatures)."""
    _check_note_text(text)
    if not 1 <= len(signatures) <= MAX_SIGNATURES:
        raise ValueError(f"a note has 1 to {MAX_SIGNATURES} signatures, got {len(signatures)}")
    return (text + "\n" + "".join(s.line() for s in signatures)).encode("utf-8")


def _check_note_text(text: str) -> None:
    if not text.endswith("\n") or CONTROL_CHARACTERS.search(text):
        raise ValueError("note text must end with a newline and hold no control characters")


def _parse_signature_line(line: str, category: str | None) -> NoteSignature:
    """One signature line without its newline: ``— <name> <base64(hash || sig)>``."""
    if not line.startswith(SIGNATURE_PREFIX):
        raise MalformedError(f"signature line does not start with an em dash: {line[:40]!r}",
                             category=category)
    name, _, b64 = line[len(SIGNATURE_PREFIX) :].partition(" ")
    if not is_valid_key_name(name):
        raise MalformedError(f"invalid key name in signature line: {name[:80]!r}",
                             category=category)
    raw = decode_base64(b64, what=f"signature of {name}", category=category)
    if len(raw) <= KEY_HASH_SIZE:
        raise MalformedError(f"signature of {name} is too short", category=category)
    return NoteSignature(name=name, key_hash=raw[:KEY_HASH_SIZE], signature=raw[KEY_HASH_SIZE:])


def parse_signature_line(line: bytes | str, *, category: str | None = None) -> NoteSignature:
    """Parse one signature line (with its final newline), as a witness returns it.

    Raises:
        MalformedError: not exactly one well-formed signature line.
    """
    try:
        text = line.decode("utf-8") if isinstance(line, bytes) else line
    except UnicodeDecodeError as e:
        raise MalformedError("signature line is not UTF-8", category=category) from e
    if not text.endswith("\n") or "\n" in text[:-1] or CONTROL_CHARACTERS.search(text):
        raise MalformedError("a signature line is one line ending in a newline",
                             category=category)
    return _parse_signature_line(text[:-1], category)


def parse_unverified_note(data: bytes, *, category: str | None = None) -> UnverifiedNote:
    """Split a signed note into text and signatures (C2SP signed-note), verifying nothing.

    Raises:
        MalformedError: too big, not UTF-8, control characters, no blank line, no signature
            lines or more than 100, or a malformed signature line.
    """
    if len(data) > MAX_NOTE_SIZE:
        raise MalformedError(f"note is larger than {MAX_NOTE_SIZE} bytes", category=category)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise MalformedError("note is not valid UTF-8", category=category) from e
    if CONTROL_CHARACTERS.search(text):
        raise MalformedError("note contains a control character", category=category)
    if not text.endswith("\n"):
        raise MalformedError("note does not end with a newline", category=category)
    cut = text.rfind("\n\n")  # the text is separated by the LAST blank line
    if cut < 0 or cut + 2 == len(text):
        raise MalformedError("note has no signature lines after a blank line", category=category)
    lines = text[cut + 2 : -1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise MalformedError(f"note has more than {MAX_SIGNATURES} signatures", category=category)
    sigs = tuple(_parse_signature_line(line, category) for line in lines)
    return UnverifiedNote(text=text[: cut + 1], signatures=sigs)


def sign_note(text: str, signers: Sequence[NoteSigner]) -> bytes:
    """Sign ``text`` (ending in a newline) with Ed25519 note keys (type 0x01), in order."""
    _check_note_text(text)
    if any(s.type != SIG_ED25519 for s in signers):
        raise ValueError("sign_note takes Ed25519 note keys; use cosign for cosignatures")
    message = text.encode("utf-8")
    sigs = [NoteSignature(name=s.name, key_hash=s.key_hash, signature=s.signer.sign(message))
            for s in signers]
    return format_note(text, sigs)


def _verify_one(key: VerifierKey, text: str, sig: NoteSignature, category: str | None) -> int:
    """Verify one signature of a known key; returns the cosignature timestamp (0 for 0x01)."""
    timestamp = 0
    raw = sig.signature
    if key.type == SIG_COSIGNATURE_V1:
        if len(raw) != 8 + SIGNATURE_SIZE:
            raise SignatureError(f"cosignature of {key.name} is {len(raw)} bytes, expected 72",
                                 category=category)
        timestamp = int.from_bytes(raw[:8], "big")
        if timestamp > MAX_TIMESTAMP:
            raise SignatureError(f"cosignature of {key.name} has a timestamp over 2^63 - 1",
                                 category=category)
        message, raw = cosignature_message(text, timestamp), raw[8:]
    else:
        message = text.encode("utf-8")
    try:
        verify_signature(key.public_key, message, raw)
    except SignatureError as e:
        raise SignatureError(f"invalid signature for key {key.name}+{key.key_hash.hex()}: "
                             f"{e.message}", category=category, code="bad-note-signature") from e
    return timestamp


def open_note(
    data: bytes, verifiers: Iterable[VerifierKey], *, category: str | None = None
) -> Note:
    """Parse a signed note and verify every signature of a known key (name and hash match).

    Unknown keys are ignored. ``category`` labels the errors (``checkpoint`` for checkpoints).

    Raises:
        MalformedError: the note does not parse, or a known key signed it twice.
        SignatureError: a known key's signature fails, or no known key signed it.
    """
    note = parse_unverified_note(data, category=category)
    known = {(v.name, v.key_hash): v for v in verifiers}
    verified: list[VerifierKey] = []
    for sig in note.signatures:
        key = known.get((sig.name, sig.key_hash))
        if key is None:
            continue
        if key in verified:
            raise MalformedError(f"note has two signatures of key {key.name}", category=category)
        _verify_one(key, note.text, sig, category)
        verified.append(key)
    if not verified:
        raise SignatureError("note has no signature from a known key", category=category,
                             code="no-known-signature")
    return Note(text=note.text, signatures=note.signatures, verified_keys=tuple(verified))


# --- cosignatures (C2SP tlog-cosignature, cosignature/v1) ----------------------------------------


def cosignature_message(checkpoint_text: str, timestamp: int) -> bytes:
    """The bytes a cosignature/v1 signs: header, ``time <T>`` line, checkpoint text."""
    return f"{COSIGNATURE_HEADER}time {timestamp}\n{checkpoint_text}".encode()


def cosign(checkpoint_text: str, witness: NoteSigner, timestamp: int) -> bytes:
    """A witness's cosignature/v1 signature line (newline included) over a checkpoint text."""
    _check_note_text(checkpoint_text)
    if witness.type != SIG_COSIGNATURE_V1:
        raise ValueError("a cosigner key has type 0x04 (see as_cosigner)")
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise ValueError(f"timestamp {timestamp} out of range")
    sig = witness.signer.sign(cosignature_message(checkpoint_text, timestamp))
    line = NoteSignature(name=witness.name, key_hash=witness.key_hash,
                         signature=timestamp.to_bytes(8, "big") + sig).line()
    return line.encode("utf-8")


def verify_cosignature(
    checkpoint_text: str, line: bytes | str | NoteSignature, witness: VerifierKey
) -> int:
    """Check one witness cosignature line over ``checkpoint_text``; return its timestamp.

    Raises:
        MalformedError: the line does not parse.
        SignatureError: the line is not this witness's, or does not verify.
    """
    if witness.type != SIG_COSIGNATURE_V1:
        raise ValueError("a witness key has type 0x04")
    sig = line if isinstance(line, NoteSignature) else parse_signature_line(line)
    if (sig.name, sig.key_hash) != (witness.name, witness.key_hash):
        raise SignatureError(f"cosignature is by {sig.name}+{sig.key_hash.hex()}, "
                             f"not by witness {witness.name}+{witness.key_hash.hex()}")
    return _verify_one(witness, checkpoint_text, sig, None)
