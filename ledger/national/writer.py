"""The national publisher (docs/spec.md, "One log per county under a national log"): one
ordinary ledger, written by the publisher's :class:`~ledger.publisher.ledger.Ledger`, whose
entry 1 is a ``log`` record.

:func:`register_log` appends the ``log`` record of one county log. :func:`update` fetches every
registered county's latest checkpoint (side by side, in threads: it waits on the network),
verifies it with the registered key, proves it consistent with the last one the national log
recorded (a consistency proof from the county's own tiles), appends one ``checkpoint`` record
per county that moved on, and seals. A county whose source is down, which forked or rolled
back, or whose checkpoint is not a block checkpoint of its log with that root (rule 4, read
from its tiles and entry bundles), is refused and said so (with the evidence, for a fork or a
rollback); the others go on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ledger.auditor.evidence import evidence_name, make_split_view
from ledger.auditor.national import (
    block_checkpoint_problem,
    county_spec,
    read_block_checkpoint,
)
from ledger.auditor.trust import trust_for
from ledger.check.national import CountyLog, open_county_checkpoint
from ledger.core.merkle import consistency_proof_from_nodes, root_from_nodes
from ledger.core.proofs import verify_consistency
from ledger.errors import (
    InputError,
    LedgerError,
    SourceUnavailableError,
    VerificationError,
)
from ledger.formats.checkpoints import Checkpoint, SignedCheckpoint
from ledger.formats.keys import VerifierKey, format_verifier_key
from ledger.formats.policy import Policy
from ledger.formats.records import Log, LogCheckpoint
from ledger.publisher.ledger import Ledger
from ledger.sources.open import open_source
from ledger.sources.source import Source

#: County checkpoints fetched at once.
FETCH_THREADS = 16

RECORDED = "recorded"
UNCHANGED = "unchanged"
REFUSED = "refused"
UNAVAILABLE = "unavailable"
#: Not cosigned to the policy's quorum: skipped this round, recorded once the witnesses saw it.
UNWITNESSED = "unwitnessed"

#: The header of rollback evidence: the checkpoint the national log recorded and the smaller one
#: the county's source served, both signed by the county's key (docs/spec.md).
ROLLBACK_HEADER = "election-ledger/rollback@v1"


def register_log(ledger: Ledger, code: str, origin: str, key: VerifierKey) -> int:
    """Append the publisher-signed ``log`` record of county log ``code``; its index.

    Raises:
        VerificationError: rule 1 or 2 refuses it (category ``log``: a code that is not one
            of the 43, an origin that is not the national origin and the code, a key not named
            after it, a county registered already, or a log that is not national).
    """
    record = Log(id=code, origin=origin, vkey=format_verifier_key(key))
    result = ledger.append([ledger.sign(record)], stop_on_error=True)
    if result.rejected:
        raise result.rejected[0].error
    return result.accepted[0].index


@dataclass(frozen=True, slots=True, kw_only=True)
class CountyUpdate:
    """What :func:`update` did for one county log."""

    code: str
    status: str
    message: str
    #: The county checkpoint fetched (None when the source is down or served no checkpoint).
    size: int | None = None
    #: The national leaf index of the ``checkpoint`` record appended.
    index: int | None = None
    #: Evidence of a fork or a rollback: (default file name, bytes).
    evidence: tuple[str, bytes] | None = None

    @property
    def ok(self) -> bool:
        """True when the county's checkpoint was recorded, or had not moved on."""
        return self.status in (RECORDED, UNCHANGED)


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateReport:
    """Every county's outcome, and the national checkpoint sealed (None: nothing new)."""

    counties: tuple[CountyUpdate, ...]
    checkpoint: SignedCheckpoint | None

    @property
    def ok(self) -> bool:
        """True when every county was recorded or unchanged."""
        return all(c.ok for c in self.counties)


