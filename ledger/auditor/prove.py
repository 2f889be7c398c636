"""Making receipts (``ledger prove``): C2SP tlog-proof files for observers (docs/spec.md,
"Published form").

A receipt carries the entry bytes, its inclusion proof (read from the source's tiles or stored
nodes) and a checkpoint: the latest, or the one signed at an earlier block (the next block entry
embeds it). Before a receipt is handed out it is checked against its own checkpoint, so a damaged
source yields an error, never a receipt that will not check.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ledger.auditor.evidence import SplitView, make_split_view
from ledger.auditor.receipts import Receipt
from ledger.auditor.trust import Trust
from ledger.auditor.verify import open_trusted_checkpoint
from ledger.core.hashing import leaf_hash
from ledger.core.merkle import (
    NodeReader,
    consistency_proof_from_nodes,
    inclusion_proof_from_nodes,
    root_from_nodes,
)
from ledger.core.proofs import verify_consistency, verify_inclusion
from ledger.errors import (
    ConsistencyError,
    InputError,
    MalformedError,
    RollbackError,
    VerificationError,
    Where,
)
from ledger.formats.checkpoints import Checkpoint, open_ledger_checkpoint, parse_checkpoint
from ledger.formats.keys import VerifierKey
from ledger.formats.notes import parse_unverified_note
from ledger.formats.policy import Policy
from ledger.formats.records import (
    Block,
    Entry,
    Record,
    Report,
    Station,
    Turnout,
    decode_entry_record,
)
from ledger.formats.records.ids import station_id_problem
from ledger.formats.station_index import parse_station_file, station_file
from ledger.formats.tiles import TILE_WIDTH, bundles_for_size, parse_entry_bundle
from ledger.sources.source import CHECKPOINT_FILE, Source, StationIndexReader

#: The record kinds ``ledger prove --station`` proves.
STATION_KINDS = ("report", "turnout")


@dataclass(frozen=True, slots=True, kw_only=True)
class ConsistencyProof:
    """``ledger consistency``: the old and the new checkpoint and the proof between them."""

    old: Checkpoint
    new: Checkpoint
    proof: tuple[bytes, ...]
    #: With a policy: the witnesses that cosigned the new checkpoint; without one: None.
    cosigned_by: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StationProof:
    """The receipt pair proving a station's record and its registration, under one checkpoint."""

    station: str
    kind: str
    record: Receipt
    #: The receipt of the station record that registered the signing key (None when the
    #: record is publisher-signed and the station was registered by no earlier record).
    registration: Receipt | None
    #: How the entries were found: ``index`` (the station index's entries, each proved) or
    #: ``scan`` (every entry of the tree read).
    lookup: str = "scan"
    #: Why the station index was not used, when the source has one and it could not be.
    notes: tuple[str, ...] = ()


def _checkpoint_of(note: bytes) -> Checkpoint:
    """The checkpoint a note carries (signatures are the receipt checker's business)."""
    return parse_checkpoint(parse_unverified_note(note, category="checkpoint").text)


def checkpoint_note(source: Source, size: int | None = None) -> bytes:
    """The checkpoint note at ``size``: the latest, or the one signed at the block ending there.

    Raises:
        MalformedError: the source's checkpoint does not parse.
        InputError: no block checkpoint of that size exists (the latest is smaller, or the
            entry at ``size - 1`` is not followed by a block embedding its checkpoint).
    """
    latest = source.read_checkpoint()
    latest_size = _checkpoint_of(latest).size
    if size is None or size == latest_size:
        return latest
    if not 0 < size < latest_size:
        raise InputError(f"size {size}: the latest checkpoint has size {latest_size}")
    for _, _, record in _records(source, size, latest_size):
        if type(record) is Block:
            if record.checkpoint is None:
                break
            note = record.checkpoint.encode("utf-8")
            if _checkpoint_of(note).size == size:
                return note
            break
    raise InputError(f"size {size}: no block checkpoint was signed at that size")


def make_receipt(source: Source, index: int, *, checkpoint: bytes) -> Receipt:
    """The receipt of entry ``index`` under the checkpoint note ``checkpoint``.

    Raises:
        InputError: ``index`` is outside the checkpoint's tree.
        VerificationError: the source's entry, tiles or nodes do not prove it (a damaged source).
    """
    cp = _checkpoint_of(checkpoint)
    if not 0 <= index < cp.size:
        raise InputError(f"entry {index} is not in the tree of size {cp.size}")
    entry = _EntryReader(source, cp.size).entry(index)  # one bundle, not a read ahead
    return _proved(source, index, entry, checkpoint, source.node_reader(cp.size))


