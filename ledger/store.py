"""Durable storage of one ledger directory: the only module that imports ``lmdb``.

One LMDB environment per directory, with sub-databases for entries by index, the hashes of every
perfect subtree (any proof at any past size reads O(log n) records), blocks and checkpoints by
height, a lookup index (station, kind, category) -> entry indices, a dedup index leaf hash ->
index, and meta (origin, publisher key, format, size, the entry checker's state). Every change is
one write transaction: LMDB's copy-on-write pages and synchronous commit make it atomic and
durable. A single writer holds an ``fcntl`` lock file; readers in any process see snapshots.
"""

from __future__ import annotations

import os
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lmdb

from ledger.errors import StoreCorruptError, StoreError
from ledger.hashing import EMPTY_ROOT, HASH_SIZE, node_hash
from ledger.writelock import LOCK_FILE, WriteLock

#: Written into meta at creation; a directory with another value is not ours.
FORMAT = b"election-ledger/v1 lmdb 1"
DATA_FILE = "data.mdb"
DEFAULT_MAP_SIZE = 64 << 20
DEFAULT_MAX_MAP_SIZE = 1 << 40
_ITER_CHUNK = 4096
_MAX_LEVEL = 64

_DB_NAMES = (b"meta", b"entries", b"nodes", b"blocks", b"checkpoints", b"lookup", b"dedup")
_CORRUPT = (
    lmdb.CorruptedError,
    lmdb.PageNotFoundError,
    lmdb.PanicError,
    lmdb.InvalidError,
    lmdb.VersionMismatchError,
    lmdb.BadChecksumError,
)

_RESERVED_META = frozenset({"format", "size", "state"})

NodeReader = Callable[[int, int], bytes]


def _u64(n: int) -> bytes:
    return struct.pack(">Q", n)


def _from_u64(b: bytes) -> int:
    if len(b) != 8:
        raise StoreCorruptError(f"stored integer is {len(b)} bytes, expected 8")
    value: int = struct.unpack(">Q", b)[0]
    return value


def _node_key(level: int, index: int) -> bytes:
    return bytes((level,)) + _u64(index)


def _part(text: str) -> bytes:
    raw = text.encode("utf-8")
    if len(raw) > 0xFFFF:
        raise ValueError("lookup key component longer than 65,535 bytes")
    return struct.pack(">H", len(raw)) + raw


@dataclass(frozen=True, slots=True, kw_only=True)
class LookupKey:
    """What an entry is about, for lookups: station id, record kind, report category or ""."""

    station: str
    kind: str
    category: str = ""

    def prefix(self) -> bytes:
        """The stored key without the entry index."""
        return _part(self.station) + _part(self.kind) + _part(self.category)


@dataclass(frozen=True, slots=True, kw_only=True)
class NewEntry:
    """One entry to append: its bytes, leaf hash, lookup keys, and block height if a block."""

    data: bytes
    leaf_hash: bytes
    lookup: tuple[LookupKey, ...] = ()
    block: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Commit:
    """One write transaction: entries appended at ``size``, then state and checkpoint.

    ``checkpoint`` (a signed note) belongs to the block entry that ends ``entries``; ``root``,
    when given, must equal the root recomputed from the stored nodes after the append.
    """

    size: int
    entries: tuple[NewEntry, ...] = ()
    state: bytes | None = None
    checkpoint: bytes | None = None
    root: bytes | None = None


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


