"""The publisher's ledger (docs/records.md, "Entries"; docs/spec.md, "Blocks and checkpoints";
docs/api.md, "Layout"): append, seal, prove, over the store.

Every entry runs through the shared :class:`~ledger.check.checker.EntryChecker` before anything is
written, so the publisher accepts exactly what an auditor accepts. Each ``append`` batch and each
``seal`` is one durable store transaction; the checker's state is stored with them every few
thousand entries (:mod:`ledger.publisher.checker_keeper`), so reopening never replays the log.
Recovery after a crash at each step is described in ``docs/publisher.md``.
"""

from __future__ import annotations

import os
import time as _time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace

from ledger.check.checker import CheckedEntry, EntryChecker
from ledger.check.findings import Finding
from ledger.core.hashing import LEDGER_FORMAT, leaf_hash
from ledger.core.merkle import (
    consistency_proof_from_nodes,
    inclusion_proof_from_nodes,
    root_from_nodes,
)
from ledger.core.proofs import verify_consistency
from ledger.errors import (
    ChainError,
    InputError,
    MalformedError,
    RollbackError,
    StoreCorruptError,
    StoreError,
    VerificationError,
)
from ledger.formats.checkpoints import (
    Checkpoint,
    SignedCheckpoint,
    format_checkpoint,
    open_ledger_checkpoint,
    parse_origin,
)
from ledger.formats.entries import MAX_ENTRY_SIZE
from ledger.formats.keys import NoteSigner, VerifierKey, parse_verifier_key
from ledger.formats.notes import sign_note
from ledger.formats.records import (
    Ballot,
    Block,
    Election,
    Entry,
    Record,
    Report,
    Revoke,
    Station,
    Turnout,
    decode_entry_record,
    encode_entry,
    sign_record,
)
from ledger.publisher.checker_keeper import CheckerKeeper
from ledger.store.integrity import encode_state, lookup_keys, revoked_station
from ledger.store.layout import META_LEDGER_FORMAT, META_ORIGIN, META_VKEY
from ledger.store.store import Commit, LookupKey, NewEntries, NewEntry, Store

#: Store meta names.
_PROGRESS_EVERY = 1000
#: The msgpack bytes of ``"kind": "block"``: a cheap pre-filter before decoding.
_BLOCK_KIND = b"\xa4kind\xa5block"


