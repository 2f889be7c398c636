"""Durable storage of one ledger directory: the only module that imports ``lmdb``.

One LMDB environment per directory, with the tables of :mod:`ledger.store.layout` (entries,
tree nodes by the leaf that completes them, blocks, checkpoints, a lookup index by station,
meta; described in ``docs/publisher.md``). Every table but ``lookup`` and ``meta`` is written in
key order, so a commit appends at the end of each B-tree and dirties a few pages whatever the
size of the log; the writer computes the tree's nodes from its in-memory compact range, without
reading anything back. Every change is one write transaction: LMDB's copy-on-write pages and
synchronous commit make it atomic and durable. There is no duplicate index: the entry checker
refuses byte-identical copies (docs/spec.md, "Verification"). A single writer holds an
``fcntl`` lock file; readers in any process see snapshots.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import lmdb

from ledger.core.hashing import sha256
from ledger.core.merkle import CompactRange, NodeReader
from ledger.errors import StoreCorruptError, StoreError
from ledger.store.layout import (
    DATA_FILE,
    FORMAT,
    Commit,
    LookupKey,
    NewEntries,
    NewEntry,
    Row,
    as_columns,
    batch_rows,
    from_u64,
    lmdb_required_size,
    lookup_epochs,
    lookup_query,
    node_in,
    node_key,
    u64,
)
from ledger.store.writelock import LOCK_FILE, WriteLock

__all__ = ["DATA_FILE", "FORMAT", "Commit", "LookupKey", "NewEntries", "NewEntry", "Store"]

#: Enough of the data file to hold both LMDB meta pages (at most 2 x 32 KiB pages).
_META_HEAD_BYTES = 1 << 16
DEFAULT_MAP_SIZE = 64 << 20
DEFAULT_MAX_MAP_SIZE = 1 << 40
_ITER_CHUNK = 4096
_MAX_LEVEL = 64
#: A node reader keeps the nodes it read at this level and up, at most this many.
_CACHE_LEVEL = 8
_CACHE_NODES = 1 << 14

_DB_NAMES = (b"meta", b"entries", b"nodes", b"blocks", b"checkpoints", b"lookup")
_CORRUPT = (
    lmdb.CorruptedError,
    lmdb.PageNotFoundError,
    lmdb.PanicError,
    lmdb.InvalidError,
    lmdb.VersionMismatchError,
    lmdb.BadChecksumError,
)

_RESERVED_META = frozenset({"format", "size", "state", "state_digest"})


def _remove_new_store(directory: Path, *, remove_dir: bool) -> None:
    """Undo a failed create: nothing was committed, so the files hold nothing of value."""
    for name in (DATA_FILE, "lock.mdb", LOCK_FILE):
        (directory / name).unlink(missing_ok=True)
    if remove_dir:
        directory.rmdir()


class _Envs:
    """One LMDB environment per directory per process, shared and reference-counted.

    LMDB forbids opening the same environment twice in one process (its lock file would break).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[str, tuple[Any, int]] = {}

    def acquire(self, directory: Path, map_size: int, *, create: bool = False) -> Any:
        key = str(directory)
        with self._lock:
            if key in self._open:
                env, count = self._open[key]
                self._open[key] = (env, count + 1)
                return env
            try:
                env = lmdb.open(
                    key, subdir=True, map_size=map_size, max_dbs=len(_DB_NAMES),
                    readonly=not create and not os.access(key, os.W_OK), readahead=False,
                    meminit=False, create=create,
                )
            except _CORRUPT as e:
                raise StoreCorruptError(f"ledger {directory} is corrupt: {e}") from e
            except lmdb.Error as e:
                raise StoreError(f"cannot open ledger {directory}: {e}") from e
            self._open[key] = (env, 1)
            return env

    def release(self, directory: Path) -> None:
        key = str(directory)
        with self._lock:
            env, count = self._open[key]
            if count > 1:
                self._open[key] = (env, count - 1)
            else:
                del self._open[key]
                env.close()


_ENVS = _Envs()