class Store:
    """An open ledger directory: read methods for anyone, :meth:`commit` for the lock holder."""

    path: Path
    writable: bool
    max_map_size: int
    _lock: WriteLock | None
    _env: Any
    _dbs: dict[bytes, Any]
    _closed: bool

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
        lock = WriteLock(directory) if write else None
        self._attach(directory, lock, map_size, max_map_size, create=False)
        try:
            self._dbs = {name: self._env.open_db(name, create=False) for name in _DB_NAMES}
            fmt = self.meta("format")
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
            raise StoreError(f"{path}: unknown store format {fmt!r}, expected {FORMAT!r}")

    def _attach(self, directory: Path, lock: WriteLock | None, map_size: int,
                max_map_size: int, *, create: bool) -> None:
        self.path = directory
        self.writable = lock is not None
        self.max_map_size = max_map_size
        self._lock = lock
        self._dbs = {}
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
            txn.put(b"size", _u64(0), db=store._dbs[b"meta"])
            if initial is not None:
                store._apply(txn, initial)

        try:
            store._write(init)
        except BaseException:
            store.close()
            _remove_new_store(directory, remove_dir=not existed)
            raise
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

    @contextmanager
    def _read(self) -> Iterator[Any]:
        if self._closed:
            raise StoreError(f"ledger {self.path} is closed")
        try:
            try:
                txn = self._env.begin()
            except lmdb.MapResizedError:
                self._env.set_mapsize(0)  # another process grew the map: adopt its size
                txn = self._env.begin()
            with txn:
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
        return _from_u64(raw)

    def entry(self, index: int) -> bytes:
        """The bytes of entry ``index``; IndexError past the end."""
        with self._read() as txn:
            value = txn.get(_u64(index), db=self._dbs[b"entries"]) if index >= 0 else None
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
                found = cursor.set_key(_u64(position))
                chunk = []
                while found and position < chunk_end:
                    if _from_u64(cursor.key()) != position:
                        break
                    chunk.append(bytes(cursor.value()))
                    position += 1
                    found = cursor.next()
            if position < chunk_end:
                raise StoreCorruptError(f"ledger {self.path} is missing entry {position}")
            yield from chunk

    def index_of(self, leaf_hash: bytes) -> int | None:
        """Index of the entry with this leaf hash (dedup index), or None."""
        with self._read() as txn:
            value = txn.get(leaf_hash, db=self._dbs[b"dedup"])
            return None if value is None else _from_u64(value)

    def lookup(self, station: str, kind: str | None = None,
               category: str | None = None) -> list[int]:
        """Indices of the entries about ``station`` (optionally of one kind and category)."""
        if category is not None and kind is None:
            raise ValueError("a category lookup needs a kind")
        prefix = _part(station)
        if kind is not None:
            prefix += _part(kind)
            if category is not None:
                prefix += _part(category)
        found = []
        with self._read() as txn:
            cursor = txn.cursor(db=self._dbs[b"lookup"])
            ok = cursor.set_range(prefix)
            while ok and bytes(cursor.key()).startswith(prefix):
                found.append(_from_u64(bytes(cursor.key())[-8:]))
                ok = cursor.next()
        return sorted(found)

    def node(self, level: int, index: int) -> bytes:
        """Hash of the perfect subtree at ``level`` covering leaves from ``index * 2**level``."""
        return self.nodes(level, index, 1)[0]

    def _node(self, txn: Any, level: int, index: int) -> bytes:
        value = txn.get(_node_key(level, index), db=self._dbs[b"nodes"])
        if value is None or len(value) != HASH_SIZE:
            raise StoreCorruptError(f"ledger {self.path} is missing node ({level}, {index})")
        return bytes(value)

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
        """A merkle NodeReader over the tree of ``size`` leaves (refuses nodes beyond it)."""
        if not 0 <= size <= self.size():
            raise ValueError(f"tree size {size} is beyond the committed size")

        def read(level: int, index: int) -> bytes:
            if not 0 <= level < _MAX_LEVEL or index < 0 or (index + 1) << level > size:
                raise ValueError(f"node ({level}, {index}) is not inside a tree of size {size}")
            return self.nodes(level, index, 1)[0]

        return read

    def root(self, size: int | None = None) -> bytes:
        """RFC 9162 root of the first ``size`` entries (default all), from stored nodes."""
        with self._read() as txn:
            n = self._size(txn) if size is None else size
            if not 0 <= n <= self._size(txn):
                raise ValueError(f"tree size {n} is beyond the committed size")
            return self._root(txn, n)

    def _root(self, txn: Any, size: int) -> bytes:
        # The perfect subtrees of a tree of `size` leaves, largest first, folded from the right.
        hashes, position = [], 0
        for level in range(size.bit_length() - 1, -1, -1):
            if size >> level & 1:
                hashes.append(self._node(txn, level, position >> level))
                position += 1 << level
        if not hashes:
            return EMPTY_ROOT
        acc = hashes.pop()
        while hashes:
            acc = node_hash(hashes.pop(), acc)
        return acc

    def block_count(self) -> int:
        """Number of block entries committed."""
        with self._read() as txn:
            return int(txn.stat(self._dbs[b"blocks"])["entries"])

    def block_index(self, height: int) -> int:
        """Leaf index of the block entry at ``height``; IndexError if there is none."""
        with self._read() as txn:
            value = txn.get(_u64(height), db=self._dbs[b"blocks"]) if height >= 0 else None
            if value is None:
                raise IndexError(f"no block {height}")
            return _from_u64(value)

    def iter_blocks(self) -> Iterator[tuple[int, int]]:
        """(height, leaf index) of every block entry, by height."""
        with self._read() as txn:
            items = [(_from_u64(k), _from_u64(v))
                     for k, v in txn.cursor(db=self._dbs[b"blocks"]).iternext()]
        yield from items

    def checkpoint(self, height: int) -> bytes:
        """The signed checkpoint note of block ``height``; IndexError if there is none."""
        with self._read() as txn:
            value = txn.get(_u64(height), db=self._dbs[b"checkpoints"]) if height >= 0 else None
            if value is None:
                raise IndexError(f"no checkpoint for block {height}")
            return bytes(value)

    def latest_checkpoint(self) -> tuple[int, bytes] | None:
        """(block height, signed note) of the latest checkpoint, or None before the first seal."""
        with self._read() as txn:
            cursor = txn.cursor(db=self._dbs[b"checkpoints"])
            if not cursor.last():
                return None
            return _from_u64(bytes(cursor.key())), bytes(cursor.value())

    def state(self) -> bytes | None:
        """The entry checker's state as of the committed size, or None."""
        return self.meta("state")

    def snapshot(self) -> tuple[int, bytes | None, tuple[int, bytes] | None]:
        """(size, checker state, latest checkpoint) read in one transaction."""
        with self._read() as txn:
            state = txn.get(b"state", db=self._dbs[b"meta"])
            cursor = txn.cursor(db=self._dbs[b"checkpoints"])
            latest = (_from_u64(bytes(cursor.key())), bytes(cursor.value())) if cursor.last() \
                else None
            return self._size(txn), None if state is None else bytes(state), latest

    def disk_usage(self) -> int:
        """Bytes used on disk by the ledger directory's files."""
        return sum(p.stat().st_blocks * 512 for p in self.path.iterdir() if p.is_file())

    # -- writing ---------------------------------------------------------------------------

    def commit(self, change: Commit) -> None:
        """Apply ``change`` in one durable write transaction, or not at all.

        Raises ValueError (a change that does not fit the store), StoreCorruptError (stored
        nodes disagree with ``change.root``), StoreError (disk full, map at its cap).
        """
        if change.checkpoint is not None and (not change.entries
                                              or change.entries[-1].block is None):
            raise ValueError("a checkpoint must come with the block entry it seals")
        self._write(lambda txn: self._apply(txn, change))

    def _write(self, apply: Callable[[Any], object]) -> None:
        if not self.writable or self._lock is None:
            raise StoreError(f"ledger {self.path} is open read-only")
        if self._closed:
            raise StoreError(f"ledger {self.path} is closed")
        while True:
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
        """Set a meta value outside the reserved names, in its own durable transaction."""
        if name in _RESERVED_META:
            raise ValueError(f"meta key {name!r} is reserved")
        self._write(lambda txn: txn.put(name.encode(), value, db=self._dbs[b"meta"]))

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
        meta, nodes = self._dbs[b"meta"], self._dbs[b"nodes"]
        size = self._size(txn)
        if size != change.size:
            raise ValueError(f"change starts at {change.size}, the store holds {size}")
        last_height: int | None = None
        for entry in change.entries:
            if len(entry.leaf_hash) != HASH_SIZE:
                raise ValueError("a leaf hash is 32 bytes")
            key = _u64(size)
            if not txn.put(key, entry.data, db=self._dbs[b"entries"], append=True):
                raise StoreCorruptError(f"ledger {self.path}: entry {size} already stored")
            if not txn.put(entry.leaf_hash, key, db=self._dbs[b"dedup"], overwrite=False):
                raise ValueError(f"entry {size} duplicates an earlier entry")
            for lookup in entry.lookup:
                txn.put(lookup.prefix() + key, b"", db=self._dbs[b"lookup"])
            if entry.block is not None:
                if not txn.put(_u64(entry.block), key, db=self._dbs[b"blocks"], overwrite=False):
                    raise ValueError(f"block {entry.block} already stored")
                last_height = entry.block
            self._put_nodes(txn, nodes, size, entry.leaf_hash)
            size += 1
        txn.put(b"size", _u64(size), db=meta)
        if change.state is not None:
            txn.put(b"state", change.state, db=meta)
        if change.checkpoint is not None and last_height is not None and not txn.put(
            _u64(last_height), change.checkpoint, db=self._dbs[b"checkpoints"], overwrite=False
        ):
            raise ValueError(f"checkpoint of block {last_height} already stored")
        if change.root is not None and self._root(txn, size) != change.root:
            raise StoreCorruptError(
                f"ledger {self.path}: root from stored nodes at size {size} differs from the "
                "root of the checked entries; nothing was written"
            )

    def _put_nodes(self, txn: Any, nodes: Any, index: int, leaf: bytes) -> None:
        # Store the leaf, then every perfect subtree that this leaf completes (a right child).
        level, position, value = 0, index, leaf
        while True:
            if not txn.put(_node_key(level, position), value, db=nodes, overwrite=False):
                raise StoreCorruptError(f"ledger {self.path}: node ({level}, {position}) exists")
            if position & 1 == 0:
                return
            value = node_hash(self._node(txn, level, position - 1), value)
            level, position = level + 1, position >> 1
