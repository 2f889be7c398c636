"""A verified mirror (docs/spec.md, "Mirrors"): pull what is new, check it, copy it, cosign it.

A mirror keeps each log under ``<root>/<hex SHA-256 of the origin>/`` in the C2SP tlog-tiles
layout, so any static web server serves it. One pull:

1. reads the checkpoint of the first source that answers;
2. audits it with :func:`ledger.auditor.verify.verify`, resumed from the mirror's own audit state
   (``<root>/.mirror/<hex>.state``) and trusting the checkpoint the mirror serves, so each pull
   costs what is new and a checkpoint inconsistent with the one served is refused, with
   split-view evidence written under ``<hex>/evidence/``;
3. while the entries stream, writes the tiles and bundles recomputed from them (each new file
   under a path that the served checkpoint does not need, so readers of the served checkpoint
   never see a file change), then makes them durable;
4. only when the audit found nothing but election-rule findings (written to ``audit.json``),
   replaces the checkpoint atomically, with the mirror's cosignature appended.

A kill at any moment leaves the last checkpoint served with every file it needs; the next pull
starts again from the state (or from the beginning, when the state is not the served tree's).
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ledger.auditor.evidence import make_split_view
from ledger.auditor.state import AuditState, load_state
from ledger.auditor.verify import verify
from ledger.check.checker import EntryChecker
from ledger.check.findings import AuditReport, Finding
from ledger.core.hashing import LEDGER_FORMAT, sha256
from ledger.core.merkle import consistency_proof_from_nodes, root_from_nodes
from ledger.core.proofs import verify_consistency
from ledger.errors import (
    ConsistencyError,
    InputError,
    LedgerError,
    MalformedError,
    SourceUnavailableError,
    VerificationError,
    Where,
)
from ledger.files import fsync_dir, write_atomic
from ledger.formats.checkpoints import Checkpoint, format_checkpoint, open_ledger_checkpoint
from ledger.formats.keys import SIG_COSIGNATURE_V1, NoteSigner, VerifierKey
from ledger.formats.notes import cosign, format_note, parse_signature_line, parse_unverified_note
from ledger.formats.policy import Policy
from ledger.formats.records import Block, decode_entry_record
from ledger.formats.station_index import (
    INDEX_FILE,
    StationFile,
    StationIndexBuilder,
    index_differences,
    parse_index,
    parse_station_file,
    station_file,
    station_file_differences,
)
from ledger.formats.tiles import TILE_WIDTH, bundle_path, parse_entry_bundle
from ledger.publisher.page import PAGE_FILES, PageTrust, page_files
from ledger.publisher.tile_export import TileBuilder, TileBytes, station_index_files
from ledger.sources.multi import FallbackSource, PassedOver
from ledger.sources.published import PublishedDirSource, PublishedTree
from ledger.sources.source import CHECKPOINT_FILE, LEDGER_JSON, Source, StationIndexReader

AUDIT_JSON = "audit.json"
#: Largest file of the observer's page a mirror copies.
MAX_PAGE_FILE = 1 << 20
EVIDENCE_DIR = "evidence"
#: The mirror's own files (audit states), beside the copies and never served.
PRIVATE_DIR = ".mirror"
#: At most this many election-rule findings are kept in ``audit.json``.
MAX_AUDIT_FINDINGS = 10_000


def origin_dir_name(origin: str) -> str:
    """The folder of a log in a mirror: the hex SHA-256 of its origin (C2SP tlog-mirror)."""
    return sha256(origin.encode("utf-8")).hex()


@dataclass(frozen=True, slots=True, kw_only=True)
class PullResult:
    """What one pull did.

    ``status`` is ``moved`` (the mirror serves the new checkpoint), ``up-to-date`` (the source
    has nothing new), ``behind`` (the source's checkpoint is older than the one served, and
    consistent with it), ``refused`` (the new checkpoint failed its audit: nothing moved) or
    ``split-view`` (it cannot be honest together with the one served: evidence written).
    """

    status: str
    origin: str
    directory: Path
    source: str
    held_size: int | None
    tree_size: int | None
    report: AuditReport | None = None
    evidence: Path | None = None
    rule_errors: int = 0
    resumed_from: int | None = None
    passed_over: tuple[PassedOver, ...] = ()

    @property
    def ok(self) -> bool:
        """True unless the pull was refused or found a split view."""
        return self.status in ("moved", "up-to-date", "behind")


class Mirror:
    """A mirror of one log (its origin is the publisher key's name) under ``root``."""

    def __init__(self, root: str | os.PathLike[str], publisher: VerifierKey, key: NoteSigner,
                 *, policy: Policy | None = None, clock: Callable[[], float] = time.time) -> None:
        """Raises:
            InputError: ``key`` is not a cosignature/v1 key, or is a witness key of ``policy``
                (a mirror's cosignature must not be taken for a witness's).
        """
        if key.type != SIG_COSIGNATURE_V1:
            raise InputError("a mirror key has type 0x04 (cosignature/v1)")
        if policy is not None and any(w.public_key == key.signer.public_key
                                      for w in policy.witness_keys):
            raise InputError("the mirror key is a witness key of the policy: a mirror's "
                             "cosignature says it holds a copy, not that it witnessed; use "
                             "another key")
        self.root = Path(root)
        self.publisher = publisher
        self.key = key
        self.policy = policy
        self.clock = clock
        self.origin = publisher.name
        self.directory = self.root / origin_dir_name(self.origin)
        self.state_path = self.root / PRIVATE_DIR / f"{origin_dir_name(self.origin)}.state"

    # --- what the mirror serves --------------------------------------------------------------

    def held(self) -> tuple[bytes, Checkpoint] | None:
        """The checkpoint the mirror serves, or None before its first pull.

        Raises:
            InputError: the served checkpoint does not verify with the publisher's key (the
                mirror's folder was damaged or is another log's).
        """
        try:
            note = (self.directory / CHECKPOINT_FILE).read_bytes()
        except FileNotFoundError:
            return None
        try:
            return note, open_ledger_checkpoint(note, self.publisher).checkpoint
        except VerificationError as e:
            raise InputError(f"the mirror's own checkpoint does not verify: {e.message}",
                             where=Where(file=str(self.directory / CHECKPOINT_FILE))) from e

    # --- one pull ------------------------------------------------------------------------------

    def pull(self, sources: Sequence[Source], *, workers: int | None = None) -> PullResult:
        """Pull from the first of ``sources`` that answers (the others serve what it lacks).

        Raises:
            SourceUnavailableError: no source could be read (nothing changed).
            InputError: the mirror's own folder is damaged.
        """
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        lock = os.open(self.state_path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as e:
                raise InputError("another pull of this mirror is running",
                                 where=Where(file=str(self.directory))) from e
            return self._pull(sources, workers)
        finally:
            os.close(lock)

    def _pull(self, sources: Sequence[Source], workers: int | None) -> PullResult:
        log = FallbackSource(sources, accept=self._refusal)
        note = log.read_checkpoint()
        held = self.held()
        latest = _opened(note, self.publisher)
        base = PullResult(status="up-to-date", origin=self.origin, directory=self.directory,
                          source=log.answered.describe(),
                          held_size=None if held is None else held[1].size,
                          tree_size=None if latest is None else latest.size)
        if held is not None and latest is not None:
            if (latest.size, latest.root) == (held[1].size, held[1].root):
                return replace(base, status="up-to-date")
            if latest.size < held[1].size:
                evidence = self._older_split_view(note, latest, held)
                if evidence is None:
                    return replace(base, status="behind")
                return replace(base, status="split-view", evidence=evidence)
        if held is None or not (self.directory / INDEX_FILE).is_file():
            # a state without a served checkpoint is that of a pull killed before it moved:
            # its files may not all be there, so the copy is made again from the start (and
            # so is a copy made before mirrors kept the station index)
            self.state_path.unlink(missing_ok=True)
        state = load_state(self.state_path) if held is not None else None
        copy = _Copy(self.directory, state_size=None if state is None else state.size,
                     state_rows=None if state is None else state.tiles,
                     stations=_StationCopy(self.directory, state, self.publisher))
        report = verify(log, self.publisher, trusted=None if held is None else held[0],
                        state_path=self.state_path, workers=workers, policy=self.policy,
                        now=int(self.clock()), on_entries=copy.add, state_despite_rules=True)
        passed = tuple(log.passed_over)
        resumed = report.extra.get("resumed_from")
        base = replace(base, report=report, passed_over=passed, resumed_from=resumed)
        if report.evidence is not None:
            path = self._keep_evidence(*report.evidence)
            return replace(base, status="split-view", evidence=path)
        rules = [f for f in report.errors if f.category == "rules"]
        index = [f for f in report.errors if f.code.startswith("station-index")]
        if len(rules) + len(index) != len(report.errors) or latest is None:
            return replace(base, status="refused", rule_errors=len(rules))
        info = {"format": LEDGER_FORMAT, "origin": self.origin, "vkey": str(self.publisher)}
        copy.put(LEDGER_JSON, json.dumps(info).encode("utf-8"))
        copy.finish(latest.size)
        if resumed is not None:  # a full audit compared the source's whole index already
            index += copy.stations.compare(log, latest.size)
        self._copy_page([log.answered, *(s for s in sources if s is not log.answered)])
        self._write_audit(report, rules + index, resumed is not None, latest)
        write_atomic(self.directory / CHECKPOINT_FILE, self._cosigned(note, latest))
        return replace(base, status="moved", rule_errors=len(rules))

    def _copy_page(self, sources: Sequence[Source]) -> None:
        """Serve the observer's page beside the copy: the publisher's own page, byte for byte,
        from the first source that serves all of its files (its trust inputs are the
        publisher's); when none does, a page with the publisher key the mirror trusts and no
        policy."""
        files: dict[str, bytes] = {}
        for source in sources:
            files = _page_of(source)
            if files:
                break
        if not files:
            files = page_files(PageTrust(vkey=self.publisher))
        for path, data in files.items():
            target = self.directory / path
            if not target.is_file() or target.read_bytes() != data:
                target.parent.mkdir(parents=True, exist_ok=True)
                write_atomic(target, data)

    def _refusal(self, note: bytes) -> str | None:
        return checkpoint_refusal(note, self.publisher)

    def _older_split_view(self, note: bytes, older: Checkpoint,
                          held: tuple[bytes, Checkpoint]) -> Path | None:
        """A source behind the mirror: its checkpoint must be a prefix of the tree served."""
        m, n = older.size, held[1].size
        nodes = PublishedDirSource(self.directory).node_reader(n)
        proof = consistency_proof_from_nodes(nodes, m, n) if m > 0 else []
        try:
            verify_consistency(m, n, proof, older.root, held[1].root)
        except ConsistencyError:
            seed = [root_from_nodes(nodes, m)] if m > 0 and m & (m - 1) == 0 else []
            split = make_split_view(self.publisher, _log_signed(note, self.publisher),
                                    _log_signed(held[0], self.publisher), m, n,
                                    [*seed, *proof])
            return None if split is None else self._keep_evidence(split.name, split.evidence)
        return None

    def _keep_evidence(self, name: str, data: bytes) -> Path:
        folder = self.directory / EVIDENCE_DIR
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        write_atomic(path, data)
        return path

    def _cosigned(self, note: bytes, checkpoint: Checkpoint) -> bytes:
        """The source's note, any earlier line of this mirror's key dropped, with this mirror's
        cosignature appended."""
        parsed = parse_unverified_note(note, category="checkpoint")
        ours = (self.key.name, self.key.key_hash)
        kept = [s for s in parsed.signatures if (s.name, s.key_hash) != ours]
        line = cosign(format_checkpoint(checkpoint), self.key, int(self.clock()))
        return format_note(parsed.text, [*kept, parse_signature_line(line)])

    def _write_audit(self, report: AuditReport, rules: list[Finding], resumed: bool,
                     latest: Checkpoint) -> None:
        """``audit.json``: the election-rule findings of every pull so far (an incremental pull
        reports only what is new, so earlier findings are carried over)."""
        earlier: list[Any] = []
        if resumed:
            try:
                earlier = json.loads((self.directory / AUDIT_JSON).read_bytes())["errors"]
            except (OSError, ValueError, KeyError, TypeError):
                earlier = []
        errors = (earlier + [f.to_json() for f in rules])[:MAX_AUDIT_FINDINGS]
        value = {"format": "election-ledger/v1 mirror audit", "origin": self.origin,
                 "tree_size": latest.size, "root": latest.root.hex(), "ok": not errors,
                 "errors": errors, "warnings_by_rule": report.warnings_by_rule()}
        write_atomic(self.directory / AUDIT_JSON,
                     (json.dumps(value, indent=1, sort_keys=True) + "\n").encode("utf-8"))


def _page_of(source: Source) -> dict[str, bytes]:
    """The observer's page a source serves, every file of it, or {} (none, part of it, or the
    source stopped answering: the next source is asked, then the mirror writes its own)."""
    if not isinstance(source, PublishedTree):
        return {}
    files: dict[str, bytes] = {}
    for path in PAGE_FILES:
        try:
            data = source.read_file_if_present(path, MAX_PAGE_FILE)
        except (SourceUnavailableError, VerificationError):
            return {}
        if data is None:
            return {}
        files[path] = data
    return files


def _opened(note: bytes, publisher: VerifierKey) -> Checkpoint | None:
    try:
        return open_ledger_checkpoint(note, publisher).checkpoint
    except VerificationError:
        return None  # the audit reports why


def _log_signed(note: bytes, publisher: VerifierKey) -> bytes:
    parsed = parse_unverified_note(note)
    sigs = [s for s in parsed.signatures if (s.name, s.key_hash) == (publisher.name,
                                                                     publisher.key_hash)]
    return format_note(parsed.text, sigs[:1])


class _Copy:
    """The mirror's copy being extended: tiles and bundles recomputed from the entries the audit
    reads, each written under a new path (temporary file, rename), made durable by
    :meth:`finish`."""

    def __init__(self, directory: Path, *, state_size: int | None,
                 state_rows: list[list[bytes]] | None, stations: _StationCopy) -> None:
        self.directory = directory
        self.state_size = state_size
        self.state_rows = state_rows
        self.stations = stations
        self.builder: TileBuilder | None = None
        self.written: list[Path] = []

    def add(self, first: int, entries: list[bytes]) -> None:
        if self.builder is None:
            self.builder = self._start(first)
            if first == 0:
                self.stations.restart()  # the audit did not resume: nothing is kept
        if first != self.builder.size:
            raise ValueError(f"entries from {first}, the copy is at {self.builder.size}")
        builder = self.builder
        index = self.stations.index
        for number, entry in enumerate(entries, first):
            self._put_all(builder.append(entry))
            try:
                record = decode_entry_record(entry)[1]
            except MalformedError:
                continue  # the audit reports it, and nothing is served
            if isinstance(record, Block):
                self._put_all(builder.partials())
            else:
                index.add(number, record)

    def _start(self, first: int) -> TileBuilder:
        if first == 0:
            return TileBuilder()
        if first != self.state_size or self.state_rows is None:
            raise ValueError(f"the audit resumed at {first}, the mirror's state is at "
                             f"{self.state_size}")
        width = first % TILE_WIDTH
        bundle: list[bytes] = []
        if width:
            path = self.directory / bundle_path(first // TILE_WIDTH, width)
            bundle = parse_entry_bundle(path.read_bytes(), width, path=str(path))
        return TileBuilder.resume(first, self.state_rows, bundle)

    def _put_all(self, files: list[TileBytes]) -> None:
        for ref, data in files:
            self.put(ref.path, data)

    def put(self, path: str, data: bytes) -> None:
        """Write one file under a temporary name and rename it into place (synced later)."""
        target = self.directory / path
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, target)
        self.written.append(target)

    def finish(self, size: int) -> None:
        """The partial tiles of ``size`` and ``ledger.json`` written, then every file written
        made durable (each file, then each folder once), before the checkpoint moves."""
        if self.builder is not None:
            if self.builder.size != size:
                raise ValueError(f"the copy holds {self.builder.size} entries, not {size}")
            self._put_all(self.builder.partials())
        for name, data in self.stations.files():
            self.put(name, data)
        for path in self.written:
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        folders = {p.parent for p in self.written}
        for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
            fsync_dir(folder)
        parents = {f.parent for f in folders} | {self.directory}
        for folder in sorted(parents, key=lambda p: len(p.parts), reverse=True):
            if folder.is_dir():
                fsync_dir(folder)
        self.written = []


class _StationCopy:
    """The mirror's station index (docs/spec.md, "The station index"), recomputed from the
    entries it copies, like its tiles: from nothing on a full pull; on a resumed one, each
    station met again starts from the mirror's own file, written by an earlier pull."""

    def __init__(self, directory: Path, state: AuditState | None,
                 publisher: VerifierKey) -> None:
        self.directory = directory
        self.names: dict[str, str] = {}
        self._state = state
        self._publisher = publisher
        self._checker: EntryChecker | None = None
        if state is not None:
            try:
                self.names = parse_index(self._own(INDEX_FILE), INDEX_FILE)
            except MalformedError as e:
                raise InputError(f"the mirror's own station index is damaged: {e.message}",
                                 where=Where(file=str(self.directory / INDEX_FILE))) from e
        self.index = StationIndexBuilder(
            earlier=None if state is None else self._earlier,
            owner_of=None if state is None else self._owner_of)

    def restart(self) -> None:
        """Build the index from nothing (the audit reads every entry)."""
        self.names = {}
        self.index = StationIndexBuilder()

    def _own(self, path: str) -> bytes:
        try:
            return (self.directory / path).read_bytes()
        except OSError as e:
            raise InputError(f"the mirror's own station index cannot be read: {e}",
                             where=Where(file=str(self.directory / path))) from e

    def _earlier(self, station: str) -> StationFile | None:
        if station not in self.names:
            return None
        path = station_file(station)
        try:
            return parse_station_file(self._own(path), path)
        except MalformedError as e:
            raise InputError(f"the mirror's own station index is damaged: {e.message}",
                             where=Where(file=str(self.directory / path))) from e

    def _owner_of(self, key: bytes) -> str | None:
        """The station whose key a revoke names, registered before this pull (the checker
        of the mirror's audit state knows every key)."""
        if self._checker is None and self._state is not None:
            self._checker = EntryChecker.from_value(self._state.checker, self._publisher)
        owner = None if self._checker is None else self._checker.registry.signer_for(key)
        return None if owner is None else owner.station

    def files(self) -> list[tuple[str, bytes]]:
        """The files to write: the stations met in this pull, and the index of all."""
        self.names.update(self.index.names)
        return station_index_files(self.index, names=self.names)

    def compare(self, source: Source, size: int) -> list[Finding]:
        """A resumed pull: the source's files of the stations met in it, and its names of
        them in ``index.json``, against the mirror's (findings for ``audit.json``)."""
        if not isinstance(source, StationIndexReader):
            return []
        met = list(self.index.stations())
        source.read_ahead_station_files(met)
        out: list[Finding] = []
        try:
            data = source.read_station_index()
            names = None if data is None else parse_index(data)
        except VerificationError as e:
            return [_index_finding(INDEX_FILE, None, None, e.message)]
        if names is None:
            return []  # a source without an index: nothing to compare
        for station in met:
            path = station_file(station)
            expected = self.index.station_file(station)
            try:
                raw = source.read_station_file(station)
                published = None if raw is None else parse_station_file(raw, path)
            except VerificationError as e:
                out.append(_index_finding(path, station, None, e.message))
                continue
            pending = published is not None and any(
                i >= size for i in published.entries.get("station", ()))
            wrong = index_differences(station, names, expected, pending)
            if wrong is not None:
                out.append(_index_finding(INDEX_FILE, station, None, wrong))
            for index, what in station_file_differences(station, published, expected, size):
                out.append(_index_finding(path, station, index, what))
        return out


def _index_finding(path: str, station: str | None, index: int | None, what: str) -> Finding:
    return Finding(category="tiles", code="station-index",
                   message=what if what.startswith("station index") else
                   f"station index {path} {what}",
                   where=Where(file=path, station=station, index=index))


def follow(pull: Callable[[], PullResult], every: float, *,
           report: Callable[[PullResult | LedgerError], None],
           rounds: int | None = None, sleep: Callable[[float], None] = time.sleep) -> None:
    """Pull every ``every`` seconds, ``rounds`` times (None: until interrupted); a source that
    cannot be read is reported and tried again next round, never the end."""
    done = 0
    while rounds is None or done < rounds:  # bounded by rounds, or by the caller's interrupt
        try:
            report(pull())
        except SourceUnavailableError as e:
            report(e)
        done += 1
        if rounds is None or done < rounds:
            sleep(every)


def checkpoint_refusal(note: bytes, publisher: VerifierKey) -> str | None:
    """Why a source's checkpoint is not taken (another source may serve a good one), or None
    when it verifies with the publisher's key."""
    try:
        open_ledger_checkpoint(note, publisher)
    except VerificationError as e:
        return e.message
    return None
