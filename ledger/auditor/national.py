"""The audit of a national log with its county logs (docs/spec.md, "One log per county under a
national log", rule 4).

The national log is audited first (rules 1-3 run in the one entry checker); what it registers
and records is read from its accepted entries. Then every county log (``PREFIX/<id>/``, a
directory or a URL) is audited in a process of its own, side by side on all cores, each
streamed as usual. Every checkpoint the national log recorded must be a block checkpoint of
the audited county log with that root, and the county log not smaller than the largest
recorded size. Every finding about a county names it (``log``); the county audit's own findings
also name the county log's source and give its entry indices and blocks, rule 4's give the
national log's. A county whose source is down is one finding naming it; the others go on.

With a state file the audit resumes (docs/spec.md, "The national audit's state files"): the
national log from ``STATE``, what its earlier entries registered and recorded from
``STATE.national``, and each county log from ``STATE.<id>``; rule 4 is checked for the
checkpoints recorded since, and for the last one recorded before (the county audit proves its
log extends the one it audited then).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
from bisect import bisect_left
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledger.auditor.state import load_state
from ledger.auditor.verify import verify
from ledger.check.checker import CheckedEntry
from ledger.check.findings import AuditReport, Finding
from ledger.check.signatures import default_workers
from ledger.core.hashing import leaf_hash
from ledger.core.merkle import inclusion_proof_from_nodes, root_from_nodes
from ledger.core.proofs import verify_inclusion
from ledger.errors import InputError, LedgerError, VerificationError, Where
from ledger.files import read_json, write_atomic
from ledger.formats.checkpoints import parse_checkpoint
from ledger.formats.keys import VerifierKey, format_verifier_key, parse_verifier_key
from ledger.formats.notes import parse_unverified_note
from ledger.formats.policy import Policy
from ledger.formats.records import (
    Block,
    Log,
    LogCheckpoint,
    decode_entry_record,
    verify_entry_signature,
)
from ledger.sources.open import open_source
from ledger.sources.source import Source

#: The codes of rule 4's findings -> the rule, in the specification's words.
COUNTY_RULES: dict[str, str] = {
    "county-checkpoint-not-at-block": "every recorded checkpoint is a block checkpoint of the "
                                      "audited county log (rule 4)",
    "county-checkpoint-root": "every recorded checkpoint has the root of the audited county "
                              "log at its size (rule 4)",
    "county-log-smaller": "the county log is not smaller than the largest recorded size "
                          "(rule 4)",
    "county-log-unavailable": "every registered county log is audited (rule 4)",
}

#: The ``format`` of ``STATE.national`` (docs/spec.md, "The national audit's state files").
NATIONAL_STATE_FORMAT = "election-ledger/v1 national audit state"


@dataclass(frozen=True, slots=True, kw_only=True)
class Recorded:
    """One ``checkpoint`` record of the national log: where, for which county, size and root."""

    index: int
    log: str
    size: int
    root: bytes
    note: str
    #: The national block that seals it, when read from a state file (else from the blocks).
    block: int | None = None


@dataclass(slots=True, kw_only=True)
class NationalLog:
    """What a national log's accepted entries register and record, in log order."""

    logs: dict[str, VerifierKey] = field(default_factory=dict)
    recorded: list[Recorded] = field(default_factory=list)
    blocks: list[int] = field(default_factory=list)
    #: From the state a resumed audit started at: per county, how many checkpoints were
    #: recorded before it and the last one; how many block entries came before it.
    earlier_counts: dict[str, int] = field(default_factory=dict)
    earlier_last: dict[str, Recorded] = field(default_factory=dict)
    earlier_blocks: int = 0

    def observe(self, checked: CheckedEntry) -> None:
        """The observer of the national audit: takes in one accepted entry."""
        record = checked.record
        if type(record) is Log:
            self.logs[record.id] = parse_verifier_key(record.vkey)
        elif type(record) is LogCheckpoint:
            cp = parse_checkpoint(parse_unverified_note(record.note.encode("utf-8")).text)
            self.recorded.append(Recorded(index=checked.index, log=record.log, size=cp.size,
                                          root=cp.root, note=record.note))
        elif type(record) is Block:
            self.blocks.append(checked.index)

    def block_of(self, index: int) -> int | None:
        """The height of the national block that seals entry ``index`` (read this run)."""
        height = bisect_left(self.blocks, index)
        return self.earlier_blocks + height if height < len(self.blocks) else None

    def of(self, log: str) -> list[Recorded]:
        """The checkpoints of ``log`` rule 4 checks this run: the last one recorded before the
        state resumed from (if any), then every one recorded since."""
        earlier = self.earlier_last.get(log)
        return [*([earlier] if earlier else []), *(r for r in self.recorded if r.log == log)]

    def count(self, log: str) -> int:
        """How many checkpoints the national log recorded for ``log`` in all."""
        return self.earlier_counts.get(log, 0) + sum(1 for r in self.recorded if r.log == log)

    def to_value(self, size: int, root: bytes) -> dict[str, Any]:
        """``STATE.national`` at the national tree (size, root) this audit ends at."""
        logs = []
        for code, key in self.logs.items():
            item: dict[str, Any] = {"id": code, "vkey": format_verifier_key(key),
                                    "recorded": self.count(code)}
            mine = self.of(code)
            if mine:
                last = mine[-1]
                block = last.block if last.block is not None else self.block_of(last.index)
                item["last"] = {"index": last.index, "size": last.size, "root": last.root.hex(),
                                "block": block}
            logs.append(item)
        return {"format": NATIONAL_STATE_FORMAT, "size": size, "root": root.hex(),
                "blocks": self.earlier_blocks + len(self.blocks), "logs": logs}

    def followed_by(self, later: NationalLog) -> NationalLog:
        """This state's earlier entries, then what ``later`` read after them."""
        return NationalLog(logs={**self.logs, **later.logs}, recorded=later.recorded,
                           blocks=later.blocks, earlier_counts=self.earlier_counts,
                           earlier_last=self.earlier_last, earlier_blocks=self.earlier_blocks)

    @classmethod
    def from_value(cls, value: Any, where: str) -> NationalLog:
        """What ``STATE.national`` says the national log's entries before it hold.

        Raises:
            InputError: it is not a national audit state.
        """
        try:
            if value["format"] != NATIONAL_STATE_FORMAT:
                raise ValueError(value["format"])
            national = cls(earlier_blocks=int(value["blocks"]))
            for item in value["logs"]:
                code = str(item["id"])
                national.logs[code] = parse_verifier_key(item["vkey"])
                national.earlier_counts[code] = int(item["recorded"])
                if "last" in item:
                    last = item["last"]
                    national.earlier_last[code] = Recorded(
                        index=int(last["index"]), log=code, size=int(last["size"]),
                        root=bytes.fromhex(last["root"]), note="", block=last["block"])
        except (KeyError, TypeError, ValueError, VerificationError) as e:
            raise InputError(f"{where} is not a national audit state ({e})") from e
        return national