def update(
    ledger: Ledger,
    county_logs: str,
    *,
    time: int | None = None,
    open_county: Callable[[str], Source] = open_source,
    policy: Policy | None = None,
) -> UpdateReport:
    """Record the latest checkpoint of every registered county log read at
    ``county_logs/<id>/``, then seal (only when a checkpoint was recorded). With ``policy``
    (C2SP tlog-policy), a county checkpoint is recorded only when it is cosigned to the
    policy's quorum and the policy's ``log`` line for the county's origin is the registered key.

    Raises:
        InputError: the ledger is not a national log, or registers no county log.
        StoreError: the national ledger could not be written.
    """
    logs = ledger.checker.logs
    if not logs.national or not logs.logs:
        raise InputError(f"ledger {ledger.store.path} is not a national log with a registered "
                         "county log (entry 1 must be a log record)")
    counties = list(logs.logs.values())
    last_notes = {c.id: _recorded_note(ledger, c) for c in counties}

    def fetch(county: CountyLog) -> tuple[CountyUpdate, str | None]:
        return _fetch_county(county, county_spec(county_logs, county.id),
                             last_notes[county.id], open_county, policy)

    with ThreadPoolExecutor(max_workers=min(FETCH_THREADS, len(counties))) as pool:
        fetched = list(pool.map(fetch, counties))
    to_record = [(u, note) for u, note in fetched if note is not None]
    outcomes = {u.code: u for u, _ in fetched}
    checkpoint = None
    if to_record:
        datas = [ledger.sign(LogCheckpoint(log=u.code, note=note)) for u, note in to_record]
        result = ledger.append(datas)
        for accepted in result.accepted:
            u = to_record[accepted.position][0]
            outcomes[u.code] = CountyUpdate(code=u.code, status=RECORDED, size=u.size,
                                            index=accepted.index, message=u.message)
        for rejected in result.rejected:
            u = to_record[rejected.position][0]
            outcomes[u.code] = CountyUpdate(code=u.code, status=REFUSED, size=u.size,
                                            message=rejected.error.message)
        if result.accepted:
            checkpoint = ledger.seal(time)
    return UpdateReport(counties=tuple(outcomes[c.id] for c in counties), checkpoint=checkpoint)


def _recorded_note(ledger: Ledger, county: CountyLog) -> str | None:
    if county.at is None:
        return None
    record = ledger.record(county.at)
    if type(record) is not LogCheckpoint:  # pragma: no cover - the checker's state says so
        raise InputError(f"entry {county.at} is not a checkpoint record")
    return record.note


def _fetch_county(
    county: CountyLog, spec: str, last_note: str | None, open_county: Callable[[str], Source],
    policy: Policy | None,
) -> tuple[CountyUpdate, str | None]:
    """One county: its outcome, and the note to record (None: nothing to record)."""
    code = county.id
    try:
        with open_county(spec) as source:
            note = source.read_checkpoint()
            return _check_county(county, source, note, last_note, policy)
    except (SourceUnavailableError, InputError) as e:
        return CountyUpdate(code=code, status=UNAVAILABLE,
                            message=f"county log {code} at {spec} could not be read: {e}"), None
    except LedgerError as e:
        return CountyUpdate(code=code, status=REFUSED,
                            message=f"county log {code} at {spec}: {e}"), None


