"""C2SP signed notes and cosignature/v1 lines (generic C2SP; checkpoint bodies and the
election-ledger profile are in :mod:`ledger.formats.checkpoints`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ledger.errors import MalformedError, SignatureError
from ledger.formats.keys import (
    CONTROL_CHARACTERS,
    KEY_HASH_SIZE,
    SIG_COSIGNATURE_V1,
    SIG_ED25519,
    NoteSigner,
    VerifierKey,
    is_valid_key_name,
)
from ledger.formats.signing import SIGNATURE_SIZE, verify_signature
from ledger.formats.text import decode_base64, encode_base64

#: C2SP signed-note: accept at least 16 signature lines; we refuse more than 100.
MAX_SIGNATURES = 100
#: Upper bound on a whole note (room for 100 post-quantum signatures of foreign keys).
MAX_NOTE_SIZE = 1 << 20
#: C2SP tlog-cosignature: the timestamp MUST NOT exceed 2^63 - 1.
MAX_TIMESTAMP = (1 << 63) - 1

SIGNATURE_PREFIX = "\u2014 "  # em dash, space
COSIGNATURE_HEADER = "cosignature/v1\n"



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
    return verify_note(parse_unverified_note(data, category=category), verifiers,
                       category=category)


def verify_note(
    note: UnverifiedNote, verifiers: Iterable[VerifierKey], *, category: str | None = None
) -> Note:
    """Verify a parsed note's signatures of known keys, as :func:`open_note` does.

    Raises:
        MalformedError: a known key signed it twice.
        SignatureError: a known key's signature fails, or no known key signed it.
    """
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
        signers = ", ".join(f"{s.name}+{s.key_hash.hex()}" for s in note.signatures)
        expected = ", ".join(f"{v.name}+{v.key_hash.hex()}" for v in known.values())
        raise SignatureError(f"note has no signature from a known key: signed by {signers}; "
                             f"the key given is {expected or 'none'}", category=category,
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