def prove_station(
    source: Source,
    station: str,
    *,
    kind: str = "report",
    category: str | None = None,
    size: int | None = None,
) -> StationProof:
    """Receipts of ``station``'s last ``kind`` entry (in ``category``) and of its key's station
    record, under the checkpoint at ``size`` (default: the latest).

    A published tree with a station index (docs/spec.md, "The station index") is read at the
    entries the index names, each checked to be that station's record of that kind and proved
    under the checkpoint; an index that is missing, malformed, names a wrong entry or lists no
    such entry is not used: the whole tree is read instead, and :attr:`StationProof.notes`
    says why. So a wrong index can hide a newer record, never fake one.

    Raises:
        InputError: no such entry in the tree, not a station id, or a bad ``kind`` /
            ``category`` combination.
    """
    if kind not in STATION_KINDS:
        raise InputError(f"the record kind must be one of {', '.join(STATION_KINDS)}, got {kind!r}")
    if category is not None and kind != "report":
        raise InputError("a category applies to reports only")
    problem = station_id_problem(station)
    if problem is not None:
        raise InputError(f"{station[:80]!r} is not a station id: {problem}")
    note = checkpoint_note(source, size)
    tree_size = _checkpoint_of(note).size
    notes: tuple[str, ...] = ()
    if isinstance(source, StationIndexReader):
        try:
            return _from_index(source, station, kind, category, note, tree_size)
        except _IndexNotUsed as e:
            notes = (f"station index {station_file(station)}: {e}; read the whole log "
                     "instead",)
    found: tuple[int, Entry] | None = None
    registrations: dict[bytes, int] = {}  # key id -> index of its station record
    latest_registration: int | None = None
    for index, entry, record in _records(source, 0, tree_size):
        if type(record) is Station and record.id == station:
            registrations[record.key_id] = index
            latest_registration = index
        elif _matches(record, station, kind, category):
            found = (index, entry)
    if found is None:
        what = f"{kind} in category {category}" if category else kind
        raise InputError(f"station {station} has no {what} entry in the tree of size {tree_size}",
                         where=Where(station=station))
    index, entry = found
    at = registrations.get(entry.key, latest_registration)
    return StationProof(
        station=station,
        kind=kind,
        record=make_receipt(source, index, checkpoint=note),
        registration=None if at is None else make_receipt(source, at, checkpoint=note),
        notes=notes,
    )


class _IndexNotUsed(Exception):  # noqa: N818 - internal signal, never leaves this module
    """Why a station index cannot answer (the caller reads the whole tree instead)."""


def _from_index(source: Source, station: str, kind: str, category: str | None,
                note: bytes, tree_size: int) -> StationProof:
    """The proof from the entries ``stations/<id>.json`` names, each checked before use.

    Raises:
        _IndexNotUsed: the file is missing or malformed, names an entry that is not the
            station's record of its kind, or lists no entry of the kind asked for.
    """
    path = station_file(station)
    if not isinstance(source, StationIndexReader):
        raise _IndexNotUsed("the source has no station index")
    try:
        data = source.read_station_file(station)
        if data is None:
            raise _IndexNotUsed("the source has none")
        listed = parse_station_file(data, path)
    except MalformedError as e:
        raise _IndexNotUsed(e.message) from e
    if listed.station != station:
        raise _IndexNotUsed(f"it is the file of station {listed.station!r}")
    read = _EntryReader(source, tree_size)
    found: tuple[int, Entry] | None = None
    for index in reversed([i for i in listed.entries.get(kind, ()) if i < tree_size]):
        entry, record = read.record(index)
        if not _matches(record, station, kind, None):
            raise _IndexNotUsed(f"it lists entry {index}, which is not a {kind} of station "
                                f"{station}")
        if category is None or (type(record) is Report and record.category == category):
            found = (index, entry)
            break
    if found is None:
        what = f"{kind} in category {category}" if category else kind
        raise _IndexNotUsed(f"it lists no {what}")
    registrations: dict[bytes, int] = {}
    latest: int | None = None
    for index in [i for i in listed.entries.get("station", ()) if i < tree_size]:
        _, record = read.record(index)
        if type(record) is not Station or record.id != station:
            raise _IndexNotUsed(f"it lists entry {index}, which is not a station record of "
                                f"{station}")
        registrations[record.key_id] = index
        latest = index
    index, entry = found
    at = registrations.get(entry.key, latest)
    nodes = source.node_reader(tree_size)  # one reader: the two proofs share their tiles
    return StationProof(
        station=station, kind=kind, lookup="index",
        record=_proved(source, index, read.entry(index), note, nodes),
        registration=None if at is None else _proved(source, at, read.entry(at), note, nodes),
    )


class _EntryReader:
    """Single entries of a tree, a bundle read once however many of its entries are asked."""

    def __init__(self, source: Source, size: int) -> None:
        self.source = source
        self.size = size
        self.bundles: dict[int, list[bytes]] = {}

    def entry(self, index: int) -> bytes:
        ref = next(bundles_for_size(self.size, index))
        if ref.index not in self.bundles:
            data = self.source.read_entry_bundle(ref.index, ref.width)
            self.bundles[ref.index] = parse_entry_bundle(data, ref.width, path=ref.path)
        return self.bundles[ref.index][index - ref.index * TILE_WIDTH]

    def record(self, index: int) -> tuple[Entry, Record]:
        """Entry ``index`` decoded (one that does not decode is no record of anyone's)."""
        try:
            return decode_entry_record(self.entry(index))
        except MalformedError as e:
            raise _IndexNotUsed(f"it lists entry {index}, which does not decode") from e