def _check_county(
    county: CountyLog, source: Source, note: bytes, last_note: str | None, policy: Policy | None
) -> tuple[CountyUpdate, str | None]:
    code = county.id
    try:
        text = note.decode("utf-8")
        new = open_county_checkpoint(text, county)
    except (UnicodeDecodeError, VerificationError) as e:
        why = e.message if isinstance(e, VerificationError) else "not UTF-8"
        return CountyUpdate(code=code, status=REFUSED,
                            message=f"county log {code}'s checkpoint is refused: {why}"), None
    if county.size is None or county.root is None or last_note is None:
        refused = _not_recordable(county, source, new, note, policy)
        if refused is not None:
            return refused, None
        return CountyUpdate(code=code, status=RECORDED, size=new.size,
                            message=f"first checkpoint, size {new.size}"), text
    old = Checkpoint(origin=county.origin, size=county.size, root=county.root)
    if new.size < old.size:
        return CountyUpdate(
            code=code, status=REFUSED, size=new.size,
            evidence=_rollback_evidence(county, last_note.encode("utf-8"), note, old, new),
            message=f"county log {code} rolled back: it serves size {new.size}, the national "
                    f"log recorded size {old.size}"), None
    if new.size == old.size:
        if new.root == old.root:
            return CountyUpdate(code=code, status=UNCHANGED, size=new.size,
                                message=f"still size {new.size}"), None
        split = make_split_view(county.key, last_note.encode("utf-8"), note, old.size,
                                new.size, [])
        return CountyUpdate(
            code=code, status=REFUSED, size=new.size,
            evidence=None if split is None else (split.name, split.evidence),
            message=f"county log {code} forked: two checkpoints of size {new.size} with two "
                    "roots"), None
    try:
        proof = consistency_proof_from_nodes(source.node_reader(new.size), old.size, new.size)
        verify_consistency(old.size, new.size, proof, old.root, new.root)
    except (VerificationError, ValueError, IndexError) as e:
        why = e.message if isinstance(e, VerificationError) else str(e)
        evidence = _fork_evidence(county, source, last_note.encode("utf-8"), note, old, new)
        what = (f"county log {code} forked: its checkpoint of size {new.size} does not extend"
                if evidence is not None else
                f"county log {code}'s checkpoint of size {new.size} could not be proved to extend")
        return CountyUpdate(
            code=code, status=REFUSED, size=new.size, evidence=evidence,
            message=f"{what} the one of size {old.size} the national log recorded ({why})"), None
    refused = _not_recordable(county, source, new, note, policy)
    if refused is not None:
        return refused, None
    return CountyUpdate(code=code, status=RECORDED, size=new.size,
                        message=f"size {old.size} -> {new.size}, consistent"), text


def _not_recordable(county: CountyLog, source: Source, new: Checkpoint, note: bytes,
                    policy: Policy | None) -> CountyUpdate | None:
    """What stops ``new`` being recorded, else None: rule 4 (a block checkpoint of the county
    log with its root, from the county's tiles and entry bundles), then the policy's quorum."""
    code = county.id
    at_block, tree_root = read_block_checkpoint(source, county.key, new.size)
    problem = block_checkpoint_problem(code, new.size, new.root, at_block, tree_root)
    if problem is not None:
        return CountyUpdate(code=code, status=REFUSED, size=new.size,
                            message=f"county log {code}'s checkpoint is refused: the "
                                    f"{problem[1]} ({problem[0]}, rule 4)")
    if policy is None:
        return None
    try:
        trust_for(county.key, policy, None).check_witnessed(note)
    except InputError as e:
        return CountyUpdate(code=code, status=REFUSED, size=new.size,
                            message=f"county log {code} is refused by the policy: {e.message}")
    except VerificationError as e:
        return CountyUpdate(code=code, status=UNWITNESSED, size=new.size,
                            message=f"county log {code}'s checkpoint of size {new.size} is not "
                                    f"recorded: {e.message}")
    return None


def _fork_evidence(county: CountyLog, source: Source, older: bytes, newer: bytes,
                   old: Checkpoint, new: Checkpoint) -> tuple[str, bytes] | None:
    """Split-view evidence, when the county's own tiles prove the fork."""
    m, n = old.size, new.size
    try:
        reader = source.node_reader(n)
        seed = [root_from_nodes(reader, m)] if m & (m - 1) == 0 else []
        path = consistency_proof_from_nodes(reader, m, n)
    except (VerificationError, ValueError, IndexError):
        return None
    split = make_split_view(county.key, older, newer, m, n, [*seed, *path])
    return None if split is None else (split.name, split.evidence)


def _rollback_evidence(county: CountyLog, recorded: bytes, served: bytes,
                       old: Checkpoint, new: Checkpoint) -> tuple[str, bytes]:
    """The two signed checkpoints: the larger one recorded, the smaller one served now."""
    name = evidence_name(county.origin, new.size, old.size).replace("evidence-", "rollback-", 1)
    return name, f"{ROLLBACK_HEADER}\n\n".encode() + recorded + b"\n" + served


def county_codes(ledger: Ledger) -> Sequence[str]:
    """The county logs a national ledger registers, in registration order."""
    return list(ledger.checker.logs.logs)