def county_spec(prefix: str, code: str) -> str:
    """Where county log ``code`` is read: ``PREFIX/<id>/`` (a directory or a URL)."""
    return prefix.rstrip("/") + "/" + code + "/"


@dataclass(frozen=True, slots=True, kw_only=True)
class CountyJob:
    """One county audit, as sent to its process."""

    code: str
    spec: str
    vkey: str
    sizes: tuple[int, ...]
    workers: int
    #: The county's state file (``STATE.<id>``), or None.
    state: str | None = None
    full: bool = False


@dataclass(slots=True, kw_only=True)
class CountyResult:
    """What one county audit found: its report, and per recorded size whether a block ends
    there and the root there (None: beyond the county log, or unreadable)."""

    code: str
    report: AuditReport | None = None
    unavailable: str | None = None
    at_block: dict[int, bool] = field(default_factory=dict)
    roots: dict[int, bytes | None] = field(default_factory=dict)


def audit_county(job: CountyJob) -> CountyResult:
    """Audit one county log and read what rule 4 needs (runs in a process of its own)."""
    result = CountyResult(code=job.code)
    blocks: set[int] = set()
    wanted = {size - 1 for size in job.sizes}

    def observe(checked: CheckedEntry) -> None:
        if checked.kind == "block" and checked.index in wanted:
            blocks.add(checked.index)

    try:
        key = parse_verifier_key(job.vkey)
        with open_source(job.spec) as source:
            result.report = verify(source, key, workers=job.workers, observer=observe,
                                   state_path=job.state, full=job.full)
            size = result.report.tree_size
            resumed = int(result.report.extra.get("resumed_from", 0))
            for m in job.sizes:
                if m - 1 < resumed and size is not None and m <= size:
                    # Entry m - 1 was audited by an earlier run: read it, as the publisher does.
                    result.at_block[m] = read_block_checkpoint(source, key, m, tree_size=size)[0]
                else:
                    result.at_block[m] = m - 1 in blocks
                result.roots[m] = _root_at(source, m, size)
    except LedgerError as e:
        result.unavailable = str(e)
    return result


