"""``ledger publish``: write a log as a static C2SP tlog-tiles tree (docs/spec.md, "Published
form"), into a directory or an S3-compatible object store (:mod:`ledger.publisher.destination`).

One algorithm for both: hash tiles, entry bundles, ``ledger.json``, the station index
(``stations/``: docs/spec.md, "The station index") and the observer's page first (several files
at once, bounded), then, once every one of them is durable, the checkpoint, replaced whole and
last: a reader never sees a checkpoint whose tiles are missing, and a publish stopped at any
point leaves the previous checkpoint with every file it needs. What is already there is not
read or written again: the previous checkpoint at the destination says which tiles and bundles
a complete publish put there (checked once, cheaply, at its right edge), so only the entries
after it are read, and the station index carries on from the destination's files
(:mod:`ledger.publisher.index_update`); the rest is compared; partial tiles of every block
checkpoint are written and kept.
"""

from __future__ import annotations

import json
import os
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from ledger.check.registry import KeyRegistry
from ledger.core.hashing import HASH_SIZE, LEDGER_FORMAT
from ledger.errors import (
    ConsistencyError,
    InputError,
    MalformedError,
    RootMismatchError,
    VerificationError,
    Where,
)
from ledger.formats.checkpoints import Checkpoint, open_checkpoint
from ledger.formats.keys import VerifierKey, parse_verifier_key
from ledger.formats.policy import Policy
from ledger.formats.records import Block, Election, decode_entry_record
from ledger.formats.station_index import StationIndexBuilder
from ledger.formats.tiles import (
    TILE_HEIGHT,
    TILE_WIDTH,
    BundleId,
    TileId,
    parse_entry_bundle,
    tile_levels,
)
from ledger.publisher.destination import Destination, open_destination
from ledger.publisher.index_update import IndexNotFollowed, UpdatedIndex
from ledger.publisher.page import PageTrust, page_files
from ledger.publisher.tile_export import TileBuilder, TileBytes, station_index_files
from ledger.sources.ledger_dir import LedgerDirSource
from ledger.sources.open import open_source
from ledger.sources.source import (
    CHECKPOINT_FILE,
    LEDGER_JSON,
    MAX_CHECKPOINT_BYTES,
    MAX_LEDGER_JSON_BYTES,
    Source,
)

if TYPE_CHECKING:
    from ledger.publisher.ledger import Ledger



@dataclass(frozen=True, slots=True, kw_only=True)
class PublishResult:
    """What one publish did: the tree published and which files it wrote or found in place."""

    outdir: str  # the directory or s3:// URL published to
    origin: str
    tree_size: int
    checkpoint_sizes: tuple[int, ...]
    paths_written: tuple[str, ...]
    skipped: int

    @property
    def written(self) -> int:
        """Number of files written (new or changed)."""
        return len(self.paths_written)