def _check_data_file(data_file: Path) -> None:
    """Refuse a data file shorter than LMDB's own meta pages say it is: mapping the missing
    pages would kill the process with SIGBUS instead of an error.

    Raises:
        StoreCorruptError: the file is truncated, or does not start with LMDB meta pages.
    """
    try:
        with open(data_file, "rb") as f:
            head = f.read(_META_HEAD_BYTES)
            size = os.fstat(f.fileno()).st_size
    except OSError as e:
        raise StoreError(f"cannot read {data_file}: {e.strerror or e}") from e
    required = lmdb_required_size(head)
    if required is None:
        raise StoreCorruptError(f"{data_file} does not start with LMDB meta pages")
    if size < required:
        raise StoreCorruptError(f"{data_file} is truncated: {size:,} bytes, but its meta page "
                                f"says {required:,}")


class Store:
    """An open ledger directory: read methods for anyone, :meth:`commit` for the lock holder."""

    path: Path
    writable: bool
    max_map_size: int
    _lock: WriteLock | None
    _env: Any
    _dbs: dict[bytes, Any]
    _closed: bool
    #: The writer's frontier of the committed tree, and the one a running commit makes.
    _tree: CompactRange | None
    _next_tree: CompactRange | None

    def __init__(
        self, path: str | os.PathLike[str], *, write: bool = False,
        map_size: int = DEFAULT_MAP_SIZE, max_map_size: int = DEFAULT_MAX_MAP_SIZE,
    ) -> None:
        """Open an existing ledger directory; ``write=True`` takes the single-writer lock.

        Raises StoreError (not a ledger, cannot open), StoreLockedError, StoreCorruptError.
        """
        directory = Path(path).resolve()
        if not (directory / DATA_FILE).is_file():
            raise StoreError(f"{path} is not a ledger directory (no {DATA_FILE})")
        _check_data_file(directory / DATA_FILE)
        lock = WriteLock(directory) if write else None
        self._attach(directory, lock, map_size, max_map_size, create=False)
        try:
            fmt = self._open_dbs()
        except lmdb.NotFoundError as e:
            self.close()
            raise StoreError(
                f"{path} is not an election-ledger store (an interrupted init leaves this: "
                "remove the directory and init again)"
            ) from e
        except BaseException:
            self.close()
            raise
        if fmt != FORMAT:
            self.close()
            raise StoreError(f"{path}: unknown store format {fmt!r}, expected {FORMAT!r} "
                             "(a ledger from an older version: publish it and import again)")

    def _open_dbs(self) -> bytes | None:
        # The format is checked before the tables: an older store lacks some of them.
        meta = self._env.open_db(b"meta", create=False)
        with self._read() as txn:
            fmt = txn.get(b"format", db=meta)
        if fmt != FORMAT:
            return None if fmt is None else bytes(fmt)
        self._dbs = {name: self._env.open_db(name, create=False) for name in _DB_NAMES}
        return FORMAT

    def _attach(self, directory: Path, lock: WriteLock | None, map_size: int,
                max_map_size: int, *, create: bool) -> None:
        self.path = directory
        self.writable = lock is not None
        self.max_map_size = max_map_size
        self._lock = lock
        self._dbs = {}
        self._tree = self._next_tree = None
        try:
            self._env = _ENVS.acquire(directory, map_size, create=create)
        except BaseException:
            if lock is not None:
                lock.release()
            raise
        self._closed = False

    @classmethod
    def create(
        cls, path: str | os.PathLike[str], meta: dict[str, bytes], *,
        initial: Commit | None = None,
        map_size: int = DEFAULT_MAP_SIZE, max_map_size: int = DEFAULT_MAX_MAP_SIZE,
    ) -> Store:
        """Create a ledger directory with ``meta`` and ``initial`` in ONE transaction; open it.

        Raises StoreError when ``path`` exists and is not an empty directory.
        """
        directory = Path(path)
        if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
            raise StoreError(f"{path} already exists and is not an empty directory")
        if _RESERVED_META & meta.keys():
            raise ValueError(f"meta keys {sorted(_RESERVED_META)} are reserved")
        existed = directory.exists()
        try:
            directory.mkdir(parents=True, exist_ok=True)
            directory = directory.resolve()
        except OSError as e:
            raise StoreError(f"cannot create ledger directory {path}: {e.strerror}") from e
        store = cls.__new__(cls)
        store._attach(directory, WriteLock(directory), map_size, max_map_size, create=True)

        def init(txn: Any) -> None:
            store._dbs = {name: store._env.open_db(name, txn=txn) for name in _DB_NAMES}
            for key, value in sorted(meta.items()):
                txn.put(key.encode(), value, db=store._dbs[b"meta"])
            txn.put(b"format", FORMAT, db=store._dbs[b"meta"])
            txn.put(b"size", u64(0), db=store._dbs[b"meta"])
            if initial is not None:
                store._apply(txn, initial)

        try:
            store._write(init)
        except BaseException:
            store.close()
            _remove_new_store(directory, remove_dir=not existed)
            raise
        store._adopt_next_tree()
        return store

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran."""
        return self._closed

    def close(self) -> None:
        """Release the environment and the write lock; idempotent."""
        if self._closed:
            return
        self._closed = True
        _ENVS.release(self.path)
        if self._lock is not None:
            self._lock.release()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading ---------------------------------------------------------------------------

    def _begin(self) -> Any:
        if self._closed:
            raise StoreError(f"ledger {self.path} is closed")
        try:
            return self._env.begin()
        except lmdb.MapResizedError:
            self._env.set_mapsize(0)  # another process grew the map: adopt its size
            return self._env.begin()

    @contextmanager
    def _read(self) -> Iterator[Any]:
        try:
            with self._begin() as txn:
                yield txn
        except _CORRUPT as e:
            raise StoreCorruptError(f"ledger {self.path} is corrupt: {e}") from e
        except lmdb.Error as e:
            raise StoreError(f"cannot read ledger {self.path}: {e}") from e

    def meta(self, name: str) -> bytes | None:
        """A meta value by name, or None."""
        with self._read() as txn:
            value = txn.get(name.encode(), db=self._dbs[b"meta"])
            return None if value is None else bytes(value)

    def size(self) -> int:
        """Number of entries committed."""
        with self._read() as txn:
            return self._size(txn)

    def _size(self, txn: Any) -> int:
        raw = txn.get(b"size", db=self._dbs[b"meta"])
        if raw is None:
            raise StoreCorruptError(f"ledger {self.path} has no size record")
        return from_u64(raw)

    def entry(self, index: int) -> bytes:
        """The bytes of entry ``index``; IndexError past the end."""
        with self._read() as txn:
            value = txn.get(u64(index), db=self._dbs[b"entries"]) if index >= 0 else None
            if value is None:
                if 0 <= index < self._size(txn):
                    raise StoreCorruptError(f"ledger {self.path} is missing entry {index}")
                raise IndexError(f"no entry {index}")
            return bytes(value)

    def iter_entries(self, start: int = 0, stop: int | None = None) -> Iterator[bytes]:
        """Entries ``start`` up to ``stop`` (default: the committed size), read in chunks."""
        end = self.size() if stop is None else stop
        if not 0 <= start <= end:
            raise ValueError(f"bad entry range [{start}, {end})")
        position = start
        while position < end:
            chunk_end = min(end, position + _ITER_CHUNK)
            with self._read() as txn:
                cursor = txn.cursor(db=self._dbs[b"entries"])
                found = cursor.set_key(u64(position))
                chunk = []
                while found and position < chunk_end:
                    if from_u64(cursor.key()) != position:
                        break
                    chunk.append(bytes(cursor.value()))
                    position += 1
                    found = cursor.next()
            if position < chunk_end:
                raise StoreCorruptError(f"ledger {self.path} is missing entry {position}")
            yield from chunk

    def lookup(self, station: str, kind: str | None = None,
               category: str | None = None) -> list[int]:
        """Indices of the entries about ``station`` (optionally of one kind and category)."""
        query = lookup_query(station, kind, category)
        found = []
        with self._read() as txn:
            cursor = txn.cursor(db=self._dbs[b"lookup"])
            for epoch in lookup_epochs(self._size(txn)):  # one seek per epoch
                start = epoch + query
                ok = cursor.set_range(start)
                while ok and cursor.key().startswith(start):
                    found.append(from_u64(cursor.key()[-8:]))
                    ok = cursor.next()
        return sorted(found)

    def node(self, level: int, index: int) -> bytes:
        """Hash of the perfect subtree at ``level`` covering leaves from ``index * 2**level``."""
        return self.nodes(level, index, 1)[0]

    def _node(self, txn: Any, level: int, index: int) -> bytes:
        node = node_in(txn.get(node_key(level, index), db=self._dbs[b"nodes"]), level)
        if node is None:
            raise StoreCorruptError(f"ledger {self.path} is missing node ({level}, {index})")
        return node

    def nodes(self, level: int, start: int, count: int) -> list[bytes]:
        """``count`` consecutive perfect-subtree hashes at ``level`` (one read transaction).

        Raises IndexError for a node not (yet) complete in the committed tree.
        """
        if not 0 <= level < _MAX_LEVEL or start < 0 or count < 0:
            raise IndexError(f"no node ({level}, {start})")
        with self._read() as txn:
            if (start + count) << level > self._size(txn):
                raise IndexError(f"nodes ({level}, {start}..{start + count}) are beyond the tree")
            return [self._node(txn, level, start + i) for i in range(count)]

    def node_reader(self, size: int) -> NodeReader:
        """A merkle NodeReader over the tree of ``size`` leaves (refuses nodes beyond it).

        Its reads share one read transaction, opened at the first read and ended when the
        reader is dropped: keep a reader for one proof or one batch of proofs, not for ever
        (an open snapshot keeps the writer from reusing pages).
        """
        if not 0 <= size <= self.size():
            raise ValueError(f"tree size {size} is beyond the committed size")
        return _TreeReader(self, size)

    def root(self, size: int | None = None) -> bytes:
        """RFC 9162 root of the first ``size`` entries (default all), from stored nodes."""
        with self._read() as txn:
            n = self._size(txn) if size is None else size
            if not 0 <= n <= self._size(txn):
                raise ValueError(f"tree size {n} is beyond the committed size")
            return self._frontier(txn, n).root()

    def _frontier(self, txn: Any, size: int) -> CompactRange:
        """The compact range of the first ``size`` leaves: its perfect subtrees, largest first."""
        hashes, position = [], 0
        for level in range(size.bit_length() - 1, -1, -1):
            if size >> level & 1:
                hashes.append(self._node(txn, level, position >> level))
                position += 1 << level
        return CompactRange.from_state(size, hashes)

    def block_count(self) -> int:
        """Number of block entries committed."""
        with self._read() as txn:
            return int(txn.stat(self._dbs[b"blocks"])["entries"])

    def block_index(self, height: int) -> int:
        """Leaf index of the block entry at ``height``; IndexError if there is none."""
        with self._read() as txn:
            value = txn.get(u64(height), db=self._dbs[b"blocks"]) if height >= 0 else None
            if value is None:
                raise IndexError(f"no block {height}")
            return from_u64(value)

    def iter_blocks(self) -> Iterator[tuple[int, int]]:
        """(height, leaf index) of every block entry, by height."""
        with self._read() as txn:
            items = [(from_u64(k), from_u64(v))
                     for k, v in txn.cursor(db=self._dbs[b"blocks"]).iternext()]
        yield from items

    def checkpoint(self, height: int) -> bytes:
        """The signed checkpoint note of block ``height``; IndexError if there is none."""
        with self._read() as txn:
            value = txn.get(u64(height), db=self._dbs[b"checkpoints"]) if height >= 0 else None
            if value is None:
                raise IndexError(f"no checkpoint for block {height}")
            return bytes(value)

    def latest_checkpoint(self) -> tuple[int, bytes] | None:
        """(block height, signed note) of the latest checkpoint, or None before the first seal."""
        with self._read() as txn:
            cursor = txn.cursor(db=self._dbs[b"checkpoints"])
            if not cursor.last():
                return None
            return from_u64(bytes(cursor.key())), bytes(cursor.value())

    def state(self) -> bytes | None:
        """The entry checker's state as last stored, or None; checked against its digest.

        Raises:
            StoreCorruptError: the state's bytes do not match the digest stored beside them.
        """
        with self._read() as txn:
            return self._state(txn)

    def _state(self, txn: Any) -> bytes | None:
        meta = self._dbs[b"meta"]
        state, digest = txn.get(b"state", db=meta), txn.get(b"state_digest", db=meta)
        if state is None:
            return None
        state = bytes(state)
        if digest is None or bytes(digest) != state_digest(state):
            raise StoreCorruptError(
                f"ledger {self.path}: table meta, key state: the stored checker state does not "
                "match the digest stored beside it")
        return state

    def snapshot(self) -> tuple[int, bytes | None, tuple[int, bytes] | None]:
        """(size, checker state, latest checkpoint) read in one transaction; the state is
        checked against its digest (StoreCorruptError)."""
        with self._read() as txn:
            state = self._state(txn)
            cursor = txn.cursor(db=self._dbs[b"checkpoints"])
            latest = (from_u64(bytes(cursor.key())), bytes(cursor.value())) if cursor.last() \
                else None
            return self._size(txn), state, latest

    @contextmanager
    def tables(self) -> Iterator[Tables]:
        """Every table's raw rows in one read snapshot (:mod:`ledger.store.integrity`)."""
        with self._read() as txn:
            yield Tables(txn, self._dbs)

    def disk_usage(self) -> int:
        """Bytes used on disk by the ledger directory's files."""
        return sum(p.stat().st_blocks * 512 for p in self.path.iterdir() if p.is_file())

    # -- writing ---------------------------------------------------------------------------

    def commit(self, change: Commit) -> None:
        """Apply ``change`` in one durable write transaction, or not at all.

        Raises ValueError (a change that does not fit the store), StoreCorruptError (the
        stored tree disagrees with ``change.root``), StoreError (disk full, map at its cap).
        """
        self._write(lambda txn: self._apply(txn, change))
        self._adopt_next_tree()

    def _adopt_next_tree(self) -> None:
        # Only after a commit that returned: a failed one leaves the frontier as it was (each
        # attempt of _write starts by forgetting the last one's).
        if self._next_tree is not None:
            self._tree, self._next_tree = self._next_tree, None

    def _write(self, apply: Callable[[Any], object]) -> None:
        if not self.writable or self._lock is None:
            raise StoreError(f"ledger {self.path} is open read-only")
        if self._closed:
            raise StoreError(f"ledger {self.path} is closed")
        try:
            while True:
                self._next_tree = None
                try:
                    with self._env.begin(write=True) as txn:
                        apply(txn)
                    return
                except lmdb.MapFullError:
                    self._grow()
        except _CORRUPT as e:
            raise StoreCorruptError(f"ledger {self.path} is corrupt: {e}") from e
        except lmdb.Error as e:
            raise StoreError(
                f"cannot write ledger {self.path}: {e}; nothing of this change was written"
            ) from e

    def put_meta(self, name: str, value: bytes) -> None:
        """Set a meta value outside the reserved names, in its own durable transaction, with
        its digest beside it (under ``digest/<name>``: :mod:`ledger.store.integrity` checks it).
        """
        if name in _RESERVED_META or name.startswith(META_DIGEST_PREFIX):
            raise ValueError(f"meta key {name!r} is reserved")
        key = name.encode()

        def put(txn: Any) -> None:
            txn.put(key, value, db=self._dbs[b"meta"])
            txn.put(META_DIGEST_PREFIX.encode() + key, meta_digest(key, value),
                    db=self._dbs[b"meta"])

        self._write(put)

    def _grow(self) -> None:
        current = int(self._env.info()["map_size"])
        if current >= self.max_map_size:
            raise StoreError(
                f"ledger {self.path} is full: map size {current} bytes reached its cap "
                f"{self.max_map_size}; nothing of this change was written"
            )
        try:
            self._env.set_mapsize(min(current * 2, self.max_map_size))
        except lmdb.Error as e:
            raise StoreError(f"cannot grow ledger {self.path} map: {e}") from e

    def _apply(self, txn: Any, change: Commit) -> None:
        """Write ``change`` into ``txn``; every table but lookup and meta only grows at its end."""
        size = self._size(txn)
        if size != change.size:
            raise ValueError(f"change starts at {change.size}, the store holds {size}")
        entries = as_columns(change.entries)
        if change.checkpoint is not None and (not entries.blocks or entries.blocks[-1] is None):
            raise ValueError("a checkpoint must come with the block entry it seals")
        tree = self._tree if self._tree is not None and self._tree.size == size \
            else self._frontier(txn, size)
        frontier = list(tree.hashes)
        rows = batch_rows(size, entries, frontier)
        index = size + len(entries.data)
        self._put_all(txn, b"entries", rows.entries, "entry")
        self._put_all(txn, b"nodes", rows.nodes, "tree node")
        self._put_all(txn, b"blocks", rows.blocks, "block")
        if rows.lookup:
            txn.cursor(db=self._dbs[b"lookup"]).putmulti(rows.lookup)
        tree = CompactRange.from_state(index, frontier)
        blocks = rows.blocks
        meta = self._dbs[b"meta"]
        txn.put(b"size", u64(index), db=meta)
        if change.state is not None:
            txn.put(b"state", change.state, db=meta)
            txn.put(b"state_digest", state_digest(change.state), db=meta)
        if change.checkpoint is not None and not txn.put(
            blocks[-1][0], change.checkpoint, db=self._dbs[b"checkpoints"], overwrite=False
        ):
            raise ValueError(f"checkpoint of block {from_u64(blocks[-1][0])} already stored")
        if change.root is not None and tree.root() != change.root:
            raise StoreCorruptError(
                f"ledger {self.path}: root of the stored tree at size {index} differs from the "
                "root of the checked entries; nothing was written"
            )
        self._next_tree = tree

    def _put_all(self, txn: Any, name: bytes, rows: list[Row], what: str) -> None:
        """Append ``rows`` (in key order, every key past the table's last) to table ``name``."""
        if not rows:
            return
        _consumed, added = txn.cursor(db=self._dbs[name]).putmulti(rows, append=True)
        if added != len(rows):
            raise ValueError(f"a {what} at or before {from_u64(rows[0][0])} is already stored")