def _proved(source: Source, index: int, entry: bytes, note: bytes,
            nodes: NodeReader) -> Receipt:
    """The receipt of ``entry`` at ``index``, its inclusion under ``note`` proved before it is
    handed out.

    Raises:
        VerificationError: the source's tiles do not prove it (a damaged source).
    """
    cp = _checkpoint_of(note)
    try:
        proof = inclusion_proof_from_nodes(nodes, index, cp.size)
        verify_inclusion(leaf_hash(entry), index, cp.size, proof, cp.root)
    except VerificationError as e:
        raise e.at(index=index, file=source.describe()) from e
    return Receipt(index=index, proof=tuple(proof), checkpoint=note, extra=entry)


def _matches(record: Record, station: str, kind: str, category: str | None) -> bool:
    if kind == "turnout":
        return type(record) is Turnout and record.station == station
    return (type(record) is Report and record.station == station
            and (category is None or record.category == category))


def _records(source: Source, start: int, size: int) -> Iterator[tuple[int, Entry, Record]]:
    """(index, entry, record) of the decodable entries from ``start`` to ``size``."""
    for index, data in enumerate(source.iter_entries(start, size), start=start):
        try:
            entry, record = decode_entry_record(data)
        except MalformedError:
            continue  # not provable; ledger verify reports it
        yield index, entry, record


def prove_consistency(
    source: Source,
    publisher: VerifierKey,
    old_note: bytes,
    *,
    policy: Policy | None = None,
    now: int | None = None,
) -> ConsistencyProof:
    """Prove from the source's tiles that its latest checkpoint extends ``old_note``; with
    ``policy``, both checkpoints must be cosigned to its quorum (``now``: Unix seconds).

    Raises:
        InputError: ``old_note`` is not a signed checkpoint at all.
        VerificationError: either checkpoint does not verify with ``publisher``; the latest is
            smaller (RollbackError); or the log does not extend the old tree (ConsistencyError);
            or (category ``witness``) a checkpoint is not cosigned to the policy's quorum.
    """
    trust = Trust(log_key=publisher, policy=policy)
    old = open_trusted_checkpoint(old_note, publisher)
    try:
        trust.check_witnessed(old_note, now=now)
    except VerificationError as e:
        raise e.at(file="old checkpoint") from e
    try:
        new_note = source.read_checkpoint()
        new = open_ledger_checkpoint(new_note, publisher).checkpoint
        witnessed = trust.check_witnessed(new_note, now=now)
    except VerificationError as e:
        raise e.at(file=CHECKPOINT_FILE) from e
    if old.size > new.size:
        raise RollbackError(f"the log's checkpoint has size {new.size}, smaller than the old "
                            f"checkpoint's {old.size}: a rollback",
                            where=Where(file=CHECKPOINT_FILE))
    proof: list[bytes] = []
    if 0 < old.size < new.size:
        proof = consistency_proof_from_nodes(source.node_reader(new.size), old.size, new.size)
    try:
        verify_consistency(old.size, new.size, proof, old.root, new.root)
    except ConsistencyError as e:
        seed = ([root_from_nodes(source.node_reader(new.size), old.size)]
                if 0 < old.size < new.size and old.size & (old.size - 1) == 0 else [])
        split = make_split_view(publisher, old_note, new_note, old.size, new.size,
                                [*seed, *proof])
        if split is None:
            raise
        raise SplitViewError(split) from e
    return ConsistencyProof(old=old, new=new, proof=tuple(proof),
                            cosigned_by=None if witnessed is None else witnessed.cosigned_by)


class SplitViewError(ConsistencyError):
    """Two signed checkpoints that cannot both be honest; ``evidence`` is the evidence file
    (docs/spec.md, "Split-view evidence") and ``name`` its default file name."""

    default_category = "equivocation"
    default_code = "split-view"

    def __init__(self, split: SplitView) -> None:
        super().__init__(split.message, where=Where(file=CHECKPOINT_FILE))
        self.evidence = split.evidence
        self.name = split.name


#: The largest entry whose receipt other implementations can read: Go's
#: transparency-dev/formats reads tlog-proof lines of at most 64 KiB, and the ``extra`` line is
#: ``extra `` + base64 of the entry + a newline (docs/spec.md, "Receipts").
PORTABLE_ENTRY_SIZE = 49_146


def portability_warning(receipt: Receipt) -> str | None:
    """Why some other implementation cannot read ``receipt``, or None when all can."""
    if receipt.extra is None or len(receipt.extra) <= PORTABLE_ENTRY_SIZE:
        return None
    return (f"its entry is {len(receipt.extra):,} bytes: readers with a 64 KiB line limit "
            f"(Go's transparency-dev/formats) cannot read a receipt whose entry is over "
            f"{PORTABLE_ENTRY_SIZE:,} bytes")