def publish(
    ledger_or_source: Ledger | Source | str | os.PathLike[str],
    outdir: str | os.PathLike[str] | Destination,
    *,
    vkey: str | None = None,
    page_policy: Policy | None = None,
    progress: Callable[[int, int], None] | None = None,
    endpoint_url: str | None = None,
    full: bool = False,
) -> PublishResult:
    """Publish the latest checkpoint of a ledger (or of any source, path or URL) into ``outdir``:
    a directory, an ``s3://BUCKET/PREFIX`` (at ``endpoint_url``, else where the AWS tools'
    settings say), or a :class:`~ledger.publisher.destination.Destination`.

    ``vkey`` is the publisher's verifier key; by default the one the source states. The
    checkpoint must verify with it and its root must equal the root of the entries, or it is not
    written (tiles written before the check stay, unseen without a checkpoint that needs them).
    ``progress(done, total)`` is called every 4,096 entries. Where the destination already
    serves a checkpoint of this log, only the entries after it are read (the tiles at its size
    come from the source, and the station files of the stations those entries name from the
    destination); with ``full``, every entry is read and every file compared, which rewrites a
    damaged one. The observer's page is written too (:mod:`ledger.publisher.page`), with
    ``vkey`` and ``page_policy`` as its trust inputs.

    Raises:
        SignatureError / MalformedError: the checkpoint does not verify with ``vkey``.
        RootMismatchError: the entries do not give the checkpoint's root.
        ConsistencyError: the destination holds a checkpoint of this log, signed with ``vkey``,
            that these entries do not give (a fork: it is not replaced).
        InputError: no publisher key is known, or ``page_policy`` has no log line for the
            origin with that key.
        SourceUnavailableError: an object store that cannot be written (exit 4).
    """
    if isinstance(ledger_or_source, str | os.PathLike):
        with closing(open_source(os.fspath(ledger_or_source))) as opened:
            return publish(opened, outdir, vkey=vkey, page_policy=page_policy,
                           progress=progress, endpoint_url=endpoint_url, full=full)
    if isinstance(outdir, str | os.PathLike):
        with closing(open_destination(outdir, endpoint_url=endpoint_url)) as destination:
            return publish(ledger_or_source, destination, vkey=vkey, page_policy=page_policy,
                           progress=progress, full=full)
    if isinstance(ledger_or_source, Source):
        source: Source = ledger_or_source
    else:  # the publisher's open Ledger: read its store directly
        source = LedgerDirSource.from_store(ledger_or_source.store)
    key = vkey if vkey is not None else source.publisher_vkey()
    if key is None:
        raise InputError(f"{source.describe()} does not state the publisher key: it must be "
                         "given")
    note = source.read_checkpoint()
    verifier = parse_verifier_key(key)
    checkpoint = open_checkpoint(note, [verifier]).checkpoint
    page_trust = PageTrust(vkey=verifier, policy=page_policy)
    page_files(page_trust)  # a policy that does not name this log's key fails before any write
    previous = None if full else _previous_checkpoint(outdir, verifier, checkpoint)
    presumed = _presumed_size(outdir, previous)
    builder = _resumed(outdir, source, previous, presumed)
    start = builder.size
    # From the first entry the station index is built as the entries go by; after the previous
    # checkpoint it carries on from the destination's files.
    fresh = StationIndexBuilder() if start == 0 else None
    kept = _kept_index(outdir, start, _key_owner(source, verifier)) if start else None
    election = _election(source, start) if start else None
    with _Uploads(outdir) as uploads:
        sizes: list[int] = []
        for done, entry in enumerate(source.iter_entries(start, checkpoint.size), start):
            if progress is not None and done % 4096 == 0:
                progress(done, checkpoint.size)
            uploads.put_all(builder.append(entry), presumed=builder.size <= presumed)
            record = decode_entry_record(entry)[1]
            election = record if done == 0 and isinstance(record, Election) else election
            if isinstance(record, Block):
                sizes.append(builder.size)
                uploads.put_all(builder.partials(), presumed=builder.size <= presumed)
            elif fresh is not None:
                fresh.add(done, record)
            elif kept is not None:
                try:
                    kept.add(done, record)
                except IndexNotFollowed:
                    kept = None  # derived from every entry below
            if previous is not None and builder.size == previous.size:
                _same_log(outdir, previous, builder.root())
        if builder.root() != checkpoint.root:
            raise RootMismatchError(
                f"the {checkpoint.size} entries of {source.describe()} give root "
                f"{builder.root().hex()}, the checkpoint says {checkpoint.root.hex()}: not "
                "published", where=Where(file=CHECKPOINT_FILE))
        uploads.put_all(builder.partials(), presumed=builder.size <= presumed)
        if progress is not None:
            progress(checkpoint.size, checkpoint.size)
        info = {"format": LEDGER_FORMAT, "origin": checkpoint.origin, "vkey": key}
        uploads.put(LEDGER_JSON, json.dumps(info).encode("utf-8"))
        if kept is not None:
            index = station_index_files(kept.builder, names=kept.all_names())
        else:
            index = station_index_files(fresh if fresh is not None
                                        else _index_of_every_entry(source, checkpoint.size))
        for path, data in [*index, *page_files(replace(page_trust, election=election)).items()]:
            uploads.put(path, data)
        uploads.wait()  # every file the checkpoint needs is there and durable ...
        uploads.put(CHECKPOINT_FILE, note)  # ... before the checkpoint that makes them visible
        uploads.wait()
    return PublishResult(
        outdir=outdir.describe(),
        origin=checkpoint.origin,
        tree_size=checkpoint.size,
        checkpoint_sizes=tuple(sizes),
        paths_written=tuple(uploads.written),
        skipped=uploads.skipped,
    )


