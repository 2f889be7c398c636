"""Step 5 of docs/spec.md, "Verification": every published tile and bundle equals the recomputed
one.

:class:`TileAudit` follows the entries in log order and rebuilds the hash tiles from their leaf
hashes (one row of at most 256 hashes per tile level: O(256 log n) memory), comparing each tile
the latest checkpoint needs and each partial tile and bundle of an earlier block checkpoint that
is present.

When a level-0 tile and the entries of its bundle disagree, one of the two was damaged; which
one is decided at the end by :meth:`TileAudit.resolve`, from the roots: whichever side hashes to
the signed root is authentic. So a damaged bundle is named as the bundle, a damaged tile as the
tile, and a checkpoint whose root no published data gives as the checkpoint.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ledger.core.hashing import HASH_SIZE, leaf_hash
from ledger.core.merkle import subtree_root
from ledger.errors import MalformedError, RootMismatchError, VerificationError, Where
from ledger.formats.tiles import (
    TILE_HEIGHT,
    TILE_WIDTH,
    BundleId,
    TileId,
    format_entry_bundle,
    format_hash_tile,
)
from ledger.sources.source import Source


def _mismatch(ref: TileId | BundleId, detail: str, index: int | None) -> MalformedError:
    what = "hash tile" if isinstance(ref, TileId) else "entry bundle"
    return MalformedError(
        f"{what} {ref.path} {detail}",
        category="tiles", code="tile-mismatch", where=Where(file=ref.path, index=index),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class _Suspect:
    """A level-0 tile and the entries of its bundle that disagree, first at entry ``index``."""

    tile: TileId
    index: int

    @property
    def bundle(self) -> BundleId:
        return BundleId(index=self.tile.index, width=self.tile.width)


@dataclass(slots=True)
class TileAudit:
    """Recomputes tiles while entries stream in, and compares them with the source's."""

    source: Source
    rows: list[list[bytes]] = field(default_factory=list)
    #: Number of entries followed so far (the tree size the rows describe).
    size: int = 0
    #: Entries of the bundle being filled.
    bundle: list[bytes] = field(default_factory=list)
    #: Mismatches and unreadable tiles, in the order found.
    errors: list[VerificationError] = field(default_factory=list)
    suspects: list[_Suspect] = field(default_factory=list)
    #: Partial files of block checkpoints asked for, with the bytes they must hold.
    pending: list[tuple[TileId | BundleId, bytes]] = field(default_factory=list)
    #: How many of ``pending`` were there at the previous lagging flush.
    lagging: int = 0

    # --- the auditor's state file ----------------------------------------------------------

    @classmethod
    def resume(cls, source: Source, size: int, value: Any) -> TileAudit:
        """An audit that continues after ``size`` entries, with the rows a state file kept.

        Raises:
            MalformedError: the value is not rows of 32-byte hashes that fit ``size``.
        """
        if type(value) is not list:
            raise _bad_state("rows must be an array")
        rows: list[list[bytes]] = []
        for level, row in enumerate(value):
            if type(row) is not list or not all(_is_hash(h) for h in row):
                raise _bad_state("a row is an array of 32-byte hashes")
            if len(row) != (size >> (TILE_HEIGHT * level)) % TILE_WIDTH:
                raise _bad_state(f"row {level} does not fit a tree of size {size}")
            rows.append(list(row))
        if size >> (TILE_HEIGHT * len(rows)):
            raise _bad_state(f"{len(rows)} rows are too few for a tree of size {size}")
        return cls(source=source, rows=rows, size=size)

    def to_value(self) -> list[list[bytes]]:
        """The rows: the hashes of the incomplete tile at each level."""
        return [list(row) for row in self.rows]

    def prefill(self, entries: Sequence[bytes]) -> None:
        """Resuming mid-bundle: the bundle's entries before ``size``, still the audited ones.

        Raises:
            MalformedError: (category ``tiles``) one of them is not the entry audited before.
        """
        if len(entries) != self.size % TILE_WIDTH:
            raise ValueError(f"expected the {self.size % TILE_WIDTH} entries before {self.size}")
        for offset, (entry, audited) in enumerate(zip(entries, self.rows[0], strict=True)):
            if leaf_hash(entry) != audited:
                ref = BundleId(index=self.size // TILE_WIDTH, width=TILE_WIDTH)
                index = ref.index * TILE_WIDTH + offset
                raise _mismatch(ref, f"holds an entry {index} that is not the one audited "
                                "before", index)
        self.bundle = list(entries)

    # --- streaming -------------------------------------------------------------------------

    def add(self, entry: bytes, leaf: bytes) -> None:
        """Follow the next entry, comparing each full tile it completes."""
        self.size += 1
        if self.size % TILE_WIDTH:
            self.bundle.append(entry)
            if self.rows:  # the usual entry: it completes no tile
                self.rows[0].append(leaf)
                return
        else:
            self.bundle = []
        level, node = 0, leaf
        while True:
            if level == len(self.rows):
                self.rows.append([])
            row = self.rows[level]
            row.append(node)
            if len(row) < TILE_WIDTH:
                return
            index = (self.size >> (TILE_HEIGHT * level)) // TILE_WIDTH - 1
            self._compare(TileId(level=level, index=index), row, required=True)
            node = subtree_root(row)
            self.rows[level] = []
            level += 1

    def check_partials(self) -> None:
        """At an earlier block checkpoint: its partial tiles and bundle, where present, match.

        The files are asked for now (a remote source starts fetching them) and compared at
        :meth:`flush`, so the fetches overlap the checking of the entries that follow."""
        refs: list[TileId | BundleId] = []
        for level, row in enumerate(self.rows):
            if row:
                index = (self.size >> (TILE_HEIGHT * level)) // TILE_WIDTH
                tile = TileId(level=level, index=index, width=len(row))
                refs.append(tile)
                self.pending.append((tile, format_hash_tile(row)))
        width = self.size % TILE_WIDTH
        if width:
            ref = BundleId(index=self.size // TILE_WIDTH, width=width)
            refs.append(ref)
            self.pending.append((ref, format_entry_bundle(self.bundle)))
        self.source.read_ahead(refs)

    def flush(self, *, lag: bool = False) -> None:
        """Compare the partial files of the block checkpoints met so far; with ``lag``, those
        met before the previous flush only (the later ones get one more chunk's time to
        arrive from a remote source)."""
        if lag:
            pending, self.pending = self.pending[: self.lagging], self.pending[self.lagging :]
            self.lagging = len(self.pending)
        else:
            pending, self.pending, self.lagging = self.pending, [], 0
        for ref, expected in pending:
            if isinstance(ref, TileId):
                self._compare_bytes(ref, expected, required=False)
                continue
            try:
                published = self.source.read_entry_bundle_if_present(ref.index, ref.width)
            except VerificationError as e:
                self.errors.append(e.at(file=ref.path))
                continue
            if published is not None and published != expected:
                self.errors.append(_mismatch(
                    ref, "is not the first entries of the bundle", ref.index * TILE_WIDTH
                ))

    def finish(self) -> None:
        """At the latest checkpoint: its partial tiles must be there and match."""
        self.flush()
        self._compare_rows(required=True)

    def _compare_rows(self, *, required: bool) -> None:
        for level, row in enumerate(self.rows):
            if row:
                index = (self.size >> (TILE_HEIGHT * level)) // TILE_WIDTH
                self._compare(TileId(level=level, index=index, width=len(row)), row,
                              required=required)

    def _compare(self, tile: TileId, row: Sequence[bytes], *, required: bool) -> None:
        self._compare_bytes(tile, format_hash_tile(row), required=required)

    def _compare_bytes(self, tile: TileId, expected: bytes, *, required: bool) -> None:
        try:
            if required:
                published: bytes | None = self.source.read_tile(tile.level, tile.index, tile.width)
            else:
                published = self.source.read_tile_if_present(tile.level, tile.index, tile.width)
        except VerificationError as e:
            self.errors.append(e.at(file=tile.path))
            return
        if published is None or published == expected:
            return
        first = next(
            i for i in range(tile.width)
            if published[i * HASH_SIZE : (i + 1) * HASH_SIZE]
            != expected[i * HASH_SIZE : (i + 1) * HASH_SIZE]
        )
        covers = (tile.index * TILE_WIDTH + first) << (TILE_HEIGHT * tile.level)
        if tile.level == 0 and required:
            self.suspects.append(_Suspect(tile=tile, index=covers))
            return
        self.errors.append(_mismatch(
            tile, f"differs from the one recomputed from the entries at hash {first} "
            f"(covering entries from {covers})", covers,
        ))

    # --- who is at fault -------------------------------------------------------------------

    def resolve(
        self, entries_root: bytes | None, tiles_root: bytes | None, signed_root: bytes
    ) -> list[VerificationError]:
        """Every tiles and checkpoint error, with the blame for each suspect decided.

        ``entries_root`` is the root of the entries as read (None when reading stopped early),
        ``tiles_root`` the root that the published tiles give (None when they cannot be read).
        """
        if entries_root == signed_root:
            return [self._tile_fault(s) for s in self.suspects] + self.errors
        if self.suspects and (tiles_root == signed_root or entries_root is None):
            # The tiles are authentic: the bundles are what was damaged, and every other tile
            # recomputed from their entries differs only because of it.
            return [self._bundle_fault(s) for s in self.suspects] + [
                e for e in self.errors if e.code != "tile-mismatch"
            ]
        if tiles_root == signed_root:
            return list(self.errors)
        out: list[VerificationError] = []
        if entries_root is not None:
            out.append(RootMismatchError(
                f"the checkpoint's root {signed_root.hex()} is not the root of its entries "
                f"{entries_root.hex()}", code="checkpoint-root",
            ))
        return out + [self._tile_fault(s) for s in self.suspects] + self.errors

    @staticmethod
    def _tile_fault(s: _Suspect) -> MalformedError:
        return _mismatch(s.tile, f"differs from the leaf hash of entry {s.index}, which the "
                         "signed root confirms", s.index)

    @staticmethod
    def _bundle_fault(s: _Suspect) -> MalformedError:
        return _mismatch(s.bundle, f"holds an entry {s.index} that does not hash to the leaf "
                         "hash the signed tiles give", s.index)


def _is_hash(value: Any) -> bool:
    return type(value) is bytes and len(value) == HASH_SIZE


def _bad_state(message: str) -> MalformedError:
    return MalformedError(f"tile audit state: {message}", code="bad-state")
