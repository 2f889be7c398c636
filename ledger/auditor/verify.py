"""The auditor: ``ledger verify`` over any source (docs/spec.md, "Verification", steps 1-6).

Streams the entries the latest checkpoint covers, checks their signatures on all cores in
batches, runs the shared :class:`~ledger.check.checker.EntryChecker` over them, compares every tile
the checkpoint needs (:mod:`ledger.auditor.tile_audit`) and, given a trusted older checkpoint,
proves from the tiles that the log only grew. Every failure becomes a
:class:`~ledger.check.findings.Finding`. This module never imports lmdb: a ledger directory is read
through :mod:`ledger.sources.source`, which loads it lazily.
"""

from __future__ import annotations

import os
import time
from bisect import bisect_left
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from ledger.auditor.evidence import SplitView, make_split_view
from ledger.auditor.state import AuditState, load_state, save_state
from ledger.auditor.tally import TallyBuilder
from ledger.auditor.tile_audit import TileAudit
from ledger.auditor.trust import Trust
from ledger.check.checker import CheckedEntry, EntryChecker
from ledger.check.findings import AuditReport, Finding
from ledger.check.signatures import Results, SignaturePool, default_workers, verified_chunks
from ledger.core.merkle import consistency_proof_from_nodes, root_from_nodes
from ledger.core.proofs import verify_consistency
from ledger.errors import (
    ConsistencyError,
    InputError,
    MalformedError,
    RollbackError,
    VerificationError,
    Where,
)
from ledger.formats.checkpoints import (
    Checkpoint,
    check_origin,
    open_ledger_checkpoint,
    parse_checkpoint,
)
from ledger.formats.keys import VerifierKey
from ledger.formats.notes import parse_unverified_note
from ledger.formats.policy import Policy
from ledger.formats.station_index import (
    INDEX_FILE,
    StationIndexBuilder,
    format_station_file,
    index_differences,
    parse_index,
    parse_station_file,
    station_file,
    station_file_differences,
)
from ledger.formats.tiles import (
    TILE_HEIGHT,
    TILE_WIDTH,
    BundleId,
    TileId,
    bundles_for_size,
    parse_entry_bundle,
    tiles_for_size,
)
from ledger.sources.source import CHECKPOINT_FILE, Source, StationIndexReader, StoredTables

#: Entries per batch of signature checks sent to one worker.
CHUNK = 4096
#: Chunks waiting for or being verified, per worker, while this process checks the oldest.
IN_FLIGHT_PER_WORKER = 2
#: Below this many entries, checking signatures in this process is faster than starting workers.
PARALLEL_MIN_ENTRIES = 2 * CHUNK
#: Bundles a remote source is told of ahead of the one being read.
READ_AHEAD = 32
#: At most this many errors are listed; the rest are counted in the summary.
MAX_ERRORS = 10_000
#: At most this many entry errors and warnings are kept while reading (memory stays bounded).
MAX_FINDINGS = 100_000

#: At most this many differences between the station index and the entries are listed.
MAX_INDEX_FINDINGS = 1000

#: How findings about the trusted checkpoint name it.
TRUSTED_FILE = "trusted checkpoint"

Progress = Callable[[int, int], None]
#: Called with the index of the first entry and the entries, in log order, as they are checked.
EntriesSeen = Callable[[int, list[bytes]], None]


def open_trusted_checkpoint(note: bytes, publisher: VerifierKey) -> Checkpoint:
    """A checkpoint the auditor trusts (an older one it holds): it must verify all the same.

    Raises:
        InputError: the bytes are not a signed checkpoint note at all (exit 2).
        VerificationError: the note does not verify with the publisher key or breaks the
            election profile (exit 1).
    """
    try:
        parse_checkpoint(parse_unverified_note(note, category="checkpoint").text)
    except MalformedError as e:
        raise InputError(f"not a signed checkpoint: {e.message}") from e
    return open_ledger_checkpoint(note, publisher).checkpoint