def publish_file(outdir: str | os.PathLike[str] | Destination, path: str, data: bytes, *,
                 endpoint_url: str | None = None) -> bool:
    """Write one file that is not a tile beside a published tree (``results.json``, the station
    index, ...) unless it already holds ``data``; True when it was written."""
    if isinstance(outdir, str | os.PathLike):
        with closing(open_destination(outdir, endpoint_url=endpoint_url)) as destination:
            return publish_file(destination, path, data)
    if outdir.is_current(path, data, presumed=False):
        return False
    outdir.put(path, data)
    outdir.flush()
    return True


def read_published_vkey(outdir: str | os.PathLike[str] | Destination, *,
                        endpoint_url: str | None = None) -> str:
    """The publisher's verifier key as :func:`publish` wrote it in ``outdir/ledger.json``.

    Raises:
        InputError: no readable ``ledger.json`` with a ``vkey`` there.
    """
    if isinstance(outdir, str | os.PathLike):
        with closing(open_destination(outdir, endpoint_url=endpoint_url)) as destination:
            return read_published_vkey(destination)
    where = Where(file=f"{outdir.describe().rstrip('/')}/{LEDGER_JSON}")
    data = outdir.read(LEDGER_JSON, MAX_LEDGER_JSON_BYTES)
    if data is None:
        raise InputError("no ledger.json there", where=where)
    try:
        info = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise InputError(f"ledger.json is not JSON: {e}", where=where) from e
    vkey = info.get("vkey") if isinstance(info, dict) else None
    if type(vkey) is not str:
        raise InputError("ledger.json has no vkey", where=where)
    return vkey


def _previous_checkpoint(outdir: Destination, key: VerifierKey,
                         checkpoint: Checkpoint) -> Checkpoint | None:
    """The checkpoint the destination serves, when it is one of this log (same origin, signed
    with ``key``) no larger than the one published now; None otherwise (nothing presumed)."""
    note = outdir.read(CHECKPOINT_FILE, MAX_CHECKPOINT_BYTES)
    if note is None:
        return None
    try:
        previous = open_checkpoint(note, [key]).checkpoint
    except VerificationError:
        return None  # not ours: every file is looked at, none presumed
    if previous.origin != checkpoint.origin or previous.size > checkpoint.size:
        return None
    return previous


def _presumed_size(outdir: Destination, previous: Checkpoint | None) -> int:
    """The size whose tiles and bundles are taken as there: the previous checkpoint's, when
    the files at its right edge (one per tile level, and the last bundle) are there with the
    right sizes; else 0 (something was removed behind the publisher's back)."""
    if previous is None or previous.size == 0:
        return 0
    for ref, size in _right_edge(previous.size):
        found = outdir.size_of(ref.path)
        if found is None or (size is not None and found != size):
            return 0
    return previous.size


