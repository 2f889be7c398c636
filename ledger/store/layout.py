"""How a ledger directory lays out its rows (store format 2): keys, values, and a batch's rows.

Pure: :mod:`ledger.store.store` runs the LMDB transactions, this module says what goes in them. The
tables are described in ``docs/publisher.md``. Keys are big-endian, so key order is index order,
and every table but ``lookup`` and ``meta`` only grows at its end: a commit writes each of them
with LMDB's append mode, whatever the size of the log.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, cast

from ledger.core.hashing import HASH_SIZE, node_hash
from ledger.errors import StoreCorruptError

#: Written into meta at creation; a directory with another value is not ours (or is older).
FORMAT = b"election-ledger/v1 lmdb 2"
#: The LMDB data file: a directory holding it is a ledger directory.
DATA_FILE = "data.mdb"
#: Meta names the ledger writes: the log's origin, the publisher's verifier key, the ledger format,
#: the latest checkpoint with the witness cosignatures collected for it, and the size each
#: witness was last known to hold (JSON: verifier key -> size).
META_ORIGIN = "origin"
META_VKEY = "vkey"
META_LEDGER_FORMAT = "ledger_format"
META_COSIGNED_CHECKPOINT = "cosigned_checkpoint"
META_WITNESS_SIZES = "witness_sizes"
#: Lookup keys start with ``index >> LOOKUP_EPOCH_BITS``: a commit writes into one epoch.
LOOKUP_EPOCH_BITS = 12
#: Encoded lookup subjects kept by the writer (a station has a few: one per kind and category);
#: past this many the cache starts again (about 200 bytes each).
_PREFIX_CACHE = 1 << 17

u64 = struct.Struct(">Q").pack
_u32 = struct.Struct(">I").pack
_u16 = struct.Struct(">H").pack

Row = tuple[bytes, bytes]


def from_u64(b: bytes) -> int:
    """A stored 8-byte big-endian integer.

    Raises:
        StoreCorruptError: it is not 8 bytes.
    """
    if len(b) != 8:
        raise StoreCorruptError(f"stored integer is {len(b)} bytes, expected 8")
    value: int = struct.unpack(">Q", b)[0]
    return value


def _part(text: str) -> bytes:
    raw = text.encode("utf-8")
    if len(raw) > 0xFFFF:
        raise ValueError("lookup key component longer than 65,535 bytes")
    return _u16(len(raw)) + raw


class LookupKey(NamedTuple):
    """What an entry is about, for lookups: station id, record kind, report category or "".

    A tuple, not a dataclass: the publisher makes one per entry.
    """

    station: str
    kind: str
    category: str = ""

    def prefix(self) -> bytes:
        """The stored key without the epoch and the entry index."""
        station, kind = self.station.encode("utf-8"), self.kind.encode("utf-8")
        category = self.category.encode("utf-8")
        if len(station) > 0xFFFF or len(kind) > 0xFFFF or len(category) > 0xFFFF:
            raise ValueError("lookup key component longer than 65,535 bytes")
        return b"".join((_u16(len(station)), station, _u16(len(kind)), kind,
                         _u16(len(category)), category))


class NewEntry(NamedTuple):
    """One entry to append: its bytes, leaf hash, lookup keys, and block height if a block.

    A tuple, not a dataclass: sequencing makes millions (see ``docs/performance.md``).
    """

    data: bytes
    leaf_hash: bytes
    lookup: tuple[LookupKey, ...] = ()
    block: int | None = None


class NewEntries(NamedTuple):
    """Entries to append, by column: the same as a tuple of :class:`NewEntry`, without an
    object per entry (bulk sequencing: a named tuple per entry costs 0.6 us to build).

    ``lookup`` holds each entry's lookup keys; ``blocks`` each entry's block height or None,
    or nothing at all when no entry is a block.
    """

    data: Sequence[bytes]
    leaf_hashes: Sequence[bytes]
    lookup: Sequence[tuple[LookupKey, ...]]
    blocks: Sequence[int | None] = ()


_NO_ENTRIES = NewEntries(data=(), leaf_hashes=(), lookup=())


def as_columns(entries: tuple[NewEntry, ...] | NewEntries) -> NewEntries:
    """``entries`` by column (a tuple of :class:`NewEntry` transposed in one step).

    Raises:
        ValueError: the columns of a :class:`NewEntries` differ in length.
    """
    if isinstance(entries, NewEntries):
        count = len(entries.data)
        if len(entries.leaf_hashes) != count or len(entries.lookup) != count or (
                entries.blocks and len(entries.blocks) != count):
            raise ValueError("the columns of a batch of new entries differ in length")
        return entries
    if not entries:
        return _NO_ENTRIES
    data, leaves, lookup, blocks = zip(*entries, strict=True)
    return NewEntries(data=data, leaf_hashes=leaves, lookup=lookup, blocks=blocks)


@dataclass(frozen=True, slots=True, kw_only=True)
class Commit:
    """One write transaction: entries appended at ``size``, then state and checkpoint.

    ``checkpoint`` (a signed note) belongs to the block entry that ends ``entries``; ``root``,
    when given, must equal the root of the stored tree after the append.
    """

    size: int
    entries: tuple[NewEntry, ...] | NewEntries = ()
    state: bytes | None = None
    checkpoint: bytes | None = None
    root: bytes | None = None


def lookup_query(station: str, kind: str | None, category: str | None) -> bytes:
    """The part of a lookup key after the epoch that all entries about the subject share."""
    if category is not None and kind is None:
        raise ValueError("a category lookup needs a kind")
    prefix = _part(station)
    if kind is not None:
        prefix += _part(kind)
        if category is not None:
            prefix += _part(category)
    return prefix


def lookup_epochs(size: int) -> list[bytes]:
    """The epoch prefixes of a log of ``size`` entries, in key order."""
    return [_u32(epoch) for epoch in range(((size - 1) >> LOOKUP_EPOCH_BITS) + 1 if size else 0)]


def node_key(level: int, index: int) -> bytes:
    """The ``nodes`` key holding node (level, index): the leaf that completes it, its last."""
    return u64(((index + 1) << level) - 1)


def node_in(value: bytes | None, level: int) -> bytes | None:
    """Node hash at ``level`` in a ``nodes`` value (see :func:`completed_subtrees`), or None."""
    offset = level * HASH_SIZE
    if value is None or len(value) < offset + HASH_SIZE:
        return None
    return value[offset:offset + HASH_SIZE]


class Rows(NamedTuple):
    """The rows one commit adds to each table, every list in key order."""

    entries: list[Row]
    nodes: list[Row]
    blocks: list[Row]
    lookup: list[Row]


def batch_rows(size: int, entries: NewEntries, frontier: list[bytes]) -> Rows:
    """The rows of ``entries`` appended at ``size``; ``frontier`` (the compact range) advances.

    Whole-batch operations (map, zip) where they can be: sequencing makes millions of rows, and
    a Python loop step per row costs as much as LMDB's write.

    Raises:
        ValueError: a leaf hash is not 32 bytes.
    """
    end = size + len(entries.data)
    leaves = list(entries.leaf_hashes)
    if set(map(len, leaves)) - {HASH_SIZE}:
        raise ValueError("a leaf hash is 32 bytes")
    keys = list(map(u64, range(size, end)))
    nodes = completed_subtrees(frontier, size, leaves)
    blocks = [(u64(block), key) for key, block in zip(keys, entries.blocks, strict=True)
              if block is not None] if entries.blocks else []
    lookups = lookup_rows(size, keys, entries.lookup)
    return Rows(entries=list(zip(keys, entries.data, strict=True)),
                nodes=list(zip(keys, nodes, strict=True)), blocks=blocks,
                lookup=[(key, b"") for key in lookups])


_PREFIXES: dict[LookupKey, bytes] = {}
_concat = bytes.__add__


def _subject_prefixes(subjects: list[LookupKey]) -> list[bytes]:
    """Each subject's :meth:`LookupKey.prefix`, from a dict where it was seen before.

    A plain dict, not ``functools.lru_cache``: at 60,000 subjects (20,000 stations) the LRU's
    bookkeeping made a hit cost more than encoding the key again (0.94 against 0.85 us).
    """
    cache = _PREFIXES
    found: list[bytes | None] = list(map(cache.get, subjects))
    if None in found:
        if len(cache) > _PREFIX_CACHE:
            cache.clear()
        for i, prefix in enumerate(found):
            if prefix is None:
                subject = subjects[i]
                found[i] = cache[subject] = subject.prefix()
    return cast(list[bytes], found)  # no None left


def lookup_rows(size: int, keys: list[bytes],
                lookup: Sequence[tuple[LookupKey, ...]]) -> list[bytes]:
    """The sorted ``lookup`` keys of the entries appended at ``size`` (``keys``: their u64s;
    ``lookup``: the lookup keys of each).

    Epoch by epoch, with whole-list operations and each subject's encoding cached: a station's
    subjects recur in every round, and a per-row Python step costs as much as LMDB's write.
    """
    out: list[bytes] = []
    end = size + len(lookup)
    start = size
    while start < end:
        stop = min(end, ((start >> LOOKUP_EPOCH_BITS) + 1) << LOOKUP_EPOCH_BITS)
        part, part_keys = lookup[start - size:stop - size], keys[start - size:stop - size]
        subjects = [subject for each in part for subject in each]
        owners = [key for key, each in zip(part_keys, part, strict=True) for _ in each]
        epoch = _u32(start >> LOOKUP_EPOCH_BITS)
        out.extend(map(epoch.__add__, map(_concat, _subject_prefixes(subjects), owners)))
        start = stop
    out.sort()
    return out


def completed_subtrees(frontier: list[bytes], size: int, leaves: list[bytes]) -> list[bytes]:
    """Per leaf appended at ``size`` on, the hashes of the perfect subtrees it completes.

    Leaf hash first, then one node per trailing one bit of its index (RFC 9162 2.1.1: each is
    the node hash of the frontier's last subtree and the one just completed); ``frontier``, the
    compact range, advances with them. This is the ``nodes`` value of that leaf.
    """
    out = []
    for index, leaf in enumerate(leaves, size):
        if index & 1:
            completed, bits = [leaf], index
            while bits & 1:
                leaf = node_hash(frontier.pop(), leaf)
                completed.append(leaf)
                bits >>= 1
            out.append(b"".join(completed))
        else:
            out.append(leaf)
        frontier.append(leaf)
    return out


# LMDB's data file starts with two meta pages; the newer (larger txnid) says how many pages the
# file holds. A page header is 16 bytes; in MDB_meta (64-bit builds) the magic is at 0, the page
# size (the free DB's md_pad) at 24, mm_last_pg at 120 and mm_txnid at 128.
_LMDB_MAGIC = 0xBEEFC0DE
_PAGE_HEADER = 16
_META_SIZE = 136


def lmdb_required_size(head: bytes) -> int | None:
    """The bytes LMDB's newer meta page says its data file holds, from the file's first bytes
    (two pages' worth), or None when they are not LMDB meta pages at all."""
    found: list[tuple[int, int, int]] = []
    page = 0
    for _ in range(2):
        meta = page + _PAGE_HEADER
        if len(head) < meta + _META_SIZE:
            break
        (magic,) = struct.unpack_from("<I", head, meta)
        (page_size,) = struct.unpack_from("<I", head, meta + 24)
        last_page, txnid = struct.unpack_from("<QQ", head, meta + 120)
        if magic != _LMDB_MAGIC or page_size < 512:
            break
        found.append((txnid, last_page, page_size))
        page += page_size
    if not found:
        return None
    _txnid, last_page, page_size = max(found)
    return int((last_page + 1) * page_size)