def verify(
    source: Source,
    publisher: VerifierKey,
    *,
    trusted: bytes | None = None,
    state_path: str | os.PathLike[str] | None = None,
    full: bool = False,
    workers: int | None = None,
    progress: Progress | None = None,
    policy: Policy | None = None,
    now: int | None = None,
    observer: Callable[[CheckedEntry], None] | None = None,
    tally: TallyBuilder | None = None,
    on_entries: EntriesSeen | None = None,
    state_despite_rules: bool = False,
) -> AuditReport:
    """Audit the log ``source`` serves against the publisher's verifier key; never raises on
    what it finds (every finding is in the report).

    ``trusted`` is a checkpoint note the auditor trusts (an earlier run's); ``state_path`` the
    auditor's state file (read when it matches ``trusted``, rewritten after a run without
    errors); ``full`` reads the whole log even so; ``workers`` processes check signatures
    (default: every core); ``progress(done, total)`` is called as entries are checked.
    With ``policy``, the latest and the trusted checkpoint must be cosigned to its quorum
    (``now``: the verifier's clock in Unix seconds, default this clock). ``observer`` is
    given every accepted entry of the checkpointed tree, in log order, as it is checked (the
    tally's way in: docs/auditor.md, "From records to results"). A ``tally`` is fed the same
    way and its state kept in the state file, so a tally resumes with what is new; a state
    without the tally (or of another stage) means a full run.
    ``on_entries(first, entries)`` sees every entry of the checkpoint's tree that is read, in
    order (a mirror builds its copy from them); with ``state_despite_rules`` the state file is
    rewritten when every error is an election-rule finding (category ``rules``), which a later
    run resumed from it does not report again.

    Raises:
        InputError: ``trusted`` is not a checkpoint note at all, the state file is not an audit
            state, or the source cannot be read at all (exit 2).
    """
    trust = Trust(log_key=publisher, policy=policy)
    audit = _Audit(source=source, publisher=publisher, progress=progress, trust=trust, now=now,
                   observer=observer, tally=tally,
                   on_entries=on_entries,
                   state_despite_rules=state_despite_rules)
    return audit.run(trusted=trusted, state_path=state_path, full=full, workers=workers)