#: Meta values set with :meth:`Store.put_meta` have their digest under this prefix and the name.
META_DIGEST_PREFIX = "digest/"


def meta_digest(name: bytes, value: bytes) -> bytes:
    """The digest stored beside a meta value set with :meth:`Store.put_meta`."""
    return sha256(b"election-ledger/v1 meta\n" + name + b"\n" + value)


def state_digest(state: bytes) -> bytes:
    """The digest stored beside the checker state: a flipped bit in it is seen on open."""
    return sha256(b"election-ledger/v1 checker state\n" + state)


class Tables:
    """Raw rows of a store's tables, read in one transaction (an open :meth:`Store.tables`)."""

    __slots__ = ("_dbs", "_txn")

    def __init__(self, txn: Any, dbs: dict[bytes, Any]) -> None:
        self._txn, self._dbs = txn, dbs

    def get(self, table: str, key: bytes) -> bytes | None:
        """The value at ``key`` in ``table``, or None."""
        value = self._txn.get(key, db=self._dbs[table.encode()])
        return None if value is None else bytes(value)

    def rows(self, table: str, start: bytes = b"") -> Iterator[tuple[bytes, bytes]]:
        """(key, value) of ``table`` from ``start`` on, in key order."""
        cursor = self._txn.cursor(db=self._dbs[table.encode()])
        ok = cursor.set_range(start) if start else cursor.first()
        while ok:
            yield bytes(cursor.key()), bytes(cursor.value())
            ok = cursor.next()


