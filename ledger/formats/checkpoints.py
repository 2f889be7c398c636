"""C2SP tlog-checkpoint: the checkpoint body, its parser, and the election-ledger profile on top.

The generic parser accepts any C2SP checkpoint (extension lines, origins such as ``Log``); the
election-ledger profile (docs/spec.md, "Blocks and checkpoints": origin grammar, no extension
lines, a 32-byte root, signed by the publisher key named after the origin) is a separate check.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ledger.core.hashing import HASH_SIZE
from ledger.core.proofs import MAX_TREE_SIZE
from ledger.errors import InputError, MalformedError, SignatureError
from ledger.formats.keys import CONTROL_CHARACTERS, SIG_COSIGNATURE_V1, SIG_ED25519, VerifierKey
from ledger.formats.notes import Note, open_note
from ledger.formats.text import decode_base64, encode_base64, parse_decimal

MAX_ROOT_SIZE = 64
#: tlog-cosignature's ML-DSA message holds the origin in 1..255 bytes: our profile's limit too.
MAX_ORIGIN_SIZE = 255

_HOST_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_SEGMENT = re.compile(r"[A-Za-z0-9._-]+")


@dataclass(frozen=True, slots=True, kw_only=True)
class Checkpoint:
    """A tree head: origin, size, root hash, and (generic C2SP only) extension lines."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for line in (self.origin, *self.extensions):
            if not line or "\n" in line or CONTROL_CHARACTERS.search(line):
                raise ValueError(f"checkpoint line {line[:40]!r} is empty or has a control char")
        if isinstance(self.size, bool) or not 0 <= self.size <= MAX_TREE_SIZE:
            raise ValueError(f"tree size {self.size} out of range")
        if not 1 <= len(self.root) <= MAX_ROOT_SIZE:
            raise ValueError(f"root hash of {len(self.root)} bytes")


@dataclass(frozen=True, slots=True, kw_only=True)
class SignedCheckpoint:
    """A checkpoint opened from its note bytes (kept verbatim for receipts and blocks)."""

    checkpoint: Checkpoint
    note: Note
    note_bytes: bytes


def format_checkpoint(cp: Checkpoint) -> str:
    """The checkpoint note text: origin, size, base64 root, extension lines, each ending in LF."""
    lines = (cp.origin, str(cp.size), encode_base64(cp.root), *cp.extensions)
    return "".join(line + "\n" for line in lines)


def parse_checkpoint(text: str, *, category: str | None = "checkpoint") -> Checkpoint:
    """Parse a checkpoint note text strictly (generic C2SP: extension lines allowed).

    Raises:
        MalformedError: fewer than three lines, an empty line, a bad size or root hash.
    """
    if not text.endswith("\n") or CONTROL_CHARACTERS.search(text):
        raise MalformedError("checkpoint text must end with a newline and hold no control "
                             "characters", category=category)
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise MalformedError("checkpoint has fewer than three lines", category=category)
    if not all(lines):
        raise MalformedError("checkpoint has an empty line", category=category)
    origin, size_text, root_text, *extensions = lines
    size = parse_decimal(size_text, what="tree size", limit=MAX_TREE_SIZE, category=category)
    root = decode_base64(root_text, what="root hash", category=category)
    if not 1 <= len(root) <= MAX_ROOT_SIZE:
        raise MalformedError(f"root hash is {len(root)} bytes", category=category)
    return Checkpoint(origin=origin, size=size, root=root, extensions=tuple(extensions))


def open_checkpoint(data: bytes, verifiers: Iterable[VerifierKey]) -> SignedCheckpoint:
    """Open a checkpoint note with the given keys (generic: any known key will do).

    Raises:
        MalformedError: the note or checkpoint does not parse (category ``checkpoint``).
        SignatureError: as :func:`open_note` (category ``checkpoint``).
    """
    note = open_note(data, verifiers, category="checkpoint")
    return SignedCheckpoint(checkpoint=parse_checkpoint(note.text), note=note, note_bytes=data)


# --- the election-ledger profile (docs/spec.md, "Blocks and checkpoints")
# -----------------------------------------


def check_origin(origin: str) -> None:
    """Origin grammar: ``<host>/<segment>[/<segment>...]``, segments of ``A-Za-z0-9._-``.

    Raises:
        MalformedError: (category ``origin``) the origin breaks the grammar.
    """
    host, _, path = origin.partition("/")
    ok = (
        origin.isascii()
        and len(origin) <= MAX_ORIGIN_SIZE
        and len(host) <= 253
        and all(_HOST_LABEL.fullmatch(label) for label in host.split("."))
        and bool(path)
        and all(_SEGMENT.fullmatch(segment) for segment in path.split("/"))
    )
    if not ok:
        raise MalformedError(
            f"origin {origin[:80]!r} is not <host>/<election id> (segments of A-Z a-z 0-9 . _ -)",
            category="origin", code="bad-origin",
        )


def parse_origin(origin: str) -> str:
    """An origin a person gave (a trust input, not bytes from a log): ``origin`` if it holds.

    Raises:
        InputError: it breaks the grammar of :func:`check_origin`.
    """
    try:
        check_origin(origin)
    except MalformedError as e:
        raise InputError(e.message) from e
    return origin


def check_ledger_checkpoint(cp: Checkpoint) -> None:
    """The election-ledger profile of a checkpoint: origin grammar, 32-byte root, no extensions.

    Raises:
        MalformedError: (category ``origin`` or ``checkpoint``) the profile does not hold.
    """
    check_origin(cp.origin)
    if cp.extensions:
        raise MalformedError("an election-ledger checkpoint has no extension lines",
                             category="checkpoint", code="checkpoint-extension")
    if len(cp.root) != HASH_SIZE:
        raise MalformedError(f"root hash is {len(cp.root)} bytes, expected {HASH_SIZE}",
                             category="checkpoint")


def open_ledger_checkpoint(
    data: bytes,
    publisher: VerifierKey,
    witnesses: Sequence[VerifierKey] = (),
    *,
    quorum: int = 0,
) -> SignedCheckpoint:
    """Open an election-ledger checkpoint: publisher signed it, profile holds, witness quorum.

    Witness cosignatures of the given keys must verify; at least ``quorum`` must be present.

    Raises:
        MalformedError: the note or checkpoint does not parse or breaks the profile.
        SignatureError: (category ``checkpoint``) a bad signature of a known key, no publisher
            signature, or too few witness cosignatures.
    """
    if publisher.type != SIG_ED25519 or any(w.type != SIG_COSIGNATURE_V1 for w in witnesses):
        raise ValueError("the publisher key has type 0x01 and witness keys type 0x04")
    signed = open_checkpoint(data, [publisher, *witnesses])
    cp = signed.checkpoint
    if cp.origin != publisher.name:
        raise MalformedError(f"checkpoint origin {cp.origin!r} is not the publisher key's name "
                             f"{publisher.name!r}", category="origin", code="origin-mismatch")
    if publisher not in signed.note.verified_keys:
        raise SignatureError(f"checkpoint is not signed by the publisher key "
                             f"{publisher.name}+{publisher.key_hash.hex()}",
                             category="checkpoint", code="not-signed-by-publisher")
    check_ledger_checkpoint(cp)
    cosigned = [w for w in witnesses if w in signed.note.verified_keys]
    if len(cosigned) < quorum:
        raise SignatureError(f"checkpoint has {len(cosigned)} witness cosignatures, "
                             f"quorum is {quorum}", category="checkpoint", code="quorum")
    return signed
