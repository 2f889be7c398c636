"""``ledger publish``: write a log as a static C2SP tlog-tiles tree (docs/spec.md, "Published
form").

Hash tiles, entry bundles, ``ledger.json`` and the station index (``stations/``, derived from
the same pass over the entries) first, each written atomically (temp file, fsync, rename), then
the checkpoint, atomically and last: a reader never sees a checkpoint whose tiles
are missing. Files already there with the right bytes are left alone, so publishing again writes
only what is new or changed; partial tiles of every block checkpoint are written and kept.
"""

from __future__ import annotations

import json
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from ledger.core.hashing import LEDGER_FORMAT
from ledger.errors import InputError, RootMismatchError, Where
from ledger.files import fsync_dir, read_json, replace_file
from ledger.formats.checkpoints import Checkpoint, open_checkpoint
from ledger.formats.keys import parse_verifier_key
from ledger.formats.policy import Policy
from ledger.formats.records import Block, Election, decode_entry_record
from ledger.formats.station_index import StationIndexBuilder
from ledger.publisher.page import PageTrust, page_files
from ledger.publisher.tile_export import TileBuilder, TileBytes, station_index_files
from ledger.sources.ledger_dir import LedgerDirSource
from ledger.sources.open import open_source
from ledger.sources.source import CHECKPOINT_FILE, LEDGER_JSON, Source

if TYPE_CHECKING:
    from ledger.publisher.ledger import Ledger



@dataclass(frozen=True, slots=True, kw_only=True)
class PublishResult:
    """What one publish did: the tree published and which files it wrote or found in place."""

    outdir: Path
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
    outdir: str | os.PathLike[str],
    *,
    vkey: str | None = None,
    page_policy: Policy | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> PublishResult:
    """Publish the latest checkpoint of a ledger (or of any source, path or URL) into ``outdir``.

    ``vkey`` is the publisher's verifier key; by default the one the source states. The
    checkpoint must verify with it and its root must equal the root of the entries, or it is not
    written (tiles written before the check stay, unseen without a checkpoint that needs them).
    ``progress(done, total)`` is called every 4,096 entries. The observer's page is written
    too (:mod:`ledger.publisher.page`), with ``vkey`` and ``page_policy`` as its trust inputs.

    Raises:
        SignatureError / MalformedError: the checkpoint does not verify with ``vkey``.
        RootMismatchError: the entries do not give the checkpoint's root.
        InputError: no publisher key is known, or ``page_policy`` has no log line for the
            origin with that key.
    """
    if isinstance(ledger_or_source, str | os.PathLike):
        with closing(open_source(os.fspath(ledger_or_source))) as opened:
            return publish(opened, outdir, vkey=vkey, page_policy=page_policy,
                           progress=progress)
    if isinstance(ledger_or_source, Source):
        source: Source = ledger_or_source
    else:  # the publisher's open Ledger: read its store directly
        source = LedgerDirSource.from_store(ledger_or_source.store)
    key = vkey if vkey is not None else source.publisher_vkey()
    if key is None:
        raise InputError(f"{source.describe()} does not state the publisher key: it must be "
                         "given")
    note = source.read_checkpoint()
    publisher = parse_verifier_key(key)
    checkpoint = open_checkpoint(note, [publisher]).checkpoint
    page_trust = PageTrust(vkey=publisher, policy=page_policy)
    page_files(page_trust)  # a policy that does not name this log's key fails before any write
    with _Writer(Path(outdir)) as writer:
        sizes = _write_tree(source, checkpoint, note, key, page_trust, writer, progress)
    return PublishResult(
        outdir=writer.root,
        origin=checkpoint.origin,
        tree_size=checkpoint.size,
        checkpoint_sizes=tuple(sizes),
        paths_written=tuple(writer.written),
        skipped=writer.skipped,
    )