class _TreeReader:
    """A NodeReader over one read snapshot: a proof's O(log n) reads share one transaction.

    Nodes at level :data:`_CACHE_LEVEL` and up, which most proofs of a tree share, are kept
    (at most :data:`_CACHE_NODES` of them: about 2 MB).
    """

    __slots__ = ("_cache", "_db", "_size", "_store", "_txn")

    def __init__(self, store: Store, size: int) -> None:
        self._store, self._size = store, size
        self._db = store._dbs[b"nodes"]
        self._txn: Any = None
        self._cache: dict[tuple[int, int], bytes] = {}

    def __call__(self, level: int, index: int) -> bytes:
        if not 0 <= level < _MAX_LEVEL or index < 0 or (index + 1) << level > self._size:
            raise ValueError(f"node ({level}, {index}) is not inside a tree of size {self._size}")
        if level < _CACHE_LEVEL:
            return self._read(level, index)
        cache = self._cache
        node = cache.get((level, index))
        if node is None:
            node = self._read(level, index)
            if len(cache) < _CACHE_NODES:  # the first ones in are the most shared: keep them
                cache[level, index] = node
        return node

    def _read(self, level: int, index: int) -> bytes:
        store = self._store
        if store._closed:
            raise StoreError(f"ledger {store.path} is closed")
        try:
            txn = self._txn
            if txn is None:
                txn = self._txn = store._begin()
            node = node_in(txn.get(node_key(level, index), db=self._db), level)
        except _CORRUPT as e:
            raise StoreCorruptError(f"ledger {store.path} is corrupt: {e}") from e
        except lmdb.Error as e:
            raise StoreError(f"cannot read ledger {store.path}: {e}") from e
        if node is None:
            raise StoreCorruptError(f"ledger {store.path} is missing node ({level}, {index})")
        return node
