"""The tiles and bundles a log publishes, built from its entries in one pass (C2SP tlog-tiles)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ledger.core.hashing import EMPTY_ROOT, HASH_SIZE, leaf_hash, node_hash
from ledger.core.merkle import subtree_root
from ledger.formats.entries import MAX_ENTRY_SIZE
from ledger.formats.station_index import (
    INDEX_FILE,
    StationIndexBuilder,
    format_index,
    format_station_file,
    station_file,
)
from ledger.formats.tiles import (
    TILE_HEIGHT,
    TILE_WIDTH,
    BundleId,
    TileId,
    format_entry_bundle,
    format_hash_tile,
)

# --- building tiles from entries ------------------------------------------------------------


TileBytes = tuple[TileId | BundleId, bytes]


class TileBuilder:
    """Streams entries (or leaf hashes) in order and yields each tile and bundle they complete.

    Keeps one row of at most 256 hashes per tile level (and one bundle row), so memory is
    O(256 * log n); :meth:`partials` gives the partial tiles of the current size.
    """

    def __init__(self) -> None:
        self._rows: list[list[bytes]] = []
        self._bundle: list[bytes] = []
        self._size = 0
        self._with_entries: bool | None = None

    @classmethod
    def resume(cls, size: int, rows: list[list[bytes]], bundle: list[bytes]) -> TileBuilder:
        """A builder that goes on after ``size`` entries: ``rows`` the hashes of the incomplete
        tile at each level (as :meth:`ledger.auditor.tile_audit.TileAudit.to_value` gives
        them), ``bundle`` the entries of the incomplete bundle."""
        if len(bundle) != size % TILE_WIDTH:
            raise ValueError(f"a tree of size {size} has {size % TILE_WIDTH} entries in its "
                             f"last bundle, got {len(bundle)}")
        for level, row in enumerate(rows):
            if len(row) != (size >> (TILE_HEIGHT * level)) % TILE_WIDTH:
                raise ValueError(f"row {level} does not fit a tree of size {size}")
        if size >> (TILE_HEIGHT * len(rows)):
            raise ValueError(f"{len(rows)} rows are too few for a tree of size {size}")
        self = cls()
        self._rows = [list(row) for row in rows]
        self._bundle = list(bundle)
        self._size = size
        self._with_entries = True
        return self

    @property
    def size(self) -> int:
        """Number of leaves appended so far."""
        return self._size

    def append(self, entry: bytes) -> list[TileBytes]:
        """Add one entry; return the full bundle and full hash tiles it completes."""
        if len(entry) > MAX_ENTRY_SIZE:
            raise ValueError(f"an entry is at most {MAX_ENTRY_SIZE} bytes, got {len(entry)}")
        self._set_mode(with_entries=True)
        done: list[TileBytes] = []
        self._bundle.append(entry)
        if len(self._bundle) == TILE_WIDTH:
            ref = BundleId(index=self._size // TILE_WIDTH)
            done.append((ref, format_entry_bundle(self._bundle)))
            self._bundle = []
        return done + self._add_leaf(leaf_hash(entry))

    def append_leaf_hash(self, leaf: bytes) -> list[TileBytes]:
        """Add one leaf by its hash only (no bundles); return the full hash tiles it completes."""
        if len(leaf) != HASH_SIZE:
            raise ValueError(f"a leaf hash is {HASH_SIZE} bytes, got {len(leaf)}")
        self._set_mode(with_entries=False)
        return self._add_leaf(leaf)

    def _set_mode(self, *, with_entries: bool) -> None:
        if self._with_entries is None:
            self._with_entries = with_entries
        elif self._with_entries != with_entries:
            raise ValueError("a TileBuilder takes either entries or bare leaf hashes, not both")

    def _add_leaf(self, leaf: bytes) -> list[TileBytes]:
        self._size += 1
        done: list[TileBytes] = []
        carry = leaf
        level = 0
        while True:
            if level == len(self._rows):
                self._rows.append([])
            row = self._rows[level]
            row.append(carry)
            if len(row) < TILE_WIDTH:
                return done
            index = (self._size >> (TILE_HEIGHT * level)) // TILE_WIDTH - 1
            done.append((TileId(level=level, index=index), format_hash_tile(row)))
            carry = subtree_root(row)
            self._rows[level] = []
            level += 1

    def root(self) -> bytes:
        """RFC 9162 root of the leaves so far, from the perfect subtrees the rows hold."""
        subtrees: list[bytes] = []  # largest (leftmost) first
        for row in reversed(self._rows):
            pos = 0
            for bit in range(TILE_HEIGHT - 1, -1, -1):
                if len(row) >> bit & 1:
                    subtrees.append(subtree_root(row[pos : pos + (1 << bit)]))
                    pos += 1 << bit
        if not subtrees:
            return EMPTY_ROOT
        acc = subtrees.pop()
        while subtrees:
            acc = node_hash(subtrees.pop(), acc)
        return acc

    def partials(self) -> list[TileBytes]:
        """The partial hash tiles (and partial bundle, if entries were given) of this size."""
        out: list[TileBytes] = []
        for level, row in enumerate(self._rows):
            if row:
                index = (self._size >> (TILE_HEIGHT * level)) // TILE_WIDTH
                tile = TileId(level=level, index=index, width=len(row))
                out.append((tile, format_hash_tile(row)))
        if self._bundle:
            ref = BundleId(index=self._size // TILE_WIDTH, width=len(self._bundle))
            out.append((ref, format_entry_bundle(self._bundle)))
        return out


def build_tiles(entries: Iterable[bytes], *, partial_sizes: Iterable[int] = ()) -> dict[str, bytes]:
    """Every tile and bundle of the tree of ``entries``, by path, plus the partial tiles of
    each of ``partial_sizes`` (earlier checkpoint sizes); for tests and small trees."""
    wanted = set(partial_sizes)
    builder = TileBuilder()
    out: dict[str, bytes] = {}
    for entry in entries:
        out.update((ref.path, data) for ref, data in builder.append(entry))
        if builder.size in wanted:
            out.update((ref.path, data) for ref, data in builder.partials())
    out.update((ref.path, data) for ref, data in builder.partials())
    if any(s > builder.size or s < 0 for s in wanted):
        raise ValueError(f"partial sizes must be 0..{builder.size}")
    return out


def station_index_files(index: StationIndexBuilder, *,
                        names: Mapping[str, str] | None = None) -> list[tuple[str, bytes]]:
    """The files of the station index (docs/spec.md, "The station index"), by path: the file
    of each station ``index`` lists, then ``stations/index.json`` of ``names`` (default: the
    names ``index`` knows; an index kept up to date names stations not met again too)."""
    out = [(station_file(s), format_station_file(index.station_file(s)))
           for s in index.stations()]
    out.append((INDEX_FILE, format_index(index.names if names is None else names)))
    return out