def block_checkpoint_problem(
    code: str, size: int, root: bytes, at_block: bool, tree_root: bytes | None
) -> tuple[str, str] | None:
    """Rule 4 for one checkpoint of county log ``code`` (size and root): ``(finding code,
    why)`` when it is not a block checkpoint of the county log with that root, else None.

    ``at_block``: the county log's entry ``size - 1`` is its block record sealing at that size;
    ``tree_root``: the county log's root at ``size`` (None: unreadable). The one check both the
    audit and the national publisher's update make.
    """
    if not at_block:
        return ("county-checkpoint-not-at-block",
                f"checkpoint of county log {code} at size {size} does not end with a block "
                "entry of the county log: it is not a block checkpoint")
    if tree_root != root:
        return ("county-checkpoint-root",
                f"checkpoint of county log {code} at size {size} has root {root.hex()}, the "
                f"county log {tree_root.hex() if tree_root else 'none'}")
    return None


def read_block_checkpoint(
    source: Source, key: VerifierKey, size: int, *, tree_size: int | None = None
) -> tuple[bool, bytes | None]:
    """What :func:`block_checkpoint_problem` needs of a county log at ``size``, read from its
    tiles and entry bundles without an audit: whether entry ``size - 1`` is a block record
    signed by ``key`` that seals at ``size`` (and is in the tree), and the tree's root there.
    ``tree_size``: the size of the tree the source publishes (default ``size``).

    Raises:
        SourceUnavailableError: the county's source could not be reached.
    """
    if size < 1:
        return False, None
    published = size if tree_size is None else tree_size
    try:
        reader = source.node_reader(published)
        tree_root = root_from_nodes(reader, size)
    except (VerificationError, ValueError, IndexError):
        return False, None
    try:
        data = next(iter(source.iter_entries(size - 1, published)))
        entry, record = decode_entry_record(data)
        verify_entry_signature(entry, key.name, key.public_key)
        proof = inclusion_proof_from_nodes(reader, size - 1, size)
        verify_inclusion(leaf_hash(data), size - 1, size, proof, tree_root)
    except (VerificationError, ValueError, IndexError, StopIteration):
        return False, tree_root
    return type(record) is Block and record.first + record.count == size - 1, tree_root


def _root_at(source: Source, m: int, size: int | None) -> bytes | None:
    if size is None or m > size:
        return None
    try:
        return root_from_nodes(source.node_reader(size), m)
    except (VerificationError, ValueError, IndexError):
        return None


