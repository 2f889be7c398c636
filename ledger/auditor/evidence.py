"""Split-view evidence (docs/spec.md, "Split-view evidence"): two checkpoints of one origin,
both signed by the log's key, that cannot both be honest; made and checked offline, pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ledger.core.hashing import sha256
from ledger.core.proofs import roots_from_consistency_path
from ledger.errors import InputError, MalformedError, ProofError, VerificationError
from ledger.formats.checkpoints import Checkpoint, open_checkpoint, parse_checkpoint
from ledger.formats.keys import VerifierKey
from ledger.formats.notes import MAX_NOTE_SIZE, parse_unverified_note
from ledger.formats.text import decode_base64, encode_base64, parse_decimal

HEADER = "election-ledger/split-view@v1"
MAX_EVIDENCE_SIZE = 2 * MAX_NOTE_SIZE + 64 * 64
MAX_PATH = 65


@dataclass(frozen=True, slots=True, kw_only=True)
class Evidence:
    """A parsed evidence file: ``prefix`` is None for ``same-size``, else m and the path."""

    prefix: int | None
    path: tuple[bytes, ...]
    older: bytes
    newer: bytes


def same_size_evidence(older: bytes, newer: bytes) -> bytes:
    """The ``same-size`` form: two signed notes of one size with two roots."""
    return f"{HEADER}\nsame-size\n\n".encode() + older + b"\n" + newer


def prefix_evidence(older: bytes, newer: bytes, m: int, path: Sequence[bytes]) -> bytes:
    """The ``prefix <m>`` form: the newer tree's consistency path from m (with the seed node
    over [0, m) first when m is a power of two)."""
    lines = "".join(encode_base64(h) + "\n" for h in path)
    return f"{HEADER}\nprefix {m}\n{lines}\n".encode() + older + b"\n" + newer


def parse_evidence(data: bytes) -> Evidence:
    """Parse an evidence file strictly.

    Raises:
        InputError: not an evidence file (header, form line, hashes, or the two notes).
    """
    if len(data) > MAX_EVIDENCE_SIZE:
        raise InputError(f"not an evidence file: larger than {MAX_EVIDENCE_SIZE} bytes")
    head, sep, rest = data.partition(b"\n\n")
    try:
        lines = head.decode("ascii").split("\n")
    except UnicodeDecodeError as e:
        raise InputError("not an evidence file: the header is not ASCII") from e
    if not sep or lines[0] != HEADER or len(lines) < 2:
        raise InputError(f"not an evidence file: it does not start with {HEADER}")
    prefix: int | None = None
    path: tuple[bytes, ...] = ()
    try:
        if lines[1] == "same-size":
            if len(lines) != 2:
                raise InputError("not an evidence file: same-size takes no hashes")
        elif lines[1].startswith("prefix "):
            prefix = parse_decimal(lines[1][7:], what="prefix size", limit=(1 << 64) - 1)
            if len(lines) - 2 > MAX_PATH:
                raise InputError(f"not an evidence file: more than {MAX_PATH} hashes")
            path = tuple(decode_base64(h, what="path hash") for h in lines[2:])
        else:
            raise InputError(f"not an evidence file: unknown form {lines[1][:40]!r}")
    except MalformedError as e:
        raise InputError(f"not an evidence file: {e.message}") from e
    # The older note holds one blank line (before its signatures); the next one ends it.
    first = rest.find(b"\n\n")
    cut = rest.find(b"\n\n", first + 2) if first >= 0 else -1
    if cut < 0:
        raise InputError("not an evidence file: two signed notes must follow, an empty line "
                         "between them")
    older, newer = rest[: cut + 1], rest[cut + 2 :]
    for what, note in (("older", older), ("newer", newer)):
        try:
            parse_checkpoint(parse_unverified_note(note).text)
        except MalformedError as e:
            raise InputError(f"not an evidence file: the {what} note: {e.message}") from e
    return Evidence(prefix=prefix, path=path, older=older, newer=newer)


def check_evidence(evidence: Evidence, log_key: VerifierKey) -> str:
    """Check evidence offline; returns why it proves nothing, when it proves nothing.

    Raises:
        VerificationError: (category ``equivocation``, code ``split-view``) it proves that
            the log signed two checkpoints that cannot both be honest.
    """
    opened: list[Checkpoint] = []
    for what, note in (("older", evidence.older), ("newer", evidence.newer)):
        try:
            opened.append(open_checkpoint(note, [log_key]).checkpoint)
        except VerificationError as e:
            return f"the {what} note is not signed by {log_key.name}: {e.message}"
    older, newer = opened
    if older.origin != log_key.name or newer.origin != log_key.name:
        return f"the notes are not both of origin {log_key.name}"
    if evidence.prefix is None:
        if older.size != newer.size:
            return f"same-size evidence with sizes {older.size} and {newer.size}"
        if older.root == newer.root:
            return "the two checkpoints have the same root"
        raise VerificationError(
            f"the log {log_key.name} signed two checkpoints of size {older.size} with roots "
            f"{older.root.hex()} and {newer.root.hex()}", category="equivocation",
            code="split-view")
    m, n = evidence.prefix, newer.size
    if older.size != m:
        return f"prefix {m} but the older checkpoint has size {older.size}"
    try:
        root_m, root_n = roots_from_consistency_path(m, n, evidence.path)
    except ProofError as e:
        return f"the path from {m} to {n} is not a consistency path: {e.message}"
    if root_n != newer.root:
        return f"the path does not give the newer checkpoint's root at size {n}"
    if root_m == older.root:
        return f"the newer tree does extend the older one: its root at size {m} is the older's"
    raise VerificationError(
        f"the log {log_key.name} signed a checkpoint of size {m} with root {older.root.hex()}, "
        f"and one of size {n} whose tree has root {root_m.hex()} at size {m}",
        category="equivocation", code="split-view")


@dataclass(frozen=True, slots=True, kw_only=True)
class SplitView:
    """Evidence that checks (proved), its default file name and what it proves."""

    evidence: bytes
    name: str
    message: str


def evidence_name(origin: str, m: int, n: int) -> str:
    """``evidence-<first 8 hex of the origin hash>-<m>-<n>.txt``."""
    return f"evidence-{sha256(origin.encode('utf-8')).hex()[:8]}-{m}-{n}.txt"


def make_split_view(
    log_key: VerifierKey, older: bytes, newer: bytes, m: int, n: int, path: Sequence[bytes]
) -> SplitView | None:
    """The evidence that notes ``older`` (size m) and ``newer`` (size n) cannot both be honest,
    given the newer tree's path from m (seed first when m is a power of two; empty when m == n);
    None when it would prove nothing (e.g. a damaged source whose nodes miss the newer root)."""
    if m == n:
        evidence = same_size_evidence(older, newer)
    elif m == 0:
        return None
    else:
        evidence = prefix_evidence(older, newer, m, path)
    try:
        check_evidence(parse_evidence(evidence), log_key)
    except VerificationError as e:
        if e.category == "equivocation":
            return SplitView(evidence=evidence, name=evidence_name(log_key.name, m, n),
                             message=e.message)
    return None
