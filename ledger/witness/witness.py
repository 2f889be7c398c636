"""The witness's answer to a C2SP tlog-witness ``add-checkpoint`` request, in the order of checks
of docs/spec.md ("Witness protocol"): 400, 404, 403, 409, 409 (same size, other root), 422,
then the new state written durably, and only then 200 with a cosignature line.

The logs it witnesses and their keys come from its own policy's ``log`` lines, never from a
request. Requests for one origin MUST be serialised by the caller (the server holds a lock per
origin); nothing here blocks on the network.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from ledger.auditor.evidence import same_size_evidence
from ledger.core.hashing import HASH_SIZE, sha256
from ledger.core.proofs import MAX_TREE_SIZE, verify_consistency
from ledger.errors import MalformedError, ProofError, SignatureError
from ledger.formats.checkpoints import (
    Checkpoint,
    format_checkpoint,
    open_checkpoint,
    parse_checkpoint,
)
from ledger.formats.keys import NoteSigner, VerifierKey
from ledger.formats.notes import (
    MAX_NOTE_SIZE,
    MAX_SIGNATURES,
    UnverifiedNote,
    cosign,
    format_note,
    parse_unverified_note,
    verify_note,
)
from ledger.formats.policy import Policy
from ledger.formats.text import decode_base64, parse_decimal
from ledger.witness.state import WitnessState

#: C2SP tlog-witness: at most 63 consistency proof lines.
MAX_PROOF_LINES = 63
#: The largest request body accepted: the note plus 63 proof lines and the old line.
MAX_BODY = MAX_NOTE_SIZE + 64 * 64
SIZE_CONTENT_TYPE = "text/x.tlog.size"


@dataclass(frozen=True, slots=True, kw_only=True)
class Answer:
    """An HTTP answer: status, one-line (or cosignature) body, content type, and a log line."""

    status: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"
    origin: str | None = None
    log: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Cosigning:
    """A request that passed every check: the state to write durably, then the 200 answer."""

    origin: str
    checkpoint: Checkpoint
    state: bytes
    answer: Answer


@dataclass(frozen=True, slots=True, kw_only=True)
class AddCheckpoint:
    """A parsed request: the size the client says we hold, its proof, and the signed note."""

    old: int
    proof: tuple[bytes, ...]
    note: bytes


def parse_add_checkpoint(body: bytes) -> AddCheckpoint:
    """Parse ``old <size>``, up to 63 base64 proof hashes, an empty line, the signed note.

    Raises:
        MalformedError: anything else.
    """
    cut = body.find(b"\n\n")
    if cut < 0:
        raise MalformedError("the request has no empty line before the checkpoint")
    try:
        head = body[:cut].decode("ascii").split("\n")
    except UnicodeDecodeError as e:
        raise MalformedError("the old line and proof lines are not ASCII") from e
    first, lines = head[0], head[1:]
    if not first.startswith("old "):
        raise MalformedError("the first line is not 'old <size>'")
    old = parse_decimal(first[4:], what="old size", limit=MAX_TREE_SIZE)
    if len(lines) > MAX_PROOF_LINES:
        raise MalformedError(f"{len(lines)} proof lines, at most {MAX_PROOF_LINES}")
    proof = []
    for line in lines:
        h = decode_base64(line, what="proof hash")
        if len(h) != HASH_SIZE:
            raise MalformedError(f"a proof hash is {len(h)} bytes, expected {HASH_SIZE}")
        proof.append(h)
    return AddCheckpoint(old=old, proof=tuple(proof), note=body[cut + 2 :])


def _text(status: int, message: str, origin: str | None = None) -> Answer:
    return Answer(status=status, body=(message + "\n").encode(), origin=origin, log=message)


class Witness:
    """One witness: its cosigning key, the logs of its policy, and its state folder."""

    def __init__(self, key: NoteSigner, policy: Policy, state: WitnessState,
                 clock: Callable[[], float] = time.time) -> None:
        if key.type != 0x04:
            raise ValueError("a witness key has type 0x04 (cosignature/v1)")
        self.key = key
        self.logs: dict[str, VerifierKey] = {log.key.name: log.key for log in policy.logs}
        self.state = state
        self.clock = clock
        #: Per origin, the state bytes last read or written and their checkpoint, so a state
        #: file that did not change is not parsed and its signature not checked again.
        self._held: dict[str, tuple[bytes, Checkpoint]] = {}

    def add_checkpoint(self, body: bytes) -> Answer:
        """Answer one ``add-checkpoint`` request (the caller holds the origin's lock)."""
        checked = self.check(body)
        return self.finish(checked) if isinstance(checked, Cosigning) else checked

    def finish(self, cosigning: Cosigning) -> Answer:
        """Write the new state durably, and only then give the 200 answer.

        Raises:
            StoreError: the state cannot be written (nothing is answered 200).
        """
        self.state.write(cosigning.origin, cosigning.state)
        self._held[cosigning.origin] = (cosigning.state, cosigning.checkpoint)
        return cosigning.answer

    def check(self, body: bytes) -> Answer | Cosigning:
        """Every check of an ``add-checkpoint`` request: the refusal, or the cosigned state to
        write with :meth:`finish` before answering (the caller holds the origin's lock from
        this call until ``finish`` returns)."""
        try:
            request = parse_add_checkpoint(body)
            checkpoint, note, sig_error = _checkpoint_of(request.note)
        except MalformedError as e:
            return _text(400, f"malformed request: {e.message}")
        origin = checkpoint.origin
        if request.old > checkpoint.size:
            return _text(400, f"old {request.old} is larger than the checkpoint's size "
                              f"{checkpoint.size}", origin)
        log_key = self.logs.get(origin)
        if log_key is None:
            return _text(404, "unknown log origin", origin)
        if note is None:
            return _text(403, f"no valid signature of the log's key: {sig_error}", origin)
        try:
            verify_note(note, [log_key], category="checkpoint")
        except (SignatureError, MalformedError) as e:
            return _text(403, f"no valid signature of the log's key: {e.message}", origin)
        held_note = self.state.read(origin)
        held = None if held_note is None else self._held_checkpoint(origin, held_note, log_key)
        held_size = 0 if held is None else held.size
        if request.old != held_size:
            return Answer(status=409, body=f"{held_size}\n".encode(),
                          content_type=SIZE_CONTENT_TYPE, origin=origin,
                          log=f"old {request.old} is not the size held, {held_size}")
        if held is not None and held_note is not None and held.size == checkpoint.size \
                and held.root != checkpoint.root:
            path = self.state.keep_evidence(origin, held.size, same_size_evidence(
                _log_signed(parse_unverified_note(held_note), log_key),
                _log_signed(note, log_key)))
            return _text(409, f"a checkpoint of size {held.size} with another root: split view, "
                              f"evidence kept in {path.name}", origin)
        try:
            old_root = sha256(b"") if held is None else held.root
            verify_consistency(held_size, checkpoint.size, request.proof, old_root,
                               checkpoint.root)
        except ProofError as e:
            return _text(422, f"the consistency proof does not verify: {e.message}", origin)
        line = cosign(format_checkpoint(checkpoint), self.key, int(self.clock()))
        return Cosigning(origin=origin, checkpoint=checkpoint,
                         state=_log_signed(note, log_key) + line,
                         answer=Answer(status=200, body=line,
                                       content_type="text/plain; charset=utf-8", origin=origin,
                                       log=f"cosigned size {checkpoint.size} (from {held_size})"))

    def _held_checkpoint(self, origin: str, note: bytes, log_key: VerifierKey) -> Checkpoint:
        cached = self._held.get(origin)
        if cached is not None and cached[0] == note:
            return cached[1]
        checkpoint = open_checkpoint(note, [log_key]).checkpoint
        self._held[origin] = (note, checkpoint)
        return checkpoint

    def latest(self, origin_hash: str) -> bytes | None:
        """The latest cosigned checkpoint of the origin whose hex SHA-256 is ``origin_hash``."""
        for origin in self.logs:
            if sha256(origin.encode("utf-8")).hex() == origin_hash:
                return self.state.read(origin)
        return None


def _checkpoint_of(note: bytes) -> tuple[Checkpoint, UnverifiedNote | None, str]:
    """The checkpoint of a request's note and the note parsed, or None and why its signature
    lines do not parse (a 403, as for a signature that does not verify).

    Raises:
        MalformedError: the note's structure or its checkpoint text does not parse (a 400).
    """
    try:
        parsed = parse_unverified_note(note)
        return parse_checkpoint(parsed.text), parsed, ""
    except MalformedError as e:
        text, sep, lines = note.rpartition(b"\n\n")
        if not sep or lines.count(b"\n") > MAX_SIGNATURES or not lines.endswith(b"\n"):
            raise
        try:
            checkpoint = parse_checkpoint(text.decode("utf-8") + "\n")
        except (UnicodeDecodeError, MalformedError):
            raise e from None
        return checkpoint, None, e.message




def _log_signed(note: UnverifiedNote, log_key: VerifierKey) -> bytes:
    """The note with only the log's signature line (what evidence and the state hold)."""
    sigs = [s for s in note.signatures if (s.name, s.key_hash) == (log_key.name,
                                                                   log_key.key_hash)]
    return format_note(note.text, sigs[:1])