@dataclass(slots=True, kw_only=True)
class _Audit:
    """One run of the auditor: its inputs, its running findings, its report."""

    source: Source
    publisher: VerifierKey
    progress: Progress | None
    trust: Trust
    now: int | None
    observer: Callable[[CheckedEntry], None] | None = None
    tally: TallyBuilder | None = None
    on_entries: EntriesSeen | None = None
    state_despite_rules: bool = False
    report: AuditReport = field(init=False)
    notes: dict[str, bytes] = field(default_factory=dict)
    head: list[VerificationError] = field(default_factory=list)
    tiles: list[VerificationError] = field(default_factory=list)
    entries: list[VerificationError] = field(default_factory=list)
    tail: list[VerificationError] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)
    blocks: list[int] = field(default_factory=list)
    read_error: VerificationError | None = None
    #: The station index the audited entries give (a full audit of a published tree only).
    station_index: StationIndexBuilder | None = None
    published_index: bytes | None = None
    #: Station files still to be hinted to the source, a few per bundle read.
    station_hints: list[str] = field(default_factory=list)
    done: int = 0
    total: int = 0

    def __post_init__(self) -> None:
        self.report = AuditReport(origin=self.publisher.name)

    # --- the run -----------------------------------------------------------------------------

    def run(
        self,
        *,
        trusted: bytes | None,
        state_path: str | os.PathLike[str] | None,
        full: bool,
        workers: int | None,
    ) -> AuditReport:
        started = time.monotonic()
        try:
            self._run(trusted, state_path, full, workers)
        finally:
            self.report.seconds = time.monotonic() - started
        return self.report

    def _run(
        self,
        trusted_note: bytes | None,
        state_path: str | os.PathLike[str] | None,
        full: bool,
        workers: int | None,
    ) -> None:
        try:
            check_origin(self.publisher.name)
        except VerificationError as e:
            self.head.append(e)
            return self._finish()
        if trusted_note is None and state_path is not None:
            kept = load_state(state_path)
            if kept is not None and kept.checkpoint is not None and kept.origin == \
                    self.publisher.name:
                trusted_note = kept.checkpoint  # the state's own checkpoint, said in the report
                self.report.extra["trusted_from_state"] = kept.size
        trusted = None if trusted_note is None else self._open_trusted(trusted_note)
        latest = self._open_latest()
        if latest is None:
            return self._finish()
        self.report.tree_size, self.report.root = latest.size, latest.root
        self.report.checkpoint = self.notes[CHECKPOINT_FILE]
        if trusted is not None and trusted.size > latest.size:
            self.head.append(RollbackError(
                f"the checkpoint has size {latest.size}, smaller than the trusted checkpoint's "
                f"{trusted.size}: a rollback", where=Where(file=CHECKPOINT_FILE)))
            trusted = None
        state = self._load_state(state_path, trusted, full)
        snapshot = self._check_entries(latest, state, workers, keep=state_path is not None)
        if self.read_error is None and trusted is not None:
            self._check_consistency(trusted, latest)
        if state_path is not None and snapshot is not None and self._state_may_be_saved():
            checker, tiles = snapshot
            save_state(state_path, AuditState(
                origin=self.publisher.name, size=latest.size, root=latest.root,
                checker=checker, tiles=tiles, blocks=[b for b in self.blocks if b < latest.size],
                checkpoint=self.notes[CHECKPOINT_FILE],
                tally=None if self.tally is None else self.tally.to_value(),
            ))
            self.report.extra["state_written"] = True
        return self._finish()

    # --- step 5 (the checkpoint) and step 6 (the trusted checkpoint) --------------------------

    def _open_latest(self) -> Checkpoint | None:
        try:
            note = self.source.read_checkpoint()
            latest = open_ledger_checkpoint(note, self.publisher).checkpoint
            self.notes[CHECKPOINT_FILE] = note
        except VerificationError as e:
            self.head.append(e.at(file=CHECKPOINT_FILE))
            return None
        self._check_witnessed(note, CHECKPOINT_FILE)
        return latest

    def _open_trusted(self, note: bytes) -> Checkpoint | None:
        try:
            trusted = open_trusted_checkpoint(note, self.publisher)
        except VerificationError as e:
            self.head.append(e.at(file=TRUSTED_FILE))
            return None
        self.notes[TRUSTED_FILE] = note
        self._check_witnessed(note, TRUSTED_FILE)
        return trusted

    def _check_witnessed(self, note: bytes, file: str) -> None:
        """Step 7: with a policy, the checkpoint is cosigned to its quorum."""
        try:
            witnessed = self.trust.check_witnessed(note, now=self.now)
        except VerificationError as e:
            self.head.append(e.at(file=file))
            return
        if witnessed is not None:
            self.report.extra.setdefault("cosigned_by", {})[file] = list(witnessed.cosigned_by)

    def _check_consistency(self, trusted: Checkpoint, latest: Checkpoint) -> None:
        """Step 6: the latest tree extends the trusted one, proved from the published tiles."""
        try:
            proof = consistency_proof_from_nodes(
                self.source.node_reader(latest.size), trusted.size, latest.size
            ) if 0 < trusted.size < latest.size else []
            verify_consistency(trusted.size, latest.size, proof, trusted.root, latest.root)
        except ConsistencyError as e:
            split = self._split_view(trusted, latest, proof)
            if split is None:
                self.tail.append(e.at(file=CHECKPOINT_FILE))
                return
            self.report.evidence = (split.name, split.evidence)
            self.tail.append(VerificationError(split.message, category="equivocation",
                                               code="split-view",
                                               where=Where(file=CHECKPOINT_FILE)))
        except VerificationError as e:
            error = e if e.category == "consistency" else ConsistencyError(
                f"cannot prove the log extends the trusted checkpoint: {e.message}",
                where=e.where)
            self.tail.append(error.at(file=CHECKPOINT_FILE))

    def _split_view(
        self, trusted: Checkpoint, latest: Checkpoint, proof: list[bytes]
    ) -> SplitView | None:
        """Evidence that the trusted and latest checkpoints cannot both be honest, if proved."""
        m, n = trusted.size, latest.size
        try:
            seed = ([root_from_nodes(self.source.node_reader(n), m)]
                    if 0 < m < n and m & (m - 1) == 0 else [])
        except VerificationError:
            return None
        return make_split_view(self.publisher, self.notes[TRUSTED_FILE],
                               self.notes[CHECKPOINT_FILE], m, n, [*seed, *proof])

    # --- the state file ------------------------------------------------------------------------

    def _load_state(
        self, path: str | os.PathLike[str] | None, trusted: Checkpoint | None, full: bool
    ) -> AuditState | None:
        if path is None or full or trusted is None:
            return None
        state = load_state(path)
        if state is None or (state.origin, state.size, state.root) != (
            self.publisher.name, trusted.size, trusted.root
        ):
            return None
        if self.tally is not None and (
            state.tally is None or state.tally.get("stage") != (self.tally.stage or "latest")
        ):
            return None  # the tally needs every entry: a state without it means a full run
        self.report.extra["resumed_from"] = state.size
        return state

    def _resume(self, state: AuditState | None) -> tuple[EntryChecker, TileAudit, int]:
        if state is None:
            checker = EntryChecker(origin=self.publisher.name, publisher=self.publisher)
            return checker, TileAudit(source=self.source), 0
        try:
            checker = EntryChecker.from_value(state.checker, self.publisher)
            tiles = TileAudit.resume(self.source, state.size, state.tiles)
            if self.tally is not None:
                self.tally.restore(state.tally)
        except MalformedError as e:
            raise InputError(f"the state file does not hold a valid audit: {e.message}") from e
        if checker.size != state.size or checker.root() != state.root:
            raise InputError("the state file's tree is not the tree of its size and root")
        self.blocks = list(state.blocks)
        return checker, tiles, state.size

    # --- steps 1-5 over the entries --------------------------------------------------------------

    def _check_entries(
        self, latest: Checkpoint, state: AuditState | None, workers: int | None, keep: bool
    ) -> tuple[dict[str, object], list[list[bytes]]] | None:
        """Steps 1-5 and the unsealed tail; the state at the checkpoint's size when ``keep``,
        or None when reading stopped early."""
        checker, tiles, start = self._resume(state)
        size = latest.size
        self._start_station_index(start)
        held = self.source.entry_count()
        end = max(size, held) if held is not None else size
        self.total = end - start
        try:
            if start % TILE_WIDTH and start < size:
                self._prefill(tiles, start, size)
        except VerificationError as e:
            self.read_error = e
        if self.read_error is None:
            self._stream(checker, tiles, self._entries(start, size), size, workers)
        stopped = self.read_error is not None
        if self.read_error is not None:
            self.tiles.append(self.read_error)
        else:
            tiles.finish()
            last = checker.last_block
            if last is None or last.index != size - 1:
                after = size if last is None else size - 1 - last.index
                self.tail.append(MalformedError(
                    f"the checkpoint covers {after} entries after the last block entry: a "
                    "signed checkpoint must end with a block entry",
                    category="checkpoint", code="checkpoint-not-at-block"))
        entries_root = None if stopped else checker.root()
        tiles_root = None if entries_root == latest.root else self._tiles_root(size)
        self.tiles = self.tiles + tiles.resolve(entries_root, tiles_root, latest.root)
        snapshot = (checker.to_value(), tiles.to_value()) if keep and not stopped else None
        if not stopped and end > size:
            self.report.unsealed = end - size
            self._stream(checker, None, self._tail(size, end), end, workers=1)
            if self.read_error is not None:
                self.tail.append(self.read_error)
        self.warnings += checker.finish()
        self.report.stations = checker.registry.stations
        if not stopped:
            self._check_station_index(size)
        return snapshot

    def _tiles_root(self, size: int) -> bytes | None:
        try:
            return root_from_nodes(self.source.node_reader(size), size)
        except (VerificationError, ValueError, IndexError):
            return None

    def _prefill(self, tiles: TileAudit, start: int, size: int) -> None:
        """Resuming mid-bundle: the bundle's earlier entries must still be the ones audited."""
        ref = next(bundles_for_size(size, start))
        entries = parse_entry_bundle(
            self.source.read_entry_bundle(ref.index, ref.width), ref.width, path=ref.path
        )[: start % TILE_WIDTH]
        tiles.prefill(entries)

    def _entries(self, start: int, size: int) -> Iterator[list[bytes]]:
        """The entries from ``start`` to ``size`` in order, a bundle at a time; a bundle that
        cannot be read ends the stream (kept in ``read_error``).

        The source is told, :data:`READ_AHEAD` bundles ahead, which bundles and tiles come next
        (a remote source fetches them in parallel while these are checked)."""
        ahead: Iterator[TileId | BundleId] | None = _files_in_order(start, size)
        hinted = 0  # bundles told of so far
        for number, ref in enumerate(bundles_for_size(size, start)):
            batch: list[TileId | BundleId] = []
            while ahead is not None and hinted < number + READ_AHEAD:  # bounded: ahead is finite
                nxt = next(ahead, None)
                if nxt is None:
                    ahead = None  # everything was told
                    break
                batch.append(nxt)
                hinted += isinstance(nxt, BundleId)
            if batch:
                self.source.read_ahead(batch)
            if self.station_hints:
                self._hint_station_files(size, ref.index)
            try:
                data = self.source.read_entry_bundle(ref.index, ref.width)
                entries = parse_entry_bundle(data, ref.width, path=ref.path)
            except VerificationError as e:
                self.read_error = e
                return
            skip = start - ref.index * TILE_WIDTH
            yield entries[skip:] if skip > 0 else entries

    def _tail(self, size: int, end: int) -> Iterator[list[bytes]]:
        """The unsealed tail of a ledger directory (entries after the latest checkpoint)."""
        entries = self.source.iter_entries(size, end)
        try:
            while batch := list(islice(entries, TILE_WIDTH)):
                yield batch
        except VerificationError as e:
            self.read_error = e

    def _stream(
        self,
        checker: EntryChecker,
        tiles: TileAudit | None,
        batches: Iterator[list[bytes]],
        size: int,
        workers: int | None,
    ) -> None:
        """Check entries in order; signatures in a worker pool when there are enough of them.

        The pool verifies the signatures of the next chunks while this process checks the
        decoding, keys, rules, blocks and tiles of the chunk whose verdicts came back.
        """
        count = workers if workers is not None else default_workers()
        chunks = _chunks(batches, CHUNK)
        if count <= 1 or self.total < PARALLEL_MIN_ENTRIES:
            for chunk in chunks:
                self._consume(checker, tiles, chunk, None, size)
            return
        with SignaturePool(count) as pool:
            in_flight = IN_FLIGHT_PER_WORKER * count
            for chunk, results in verified_chunks(checker, chunks, pool, in_flight=in_flight):
                self._consume(checker, tiles, chunk, results, size)

    def _consume(
        self,
        checker: EntryChecker,
        tiles: TileAudit | None,
        chunk: list[bytes],
        results: Results | None,
        size: int,
    ) -> None:
        """Steps 1-5 over one chunk, the entries that follow those checked so far, with their
        signature verdicts (None: checked here)."""
        verdicts = [None] * len(chunk) if results is None else results
        check = checker.check
        kinds = self.report.records_by_kind
        first = checker.size
        index_of_stations = self.station_index if tiles is not None else None
        if tiles is not None and self.on_entries is not None:
            self.on_entries(first, chunk)
        for index, (entry, ok) in enumerate(zip(chunk, verdicts, strict=True), start=first):
            checked = check(index, entry, signature_ok=ok, in_log=True)
            kind = checked.kind
            if tiles is not None:
                tiles.add(entry, checked.leaf_hash)
            if kind is not None:
                kinds[kind] += 1
                if kind == "block":
                    self.blocks.append(index)
                    if tiles is not None and index + 1 < size:
                        tiles.check_partials()
            if index_of_stations is not None and checked.record is not None and index < size:
                index_of_stations.add(index, checked.record)  # every record the log holds
            if checked.errors:
                self._keep(self.entries, checked.errors, "errors_not_listed")
            elif index < size and tiles is not None:  # the checkpointed tree, not the tail
                if self.observer is not None:
                    self.observer(checked)
                if self.tally is not None:
                    self.tally.add(checked)
            if checked.warnings:
                self._keep(self.warnings, checked.warnings, "warnings_not_listed")
        if tiles is not None:
            tiles.flush(lag=True)
        self.report.entries += len(chunk)
        self.done += len(chunk)
        if self.progress is not None:
            self.progress(self.done, self.total)

    # --- the station index (docs/spec.md, "The station index") ------------------------------

    def _start_station_index(self, start: int) -> None:
        """A full audit of a published tree checks its station index: read ``index.json`` now,
        so its station files can be fetched while the entries are checked."""
        if not isinstance(self.source, StationIndexReader):
            return
        if start:
            self.report.extra["station_index"] = "not checked: the audit resumed"
            return
        try:
            self.published_index = self.source.read_station_index()
        except VerificationError as e:
            self.tail.append(_unreadable(INDEX_FILE, None, e))
            return
        if self.published_index is None:
            self.report.extra["station_index"] = "absent"
            return
        self.station_index = StationIndexBuilder()
        try:
            self.station_hints = list(parse_index(self.published_index))
        except VerificationError:
            self.station_hints = []  # reported with the comparison

    def _hint_station_files(self, size: int, bundle: int) -> None:
        """Tell the source of the next few station files: spread over the bundles, so their
        fetches share the pool with the bundles' instead of queueing before them."""
        left = max(1, -(-size // TILE_WIDTH) - bundle)
        count = -(-len(self.station_hints) // left)
        chosen, self.station_hints = self.station_hints[:count], self.station_hints[count:]
        if isinstance(self.source, StationIndexReader):
            self.source.read_ahead_station_files([s for s in chosen
                                                  if _is_station_id(s)])

    def _check_station_index(self, size: int) -> None:
        """Every difference between the published station index and the audited entries: a
        finding of category ``tiles`` naming the file, the station and the entry."""
        built, data = self.station_index, self.published_index
        if built is None or data is None or not isinstance(self.source, StationIndexReader):
            return
        found = _IndexFindings()
        try:
            names = parse_index(data)
        except VerificationError as e:
            found.add(e)
            names = {}
        for station in sorted(set(built.stations()) | set(names)):
            self._check_station_file(station, built, names, size, found)
        self.tail += found.errors
        if found.more:
            self.report.extra["station_index_findings_not_listed"] = found.more
        self.report.extra["station_index"] = f"checked: {len(names):,} stations"

    def _check_station_file(self, station: str, built: StationIndexBuilder,
                            names: dict[str, str], size: int, found: _IndexFindings) -> None:
        path = station_file(station)
        expected = built.station_file(station) if station in built.lists else None
        try:
            data = self.source.read_station_file(station) \
                if isinstance(self.source, StationIndexReader) else None
            if expected is not None and data == format_station_file(expected):
                # the usual case: the very bytes a publish of these entries writes
                wrong = index_differences(station, names, expected, pending=False)
                if wrong is not None:
                    found.index_error(INDEX_FILE, station, None, wrong)
                return
            published = None if data is None else parse_station_file(data, path)
        except VerificationError as e:
            found.add(e.at(file=path, station=station) if e.code.startswith("station-index")
                      else _unreadable(path, station, e))
            published = None
            data = b""
        pending = published is not None and any(i >= size for i in
                                                published.entries.get("station", ()))
        wrong = index_differences(station, names, expected, pending)
        if wrong is not None:
            found.index_error(INDEX_FILE, station, None, wrong)
        if data is None or published is not None:
            for index, what in station_file_differences(station, published, expected, size):
                found.index_error(path, station, index, what)

    # --- the report ----------------------------------------------------------------------------

    def _keep(self, into: list[Any], items: list[Any], overflow: str) -> None:
        """Keep findings up to :data:`MAX_FINDINGS` (memory stays bounded); count the rest."""
        room = MAX_FINDINGS - len(into)
        into += items[:room]
        if len(items) > room:
            extra = self.report.extra
            extra[overflow] = extra.get(overflow, 0) + len(items) - max(room, 0)

    def _state_may_be_saved(self) -> bool:
        errors = self._errors()
        if self.state_despite_rules:
            return all(e.category == "rules" for e in errors)
        return not errors

    def _errors(self) -> list[VerificationError]:
        return self.head + self.tiles + self.entries + self.tail

    def _block_of(self, index: int | None) -> int | None:
        """Height of the block entry that seals entry ``index`` (None when none does)."""
        if index is None:
            return None
        height = bisect_left(self.blocks, index)
        return height if height < len(self.blocks) else None

    def _finding(self, finding: Finding) -> Finding:
        if finding.where.block is not None or finding.where.index is None:
            return finding
        block = self._block_of(finding.where.index)
        return finding if block is None else finding.located(block=block)

    def _compare_stored_tables(self) -> None:
        """A ledger directory: the tables it keeps beside the entries must be the ones the
        entries give (findings of category ``store``, after the others)."""
        if isinstance(self.source, StoredTables):
            policy = self.trust.policy
            witnesses = () if policy is None else tuple(w.key for w in policy.witnesses)
            self.tail += self.source.compare_stored_tables(self.publisher, witnesses)

    def _finish(self) -> None:
        self._compare_stored_tables()
        report = self.report
        report.blocks = sum(1 for b in self.blocks if report.tree_size and b < report.tree_size)
        errors = self._errors()
        for error in errors[:MAX_ERRORS]:
            report.error(self._finding(Finding.from_error(error)))
        if len(errors) > MAX_ERRORS:
            unlisted = report.extra.get("errors_not_listed", 0)
            report.extra["errors_not_listed"] = unlisted + len(errors) - MAX_ERRORS
        def log_order(w: Finding) -> tuple[bool, int]:
            return w.where.index is None, w.where.index or 0

        for warning in sorted(self.warnings, key=log_order):
            report.warning(self._finding(warning))


class _IndexFindings:
    """The station index's differences, at most :data:`MAX_INDEX_FINDINGS` listed."""

    def __init__(self) -> None:
        self.errors: list[VerificationError] = []
        self.more = 0

    def add(self, error: VerificationError) -> None:
        if len(self.errors) < MAX_INDEX_FINDINGS:
            self.errors.append(error)
        else:
            self.more += 1

    def index_error(self, path: str, station: str, index: int | None, what: str) -> None:
        self.add(MalformedError(f"station index {path} {what}", category="tiles",
                                code="station-index", where=Where(file=path, station=station,
                                                                  index=index)))


def _unreadable(path: str, station: str | None, error: VerificationError) -> MalformedError:
    """A station-index file the source did not serve (a finding about the index only)."""
    return MalformedError(f"station index {path}: {error.message}", category="tiles",
                          code="station-index-unreadable",
                          where=Where(file=path, station=station))


def _is_station_id(station: str) -> bool:
    try:
        station_file(station)
    except VerificationError:
        return False
    return True


def _files_in_order(start: int, size: int) -> Iterator[TileId | BundleId]:
    """The bundles from ``start`` and the tiles an audit reads, in the order it reads them:
    each bundle, then the full tiles its entries complete; at the end the partial tiles."""
    for ref in bundles_for_size(size, start):
        yield ref
        if ref.width < TILE_WIDTH:
            continue
        end = ref.index * TILE_WIDTH + TILE_WIDTH
        level = 0
        while end % (TILE_WIDTH << (TILE_HEIGHT * level)) == 0:
            yield TileId(level=level, index=(end >> (TILE_HEIGHT * level)) // TILE_WIDTH - 1)
            level += 1
    yield from (t for t in tiles_for_size(size) if t.width < TILE_WIDTH)


def _chunks(batches: Iterator[list[bytes]], size: int) -> Iterator[list[bytes]]:
    """The entries of ``batches`` again, in lists of at least ``size`` (the last: the rest)."""
    chunk: list[bytes] = []
    for batch in batches:
        chunk += batch
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