class NothingToSealError(InputError):
    """A seal without ``allow_empty`` when no entry came since the last block."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Accepted:
    """A batch item written to the log: its position in the batch and its leaf index."""

    position: int
    index: int
    kind: str
    station: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Rejected:
    """A batch item refused: its position in the batch and every reason (the first is the cause)."""

    position: int
    errors: tuple[VerificationError, ...]

    @property
    def error(self) -> VerificationError:
        """The first reason."""
        return self.errors[0]


@dataclass(frozen=True, slots=True, kw_only=True)
class AppendResult:
    """What one ``append`` did: written items, refused items, soft-rule warnings, the new size.

    ``written`` is False when ``stop_on_error`` refused the whole batch.
    """

    accepted: tuple[Accepted, ...]
    rejected: tuple[Rejected, ...]
    warnings: tuple[Finding, ...]
    size: int
    written: bool = True

    @property
    def ok(self) -> bool:
        """True when nothing was refused."""
        return not self.rejected


class Ledger:
    """An election ledger directory opened by the publisher (write) or anyone (read-only)."""

    def __init__(self, store: Store, *, signer: NoteSigner | None = None) -> None:
        """Wrap an open store; use :meth:`create` or :meth:`open`."""
        self.store = store
        origin, vkey = store.meta(META_ORIGIN), store.meta(META_VKEY)
        stored_format = store.meta(META_LEDGER_FORMAT)
        if origin is None or vkey is None or stored_format != LEDGER_FORMAT.encode():
            raise StoreCorruptError(f"ledger {store.path} has no origin, key or format record")
        self.origin = origin.decode("utf-8")
        try:
            self.verifier_key: VerifierKey = parse_verifier_key(vkey.decode("utf-8"))
        except (InputError, UnicodeDecodeError) as e:
            raise StoreCorruptError(f"ledger {store.path}: stored publisher key: {e}") from e
        if signer is not None and signer.verifier_key != self.verifier_key:
            raise InputError(
                f"key {signer.name}+{signer.key_hash.hex()} is not this ledger's publisher key "
                f"({self.verifier_key})"
            )
        self.signer = signer
        self._keeper = CheckerKeeper(store, self.verifier_key)

    # --- opening -----------------------------------------------------------------------------

    @classmethod
    def create(
        cls, path: str | os.PathLike[str], origin: str, publisher_signer: NoteSigner,
        manifest: Election,
    ) -> Ledger:
        """Create a ledger whose entry 0 is ``manifest``, signed by the publisher.

        Raises:
            InputError: the origin breaks the grammar of docs/spec.md ("Checkpoints"), or the
                key's name is not the origin.
            StoreError: ``path`` exists and is not empty, or cannot be written.
        """
        parse_origin(origin)
        if publisher_signer.name != origin:
            raise InputError(
                f"the publisher key is named {publisher_signer.name!r}; its name must be the "
                f"origin {origin!r}"
            )
        vkey = publisher_signer.verifier_key
        checker = EntryChecker(origin=origin, publisher=vkey)
        data = encode_entry(sign_record(publisher_signer.signer, origin, manifest))
        checked = checker.check(0, data)
        if checked.errors:
            raise checked.errors[0]
        meta = {
            META_ORIGIN: origin.encode("utf-8"),
            META_VKEY: str(vkey).encode("utf-8"),
            META_LEDGER_FORMAT: LEDGER_FORMAT.encode(),
        }
        initial = Commit(size=0, entries=(_new_entry(checked, data, checker),),
                         state=encode_state(checker), root=checker.root())
        ledger = cls(Store.create(path, meta, initial=initial), signer=publisher_signer)
        ledger._keeper.adopt(checker)
        return ledger

    @classmethod
    def open(
        cls, path: str | os.PathLike[str], signer: NoteSigner | None = None, *,
        write: bool = True,
    ) -> Ledger:
        """Open a ledger; re-verify its latest checkpoint (signature, root from stored nodes).

        ``write=True`` takes the single-writer lock; ``signer`` (the publisher key) is needed
        to register, revoke and seal.

        Raises:
            StoreError / StoreLockedError: cannot open, or another process writes it.
            StoreCorruptError: stored state (its digest, also read-only), nodes or checkpoint
                do not verify.
            InputError: ``signer`` is not this ledger's publisher key.
        """
        store = Store(path, write=write)
        try:
            ledger = cls(store, signer=signer)
            ledger._verify_latest_checkpoint()
            if write:
                ledger._keeper.load()
            else:
                store.state()  # its digest: a damaged state is reported, even when not used
        except BaseException:
            store.close()
            raise
        return ledger

    def close(self) -> None:
        """Store the checker state if entries came since it was last stored; close the store.

        Raises:
            StoreError: the state could not be written (the entries are safe: a reopen
                replays them).
        """
        if self.store.closed:
            return
        try:
            self._keeper.flush()
        finally:
            self._keeper.close()
            self.store.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        if exc_type is None:
            self.close()
        else:  # already failing: do not risk a second error over the first
            self._keeper.close()
            self.store.close()

    def _verify_latest_checkpoint(self) -> None:
        latest = self.store.latest_checkpoint()
        if latest is None:
            return
        height, note = latest
        try:
            signed = open_ledger_checkpoint(note, self.verifier_key)
        except VerificationError as e:
            raise StoreCorruptError(f"ledger {self.store.path}: latest checkpoint: {e}") from e
        size = signed.checkpoint.size
        if size != self.store.block_index(height) + 1:
            raise StoreCorruptError(
                f"ledger {self.store.path}: checkpoint of block {height} has size {size}, but "
                "the block entry is not its last entry"
            )
        if signed.checkpoint.root != root_from_nodes(self.store.node_reader(size), size):
            raise StoreCorruptError(
                f"ledger {self.store.path}: checkpoint at size {size} does not match the root "
                "recomputed from the stored tree"
            )

    @property
    def checker(self) -> EntryChecker:
        """The entry checker as of the committed size (loaded on first use)."""
        return self._keeper.checker

    # --- reading -----------------------------------------------------------------------------

    @property
    def size(self) -> int:
        """Number of entries committed."""
        return self.store.size()

    def root(self, size: int | None = None) -> bytes:
        """RFC 9162 root at ``size`` (default: the committed size), from stored nodes."""
        return self.store.root(size)

    def election(self) -> Election:
        """The election record (entry 0)."""
        record = self.record(0)
        if type(record) is not Election:
            raise StoreCorruptError(f"ledger {self.store.path}: entry 0 is not the election")
        return record

    def entry(self, index: int) -> bytes:
        """Entry ``index`` as stored (IndexError past the end)."""
        return self.store.entry(index)

    def record(self, index: int) -> Record:
        """The record of entry ``index``."""
        return _decode_stored(self.store, index, self.store.entry(index))[1]

    def entries(self, start: int = 0, stop: int | None = None) -> Iterator[bytes]:
        """Entry bytes from ``start`` up to ``stop`` (default: the committed size)."""
        return self.store.iter_entries(start, stop)

    def blocks(self) -> Iterator[tuple[int, Block]]:
        """(leaf index, block record) of every block entry, by height."""
        for _height, index in self.store.iter_blocks():
            yield index, self._block_at(index)

    @property
    def block_count(self) -> int:
        """Number of blocks sealed."""
        return self.store.block_count()

    def block(self, height: int) -> tuple[int, Block]:
        """(leaf index, block record) of block ``height`` (IndexError if none)."""
        index = self.store.block_index(height)
        return index, self._block_at(index)

    def _block_at(self, index: int) -> Block:
        record = self.record(index)
        if type(record) is not Block:
            raise StoreCorruptError(f"ledger {self.store.path}: entry {index} is no block")
        return record

    def lookup(self, station: str, kind: str | None = None,
               category: str | None = None) -> list[int]:
        """Indices of the entries about ``station`` (optionally one kind and category).

        Every index the lookup table gives is checked against the entry it names, so a damaged
        table is reported, not followed.

        Raises:
            InputError: a category without a kind, or a name too long to be stored.
            StoreCorruptError: the lookup table names an entry that is not about ``station``.
        """
        if category is not None and kind is None:
            raise InputError("a lookup by category needs a record kind")
        if any(len(part.encode()) > MAX_ENTRY_SIZE for part in (station, kind or "",
                                                                  category or "")):
            raise InputError("a station, kind or category name is longer than any entry")
        found = self.store.lookup(station, kind, category)
        for index in found:
            if index >= self.size or not _about(self.record(index), station, kind, category):
                raise StoreCorruptError(
                    f"ledger {self.store.path}: the lookup table names entry {index} for station "
                    f"{station}, which is not an entry about it")
        return found

    def checkpoint(self, height: int) -> SignedCheckpoint:
        """The checkpoint signed when block ``height`` was sealed (IndexError if none)."""
        return self._open_stored(self.store.checkpoint(height))

    def latest_checkpoint(self) -> SignedCheckpoint | None:
        """The latest signed checkpoint, or None before the first seal."""
        latest = self.store.latest_checkpoint()
        return None if latest is None else self._open_stored(latest[1])

    def _open_stored(self, note: bytes) -> SignedCheckpoint:
        try:
            return open_ledger_checkpoint(note, self.verifier_key)
        except VerificationError as e:
            raise StoreCorruptError(f"ledger {self.store.path}: stored checkpoint: {e}") from e

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """RFC 9162 inclusion proof of entry ``index`` in the tree of ``size`` (default: all)."""
        n = self.size if size is None else size
        if not 0 <= index < n:
            raise ValueError(f"entry {index} is not inside a tree of size {n}")
        return inclusion_proof_from_nodes(self.store.node_reader(n), index, n)

    def consistency_proof(self, size1: int, size2: int | None = None) -> list[bytes]:
        """RFC 9162 consistency proof from tree size ``size1`` to ``size2`` (default: all)."""
        n = self.size if size2 is None else size2
        if not 0 <= size1 <= n:
            raise ValueError(f"need 0 <= size1 <= size2, got {size1}, {n}")
        return consistency_proof_from_nodes(self.store.node_reader(n), size1, n)

    # --- writing -----------------------------------------------------------------------------

    def _need_signer(self) -> NoteSigner:
        if self.signer is None:
            raise ValueError("this needs the publisher key: open the ledger with signer=")
        return self.signer

    def sign(self, record: Record) -> bytes:
        """Entry bytes of ``record`` signed by the publisher for this log."""
        return encode_entry(sign_record(self._need_signer().signer, self.origin, record))

    def register_station(self, station: Station) -> int:
        """Append a publisher-signed ``station`` record; return its index.

        Raises:
            VerificationError: the registry refuses it (shared key, publisher key, ...).
        """
        return self._append_one(self.sign(station))

    def revoke_key(self, key_id: bytes, reason: str) -> int:
        """Append a publisher-signed ``revoke`` of a station key id; return its index.

        Raises:
            VerificationError: the key is not a registered station key, or already revoked.
        """
        return self._append_one(self.sign(Revoke(key=key_id, reason=reason)))

    def correct_turnout(self, turnout: Turnout, reason: str) -> int:
        """Append a publisher-signed turnout of one station carrying ``correction`` = ``reason``
        (its counters may go down or be left out: docs/records.md, "Election rules"); return its
        index. Every audit lists it as a correction warning.

        Raises:
            VerificationError: the station is not registered, or a hard rule of the record
                itself breaks (LT is not the sum of the lists, LP over the permanent list).
            MalformedError: ``reason`` is empty.
        """
        return self._append_one(self.sign(replace(turnout, correction=reason)))

    def add_ballot(self, ballot: Ballot) -> int:
        """Append a publisher-signed ``ballot``; return its index.

        Raises:
            VerificationError: the rules refuse it (category ``rules``: an unknown or national
                category, a constituency of the wrong form, a second ballot for one).
        """
        return self._append_one(self.sign(ballot))

    def _append_one(self, data: bytes) -> int:
        result = self.append([data], stop_on_error=True)
        if result.rejected:
            raise result.rejected[0].error
        return result.accepted[0].index

    def append(
        self, entries: Sequence[bytes | Entry], *, stop_on_error: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> AppendResult:
        """Check every entry, then write the accepted ones in one durable transaction.

        A refused entry names its batch position and why; the others are written unless
        ``stop_on_error``, which writes nothing when any entry is refused. ``progress(done,
        total)`` is called now and then while checking.

        Raises:
            StoreError: the write failed (nothing of the batch was written).
        """
        checker = self._writer_checker()
        datas = [e if isinstance(e, bytes) else encode_entry(e) for e in entries]
        verdicts = self._keeper.verdicts(checker, datas)
        start = checker.size
        new_data: list[bytes] = []  # the accepted entries, by column (NewEntries)
        new_leaves: list[bytes] = []
        new_lookup: list[tuple[LookupKey, ...]] = []
        new_blocks: list[int | None] = []
        accepted: list[Accepted] = []
        rejected: list[Rejected] = []
        warnings: list[Finding] = []
        in_batch: dict[bytes, int] = {}
        try:
            for position, (data, ok) in enumerate(zip(datas, verdicts, strict=True)):
                if progress is not None and position % _PROGRESS_EVERY == 0:
                    progress(position, len(datas))
                checked = self._check_new(checker, data, ok, in_batch)
                if checked.errors:
                    rejected.append(Rejected(position=position, errors=tuple(checked.errors)))
                    if stop_on_error:
                        break
                    continue
                in_batch[checked.leaf_hash] = checked.index
                new_data.append(data)
                new_leaves.append(checked.leaf_hash)
                new_lookup.append(lookup_keys(checked, checker.registry))
                new_blocks.append(checked.block)
                accepted.append(Accepted(position=position, index=checked.index,
                                         kind=checked.kind or "", station=checked.station))
                warnings.extend(checked.warnings)
            if stop_on_error and rejected:
                self._keeper.load()
                return AppendResult(accepted=(), rejected=tuple(rejected), warnings=(),
                                    size=start, written=False)
            if new_data:
                new = NewEntries(data=new_data, leaf_hashes=new_leaves, lookup=new_lookup,
                                 blocks=new_blocks)
                self.store.commit(Commit(size=start, entries=new,
                                         state=self._keeper.due(checker), root=checker.root()))
        except BaseException:
            self._keeper.load()  # the checker ran ahead of the store: reset it
            raise
        return AppendResult(accepted=tuple(accepted), rejected=tuple(rejected),
                            warnings=tuple(warnings), size=start + len(new_data))

    def _writer_checker(self) -> EntryChecker:
        if not self.store.writable:
            raise StoreError(f"ledger {self.store.path} is open read-only")
        return self.checker

    def _check_new(self, checker: EntryChecker, data: bytes, signature_ok: bool | None,
                   in_batch: dict[bytes, int]) -> CheckedEntry:
        block = _block_of(data) if _BLOCK_KIND in data else None
        if block is not None:
            # Blocks are sealed, not appended: only seal() signs the checkpoint a block needs.
            checked = CheckedEntry(index=checker.size, leaf_hash=leaf_hash(data), kind="block",
                                   record=block)
            checked.errors.append(ChainError("block entries are made by seal(), not appended",
                                             code="block-appended"))
        else:
            checked = checker.check(checker.size, data, signature_ok=signature_ok)
        if checked.errors:
            earlier = self._copy_of(checked, in_batch)
            if earlier is not None:
                copy = MalformedError(f"entry is byte-identical to entry {earlier}",
                                      code="duplicate-entry")
                checked.errors = [copy.at(index=checked.index, kind=checked.kind,
                                          station=checked.station)]
        return checked

    def _copy_of(self, checked: CheckedEntry, in_batch: dict[bytes, int]) -> int | None:
        """The index of an earlier entry byte-identical to a refused one, or None.

        The checker refuses every copy (docs/spec.md, "Verification"); this only names the
        original, so it runs for refused entries alone. A copy has the original's kind,
        station and category, so the lookup index (or the block or election index) holds it.
        """
        if checked.leaf_hash in in_batch:
            return in_batch[checked.leaf_hash]
        record = checked.record
        if record is None:
            return None  # it does not decode: no stored entry is like it
        if type(record) is Election:
            candidates = [0]
        elif type(record) is Block:
            candidates = [self.store.block_index(record.height)] \
                if record.height < self.store.block_count() else []
        else:
            station = checked.station or self._revoked_station(checked)
            if station is None:
                return None
            category = record.category if type(record) is Report else ""
            candidates = self.store.lookup(station, record.KIND, category)
        for index in reversed(candidates):
            if leaf_hash(self.store.entry(index)) == checked.leaf_hash:
                return index
        return None

    def _revoked_station(self, checked: CheckedEntry) -> str | None:
        return revoked_station(checked, self.checker.registry)

    def seal(self, time: int | None = None, *, allow_empty: bool = True) -> SignedCheckpoint:
        """Append a block entry and sign the checkpoint that ends with it, in one transaction.

        ``time`` (ms since the epoch, default now) must be later than the last block's. Refuses
        to sign a checkpoint that does not extend the last one signed.

        Raises:
            NothingToSealError: an empty block without ``allow_empty``.
            ValueError: a time not later than the last block's.
            RollbackError / ConsistencyError: the new checkpoint would not be larger than the
                last one signed, or would not extend it (a fork): never signed.
            StoreError: the write failed (nothing was written or signed into the store).
        """
        signer = self._need_signer()
        checker = self._writer_checker()
        size, last = checker.size, checker.last_block
        first = 0 if last is None else last.index + 1
        if size == first and not allow_empty:
            since = f"no entry since block {last.height}" if last is not None else "no entry"
            raise NothingToSealError(f"nothing to seal: {since} (an empty block must be asked "
                                     "for)")
        now = int(_time.time() * 1000) if time is None else time
        if last is not None and now <= last.time:
            if time is not None:
                raise InputError(f"block time {time} is not after the last block's {last.time}")
            now = last.time + 1
        previous = self._check_extends_latest(checker)
        block = Block(height=0 if last is None else last.height + 1,
                      prev=bytes(32) if last is None else last.leaf_hash,
                      first=first, count=size - first, time=now, checkpoint=previous)
        data = self.sign(block)
        try:
            checked = checker.check(size, data)
            if checked.errors:
                raise checked.errors[0]
            cp = Checkpoint(origin=self.origin, size=checker.size, root=checker.root())
            note = sign_note(format_checkpoint(cp), [signer])
            signed = open_ledger_checkpoint(note, self.verifier_key)
            self.store.commit(Commit(size=size, entries=(_new_entry(checked, data, checker),),
                                     state=self._keeper.due(checker), checkpoint=note,
                                     root=cp.root))
        except BaseException:
            self._keeper.load()
            raise
        return signed

    def _check_extends_latest(self, checker: EntryChecker) -> str | None:
        """The latest checkpoint's note text, after proving the tree now extends it."""
        latest = self.latest_checkpoint()
        size = checker.size
        root = self.store.root(size)
        if checker.root() != root:
            raise StoreCorruptError(f"ledger {self.store.path}: checker and store roots differ")
        if latest is None:
            return None
        old = latest.checkpoint
        if old.size >= size + 1:
            raise RollbackError(
                f"refusing to sign size {size + 1}: the last checkpoint signed has size {old.size}"
            )
        proof = self.consistency_proof(old.size, size)
        verify_consistency(old.size, size, proof, old.root, root)
        return latest.note_bytes.decode("utf-8")