def _write_tree(source: Source, checkpoint: Checkpoint, note: bytes, key: str,
                page_trust: PageTrust, writer: _Writer,
                progress: Callable[[int, int], None] | None) -> list[int]:
    """Every file of the published tree, the checkpoint last; the block checkpoint sizes."""
    election: Election | None = None
    builder = TileBuilder()
    stations = StationIndexBuilder()
    sizes: list[int] = []
    for done, entry in enumerate(source.iter_entries(0, checkpoint.size)):
        if progress is not None and done % 4096 == 0:
            progress(done, checkpoint.size)
        writer.put_all(builder.append(entry))
        record = decode_entry_record(entry)[1]
        if done == 0 and isinstance(record, Election):
            election = record
        if isinstance(record, Block):
            sizes.append(builder.size)
            writer.put_all(builder.partials())
        else:
            stations.add(done, record)
    if builder.root() != checkpoint.root:
        raise RootMismatchError(
            f"the {checkpoint.size} entries of {source.describe()} give root "
            f"{builder.root().hex()}, the checkpoint says {checkpoint.root.hex()}: not published",
            where=Where(file=CHECKPOINT_FILE),
        )
    writer.put_all(builder.partials())
    if progress is not None:
        progress(checkpoint.size, checkpoint.size)
    info = {"format": LEDGER_FORMAT, "origin": checkpoint.origin, "vkey": key}
    writer.put(LEDGER_JSON, json.dumps(info).encode("utf-8"))
    for path, data in [*station_index_files(stations),
                       *page_files(replace(page_trust, election=election)).items()]:
        writer.put(path, data)
    writer.sync_dirs()
    writer.put(CHECKPOINT_FILE, note, now=True)  # last: it makes the new tiles visible
    writer.sync_dirs()
    return sizes


def read_published_vkey(outdir: str | os.PathLike[str]) -> str:
    """The publisher's verifier key as :func:`publish` wrote it in ``outdir/ledger.json``.

    Raises:
        InputError: no readable ``ledger.json`` with a ``vkey`` there.
    """
    path = Path(outdir) / LEDGER_JSON
    info = read_json(path, "a ledger.json")
    vkey = info.get("vkey") if isinstance(info, dict) else None
    if type(vkey) is not str:
        raise InputError("ledger.json has no vkey", where=Where(file=str(path)))
    return vkey


class _Writer:
    """Writes files under ``root`` atomically, skipping those already holding the same bytes.

    Each file is written under a temporary name, flushed and renamed into place
    (:func:`~ledger.files.replace_file`) by a pool of threads: a file system commits concurrent
    flushes together, and replacing an existing file costs a flush of its own on ext4, so for
    thousands of small station files this is several times faster than one after another.
    :meth:`sync_dirs` waits for them all, then flushes their folders, before the checkpoint
    that makes them visible is written.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.written: list[str] = []
        self.skipped = 0
        self._seen: set[str] = set()  # a partial tile can be the same at two checkpoint sizes
        self._dirty_dirs: set[Path] = set()
        self._pool: ThreadPoolExecutor | None = None
        self._pending: deque[Future[None]] = deque()
        root.mkdir(parents=True, exist_ok=True)

    def __enter__(self) -> _Writer:
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop the pool (on an error, the files handed to it are written or dropped)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def put_all(self, files: Iterable[TileBytes]) -> None:
        for ref, data in files:
            self.put(ref.path, data)

    def put(self, path: str, data: bytes, *, now: bool = False) -> None:
        """Write ``path`` unless it holds ``data``: in the pool, or here and now (``now``)."""
        if path in self._seen:
            return
        self._seen.add(path)
        target = self.root / path
        if _same_bytes(target, data):
            self.skipped += 1
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        self.written.append(path)
        self._dirty_dirs.update(_parents_up_to(target.parent, self.root))
        if now:
            replace_file(target, data)
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(_WRITE_THREADS, thread_name_prefix="ledger-write")
        while len(self._pending) >= _WRITES_IN_FLIGHT:  # bounded: memory stays small
            self._pending.popleft().result()
        self._pending.append(self._pool.submit(replace_file, target, data))

    def sync_dirs(self) -> None:
        """Wait for every file written (raising the first failure), then fsync every
        directory that got a new name, deepest first, so the renames are durable."""
        try:
            while self._pending:
                self._pending.popleft().result()
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)
                self._pool = None
        for directory in sorted(self._dirty_dirs, key=lambda p: len(p.parts), reverse=True):
            fsync_dir(directory)
        self._dirty_dirs.clear()


#: Threads writing files at once (each waits on the disk, not on this process), and files
#: handed to them and not yet written at most.
_WRITE_THREADS = 16
_WRITES_IN_FLIGHT = 256


def _parents_up_to(directory: Path, root: Path) -> Iterator[Path]:
    yield directory
    while directory != root and root in directory.parents:
        directory = directory.parent
        yield directory


def _same_bytes(path: Path, data: bytes) -> bool:
    try:
        if path.stat().st_size != len(data):
            return False
        return path.read_bytes() == data
    except FileNotFoundError:
        return False