def verify_national(
    source: Source,
    publisher: VerifierKey,
    county_logs: str,
    *,
    county: str | None = None,
    policy: Policy | None = None,
    workers: int | None = None,
    progress: Callable[[str, AuditReport | None], None] | None = None,
    trusted: bytes | None = None,
    state_path: str | os.PathLike[str] | None = None,
    full: bool = False,
) -> AuditReport:
    """Audit the national log ``source`` and every county log it registers at
    ``county_logs/<id>/`` (only ``county`` when given); one report, county findings naming
    their county (``log``). ``progress(code, report)`` is called as each county is done.
    ``trusted`` is a national checkpoint the log must extend; with ``state_path`` the audit
    resumes from its state files and rewrites them after a run without errors (``full``: read
    every log whole all the same).

    Raises:
        InputError: ``county`` is not registered by the national log (exit 2), a log without
            error that registers no county log, one that cannot be read at all, or a state
            file that is not one.
    """
    work = None if state_path is None else Path(f"{os.fspath(state_path)}.new")
    earlier = None
    if state_path is not None and work is not None and Path(state_path).exists():
        kept = load_state(state_path)  # the national log's own; checked before it is used
        side = national_state_path(state_path)
        if kept is not None and side.exists():
            value = read_json(side, "a national audit state")
            if value.get("size") == kept.size and value.get("root") == kept.root.hex():
                earlier = NationalLog.from_value(value, str(side))
        if earlier is not None:
            shutil.copyfile(state_path, work)  # rewritten only when the whole audit is clean
    national = NationalLog()
    report = verify(source, publisher, trusted=trusted, state_path=work, full=full,
                    policy=policy, workers=workers, observer=national.observe)
    if earlier is not None and "resumed_from" in report.extra:
        national = earlier.followed_by(national)
    codes = list(national.logs)
    if not codes and report.ok:
        raise InputError(f"{source.describe()} is not a national log: it registers no county log "
                         "(entry 1 of a national log is a log record)")
    if county is not None:
        if county not in national.logs:
            raise InputError(f"county {county!r} is not registered by the national log "
                             f"(registered: {', '.join(codes) or 'none'})")
        codes = [county]
    cores = workers if workers is not None else default_workers()
    jobs = [CountyJob(code=code, spec=county_spec(county_logs, code),
                      vkey=format_verifier_key(national.logs[code]),
                      sizes=tuple(sorted({r.size for r in national.of(code)})),
                      workers=max(1, cores // max(1, len(codes))),
                      state=None if state_path is None
                      else str(county_state_path(state_path, code)), full=full)
            for code in codes]
    counties: dict[str, Any] = {}
    for result in _run(jobs, cores):
        counties[result.code] = _county_findings(report, national, result, county_logs)
        if progress is not None:
            progress(result.code, result.report)
    report.extra["county_logs"] = dict(sorted(counties.items()))
    if state_path is not None and work is not None:
        if county is None:
            _keep_state(report, national, Path(state_path), work)
        else:  # the other counties were not audited: the next run checks what is new for them
            work.unlink(missing_ok=True)
    return report


def national_state_path(state_path: str | os.PathLike[str]) -> Path:
    """``STATE.national``: what the national log's audited entries registered and recorded."""
    return Path(f"{os.fspath(state_path)}.national")


def county_state_path(state_path: str | os.PathLike[str], code: str) -> Path:
    """``STATE.<id>``: the audit state of county log ``code``."""
    return Path(f"{os.fspath(state_path)}.{code}")


def _keep_state(report: AuditReport, national: NationalLog, state: Path, work: Path) -> None:
    """After a run without errors: the national state (verify wrote it to ``work``) and what
    its entries registered and recorded; else nothing changes but the county logs' own."""
    if report.errors or report.tree_size is None or report.root is None:
        work.unlink(missing_ok=True)
        return
    if work.exists():
        os.replace(work, state)
    write_atomic(national_state_path(state),
                 _json_bytes(national.to_value(report.tree_size, report.root)))


def _run(jobs: Sequence[CountyJob], cores: int) -> list[CountyResult]:
    """Each county audited in a process of its own, ``cores + 1`` at once, in order."""
    if len(jobs) <= 1 or cores <= 1:
        return [audit_county(job) for job in jobs]
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    # As many processes as a single-log audit runs: one per core, and the one checking.
    with ProcessPoolExecutor(max_workers=min(cores + 1, len(jobs)), mp_context=context) as pool:
        return list(pool.map(audit_county, jobs))


def _county_findings(
    report: AuditReport, national: NationalLog, result: CountyResult, prefix: str
) -> dict[str, Any]:
    """Rule 4 for one county, into ``report``; the county's summary line."""
    code = result.code
    recorded = national.of(code)

    def error(at: Recorded | None, finding_code: str, message: str) -> None:
        index = None if at is None else at.index
        block = None if at is None else at.block if at.block is not None \
            else national.block_of(at.index)
        report.error(Finding(category="log", code=finding_code, message=message,
                             where=Where(index=index, block=block, log=code)))

    if result.report is None:
        error(recorded[-1] if recorded else None, "county-log-unavailable",
              f"county log {code} could not be audited: {result.unavailable}")
        return {"ok": False, "unavailable": result.unavailable}
    county = result.report
    errors_before = len(report.errors)
    # The county audit's own findings: entry and block of the county log read from its source.
    source = county_spec(prefix, code)
    for finding in county.errors:
        report.error(finding.located(log=code, source=source))
    for finding in county.warnings:
        report.warning(finding.located(log=code, source=source))
    size = county.tree_size
    largest = max(recorded, key=lambda r: (r.size, r.index), default=None)
    if largest is not None and (size is None or largest.size > size):
        error(largest, "county-log-smaller",
              f"county log {code} has size {size}, smaller than the size {largest.size} the "
              f"national log recorded: it was rolled back, or serves an old checkpoint")
    for r in recorded:
        if size is None or r.size > size:
            continue
        problem = block_checkpoint_problem(code, r.size, r.root,
                                           result.at_block.get(r.size, False),
                                           result.roots.get(r.size))
        if problem is not None:
            finding_code, why = problem
            if finding_code == "county-checkpoint-root":
                why += ": the county log was rewritten after the national log recorded it"
            error(r, finding_code, f"the recorded {why}")
    return {
        "ok": len(report.errors) == errors_before,
        "origin": county.origin,
        "tree_size": size,
        "root": None if county.root is None else county.root.hex(),
        "entries": county.entries,
        "errors": len(county.errors),
        "warnings": len(county.warnings),
        "seconds": round(county.seconds, 3),
        "recorded": national.count(code),
        **({"resumed_from": county.extra["resumed_from"]} if "resumed_from" in county.extra
           else {}),
    }


def _json_bytes(value: dict[str, Any]) -> bytes:
    return (json.dumps(value, indent=1, sort_keys=True) + "\n").encode("utf-8")