# --- helpers ---------------------------------------------------------------------------------


def _about(record: Record, station: str, kind: str | None, category: str | None) -> bool:
    """Whether ``record`` can be the entry a lookup for (station, kind, category) names; a
    revoke names a key, so only its kind is checked."""
    if kind is not None and kind != record.KIND:
        return False
    if isinstance(record, Station):
        return record.id == station
    if isinstance(record, Turnout | Report):
        return record.station == station and (category is None or (
            isinstance(record, Report) and record.category == category))
    return isinstance(record, Revoke)


def _new_entry(checked: CheckedEntry, data: bytes, checker: EntryChecker) -> NewEntry:
    """The store's view of an accepted entry: bytes, leaf hash, lookup keys, block height
    (the lookup keys as :func:`ledger.store.integrity.lookup_keys` gives them, so that
    ``ledger verify`` recomputes the same)."""
    return NewEntry(data=data, leaf_hash=checked.leaf_hash,
                    lookup=lookup_keys(checked, checker.registry), block=checked.block)


def _decode_stored(store: Store, index: int, data: bytes) -> tuple[Entry, Record]:
    try:
        return decode_entry_record(data)
    except MalformedError as e:
        raise StoreCorruptError(f"ledger {store.path}: entry {index}: {e}") from e


def _block_of(data: bytes) -> Block | None:
    try:
        record = decode_entry_record(data)[1]
    except MalformedError:
        return None  # the checker will say why
    return record if type(record) is Block else None