def _resumed(outdir: Destination, source: Source, previous: Checkpoint | None,
             presumed: int) -> TileBuilder:
    """Where the tile builder starts: at the previous checkpoint's size when its files are there
    and the source gives the tiles at that size's right edge, whose root must be the previous
    checkpoint's (else a fork); at 0 otherwise."""
    if previous is None or presumed == 0:
        return TileBuilder()
    try:
        rows: list[list[bytes]] = []
        for level in range(tile_levels(presumed)):
            nodes = presumed >> (TILE_HEIGHT * level)
            width = nodes % TILE_WIDTH
            tile = source.read_tile(level, nodes // TILE_WIDTH, width) if width else b""
            rows.append([tile[i:i + HASH_SIZE] for i in range(0, len(tile), HASH_SIZE)])
        entries: list[bytes] = []
        if presumed % TILE_WIDTH:
            ref = BundleId(index=presumed // TILE_WIDTH, width=presumed % TILE_WIDTH)
            entries = parse_entry_bundle(source.read_entry_bundle(ref.index, ref.width),
                                         ref.width, path=ref.path)
    except VerificationError:
        return TileBuilder()  # the source lacks those tiles: build from the first entry
    builder = TileBuilder.resume(presumed, rows, entries)
    _same_log(outdir, previous, builder.root())
    return builder


def _kept_index(outdir: Destination, start: int,
                key_owner: Callable[[bytes], str | None] | None) -> UpdatedIndex | None:
    """The destination's station index to carry on, or None (derived from every entry)."""
    try:
        return UpdatedIndex(outdir, start, key_owner)
    except IndexNotFollowed:
        return None


def _key_owner(source: Source, publisher: VerifierKey) -> Callable[[bytes], str | None] | None:
    """The station a key id was registered for, from a ledger directory's stored checker
    state (read at the first revoke); None for other sources."""
    if not isinstance(source, LedgerDirSource):
        return None
    store = source.store
    registries: list[KeyRegistry | None] = []

    def owner(key: bytes) -> str | None:
        from ledger.store.integrity import decode_state  # lmdb only where a ledger is read

        if not registries:
            state = store.snapshot()[1]
            try:
                registries.append(None if state is None else decode_state(state,
                                                                          publisher).registry)
            except MalformedError:
                # a damaged state: the ledger's own checks report it; the index is then
                # derived from every entry
                registries.append(None)
        registry = registries[0]
        found = None if registry is None else registry.signer_for(key)
        return None if found is None else found.station

    return owner


def _election(source: Source, size: int) -> Election | None:
    """The election record, entry 0 of the tree of ``size`` (for the observer's page)."""
    entries = source.iter_entries(0, size)
    try:
        record = decode_entry_record(next(entries))[1]
    finally:
        close = getattr(entries, "close", None)
        if close is not None:
            close()
    return record if isinstance(record, Election) else None


def _index_of_every_entry(source: Source, size: int) -> StationIndexBuilder:
    """The station index of the first ``size`` entries, read from the first."""
    stations = StationIndexBuilder()
    for index, entry in enumerate(source.iter_entries(0, size)):
        record = decode_entry_record(entry)[1]
        if not isinstance(record, Block):
            stations.add(index, record)
    return stations


def _right_edge(size: int) -> list[tuple[TileId | BundleId, int | None]]:
    """The last tile of each level and the last bundle of a tree of ``size`` (> 0), with the
    tile sizes (a bundle's depends on its entries)."""
    edge: list[tuple[TileId | BundleId, int | None]] = []
    for level in range(tile_levels(size)):
        nodes = size >> (TILE_HEIGHT * level)
        index = (nodes - 1) // TILE_WIDTH
        width = nodes - index * TILE_WIDTH
        edge.append((TileId(level=level, index=index, width=width), width * HASH_SIZE))
    index = (size - 1) // TILE_WIDTH
    edge.append((BundleId(index=index, width=size - index * TILE_WIDTH), None))
    return edge


def _same_log(outdir: Destination, previous: Checkpoint, root: bytes) -> None:
    if root != previous.root:
        raise ConsistencyError(
            f"{outdir.describe()} serves a checkpoint of size {previous.size} with root "
            f"{previous.root.hex()}, but these entries give {root.hex()} at that size: a fork "
            "of the log, not published over it", where=Where(file=CHECKPOINT_FILE))


class _Uploads:
    """The files of one publish, written through a bounded pool: at most ``2 * parallel`` in
    flight; the first failure stops the publish (raised by the next call, or by :meth:`wait`)."""

    def __init__(self, outdir: Destination) -> None:
        self.outdir = outdir
        self.written: list[str] = []
        self.skipped = 0
        self._seen: set[str] = set()  # a partial tile can be the same at two checkpoint sizes
        self._pool = ThreadPoolExecutor(outdir.parallel, thread_name_prefix="ledger-publish")
        self._pending: deque[Future[None]] = deque()

    def __enter__(self) -> _Uploads:
        return self

    def __exit__(self, *exc: object) -> None:
        for future in self._pending:
            future.cancel()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def put_all(self, files: Iterable[TileBytes], *, presumed: bool) -> None:
        for ref, data in files:
            self.put(ref.path, data, presumed=presumed)

    def put(self, path: str, data: bytes, *, presumed: bool = False) -> None:
        if path in self._seen:
            return
        self._seen.add(path)
        if self.outdir.is_current(path, data, presumed=presumed):
            self.skipped += 1
            return
        self.written.append(path)
        self._pending.append(self._pool.submit(self.outdir.put, path, data))
        while len(self._pending) > 2 * self.outdir.parallel:  # bounded: in order, oldest first
            self._pending.popleft().result()

    def wait(self) -> None:
        """Every file put so far written and durable (the first failure raised)."""
        while self._pending:
            self._pending.popleft().result()
        self.outdir.flush()
