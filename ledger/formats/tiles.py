"""C2SP tlog-tiles: tile and entry-bundle paths, bytes, and a Merkle node reader backed by tiles.

Pure: no I/O. A hash tile at level L, index N holds up to 256 hashes of the tree level 8*L,
positions 256*N onwards; an entry bundle holds the entries of the level-0 tile with the same
index, each behind a 16-bit big-endian length (docs/spec.md, "Published form"; c2sp.org/tlog-tiles).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from ledger.core.hashing import HASH_SIZE
from ledger.core.merkle import subtree_root
from ledger.errors import MalformedError, Where
from ledger.formats.entries import MAX_ENTRY_SIZE

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
MAX_LEVEL = 63
#: Byte limits on anything read from a source (a full tile, a bundle of 256 maximal entries).
MAX_TILE_BYTES = TILE_WIDTH * HASH_SIZE
MAX_BUNDLE_BYTES = TILE_WIDTH * (2 + MAX_ENTRY_SIZE)

#: Reads the tile bytes at (tile level, tile index, width); used by :class:`TileNodeReader`.
TileFetcher = Callable[[int, int, int], bytes]


def _check_index_width(index: int, width: int) -> None:
    if index < 0:
        raise ValueError(f"tile index must be non-negative, got {index}")
    if not 1 <= width <= TILE_WIDTH:
        raise ValueError(f"tile width must be 1..{TILE_WIDTH}, got {width}")


@dataclass(frozen=True, slots=True, kw_only=True)
class TileId:
    """A hash tile: its level (0..63), index and width (1..256; below 256 is partial)."""

    level: int
    index: int
    width: int = TILE_WIDTH

    def __post_init__(self) -> None:
        if not 0 <= self.level <= MAX_LEVEL:
            raise ValueError(f"tile level must be 0..{MAX_LEVEL}, got {self.level}")
        _check_index_width(self.index, self.width)

    @property
    def path(self) -> str:
        """``tile/<L>/<N>[.p/<W>]``."""
        return f"tile/{self.level}/{_index_path(self.index, self.width)}"


@dataclass(frozen=True, slots=True, kw_only=True)
class BundleId:
    """An entry bundle: its index (the level-0 tile it matches) and width (number of entries)."""

    index: int
    width: int = TILE_WIDTH

    def __post_init__(self) -> None:
        _check_index_width(self.index, self.width)

    @property
    def path(self) -> str:
        """``tile/entries/<N>[.p/<W>]``."""
        return f"tile/entries/{_index_path(self.index, self.width)}"


def _index_path(index: int, width: int) -> str:
    groups = []
    n = index
    while True:
        groups.append(n % 1000)
        n //= 1000
        if n == 0:
            break
    parts = [f"x{g:03d}" for g in reversed(groups[1:])] + [f"{groups[0]:03d}"]
    suffix = f".p/{width}" if width < TILE_WIDTH else ""
    return "/".join(parts) + suffix


def tile_path(level: int, index: int, width: int = TILE_WIDTH) -> str:
    """Path of a hash tile, for example ``tile/0/x001/x234/067`` or ``tile/1/000.p/17``."""
    return TileId(level=level, index=index, width=width).path


def bundle_path(index: int, width: int = TILE_WIDTH) -> str:
    """Path of an entry bundle, for example ``tile/entries/000.p/61``."""
    return BundleId(index=index, width=width).path


_PATH_RE = re.compile(
    r"tile/(?P<level>entries|0|[1-9][0-9]?)/(?P<index>(?:x[0-9]{3}/){0,6}[0-9]{3})"
    r"(?:\.p/(?P<width>[1-9][0-9]{0,2}))?"
)


def parse_tile_path(path: str) -> TileId | BundleId:
    """Parse a tile or bundle path strictly: exactly the one spelling :func:`tile_path` writes.

    Raises:
        MalformedError: (category ``tiles``) anything else: leading zeros, a level over 63,
            a width outside 1..255 after ``.p/``, redundant ``x000/`` groups, an index of
            more than 21 digits (tree sizes are 64-bit).
    """
    m = _PATH_RE.fullmatch(path)
    if m is None:
        raise _bad_path(path, "is not tile/<L>/<N>[.p/<W>] or tile/entries/<N>[.p/<W>]")
    index = int(m["index"].replace("x", "").replace("/", ""))
    width = int(m["width"]) if m["width"] is not None else TILE_WIDTH
    if m["width"] is not None and width >= TILE_WIDTH:
        raise _bad_path(path, f"partial width must be 1..{TILE_WIDTH - 1}")
    level = m["level"]
    if level == "entries":
        ref: TileId | BundleId = BundleId(index=index, width=width)
    elif int(level) > MAX_LEVEL:
        raise _bad_path(path, f"level must be 0..{MAX_LEVEL}")
    else:
        ref = TileId(level=int(level), index=index, width=width)
    if ref.path != path:
        raise _bad_path(path, f"is not canonical (expected {ref.path})")
    return ref


def _bad_path(path: str, why: str) -> MalformedError:
    return MalformedError(
        f"tile path {path!r} {why}", category="tiles", code="bad-tile-path", where=Where(file=path)
    )


# --- which tiles a tree needs ---------------------------------------------------------------


def tile_width(level: int, index: int, size: int) -> int:
    """Width of tile (level, index) in a tree of ``size`` leaves (256 when full there).

    Raises ValueError when the tree has no node for that tile yet.
    """
    nodes = size >> (TILE_HEIGHT * level)
    width = min(TILE_WIDTH, nodes - index * TILE_WIDTH)
    if width <= 0 or index < 0:
        raise ValueError(f"a tree of size {size} has no tile {index} at level {level}")
    return width


def tile_levels(size: int) -> int:
    """How many tile levels a tree of ``size`` leaves has (levels L with size >= 256**L)."""
    if size < 0:
        raise ValueError(f"tree size must be non-negative, got {size}")
    levels = 0
    while size >> (TILE_HEIGHT * levels):
        levels += 1
    return levels


def tiles_for_size(size: int) -> Iterator[TileId]:
    """Every hash tile of a tree of ``size`` leaves: full tiles, then the partial one, per level."""
    for level in range(tile_levels(size)):
        nodes = size >> (TILE_HEIGHT * level)
        for index in range(nodes // TILE_WIDTH):
            yield TileId(level=level, index=index)
        if nodes % TILE_WIDTH:
            yield TileId(level=level, index=nodes // TILE_WIDTH, width=nodes % TILE_WIDTH)


def bundles_for_size(size: int, start: int = 0) -> Iterator[BundleId]:
    """The entry bundles holding entries ``start`` to ``size - 1`` of a tree of ``size``."""
    if not 0 <= start <= size:
        raise ValueError(f"need 0 <= start <= size, got start {start}, size {size}")
    for index in range(start // TILE_WIDTH, -(-size // TILE_WIDTH)):
        yield BundleId(index=index, width=min(TILE_WIDTH, size - index * TILE_WIDTH))


def partial_tiles_for_size(size: int) -> list[TileId | BundleId]:
    """The partial tiles and partial bundle that only a tree of exactly ``size`` leaves has."""
    refs: list[TileId | BundleId] = [t for t in tiles_for_size(size) if t.width < TILE_WIDTH]
    if size % TILE_WIDTH:
        refs.append(BundleId(index=size // TILE_WIDTH, width=size % TILE_WIDTH))
    return refs


# --- tile and bundle bytes ------------------------------------------------------------------


def format_hash_tile(hashes: Sequence[bytes]) -> bytes:
    """Concatenate 1..256 hashes of 32 bytes into tile bytes."""
    if not 1 <= len(hashes) <= TILE_WIDTH:
        raise ValueError(f"a tile holds 1..{TILE_WIDTH} hashes, got {len(hashes)}")
    if any(len(h) != HASH_SIZE for h in hashes):
        raise ValueError(f"tile hashes must be {HASH_SIZE} bytes")
    return b"".join(hashes)


def parse_hash_tile(data: bytes, width: int, *, path: str | None = None) -> list[bytes]:
    """Split tile bytes into ``width`` hashes.

    Raises:
        MalformedError: (category ``tiles``) the bytes are not exactly ``width`` hashes.
    """
    _check_index_width(0, width)
    if len(data) != width * HASH_SIZE:
        raise MalformedError(
            f"hash tile is {len(data)} bytes, expected {width * HASH_SIZE} ({width} hashes)",
            category="tiles",
            code="tile-size",
            where=Where(file=path),
        )
    return [data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)]


def format_entry_bundle(entries: Sequence[bytes]) -> bytes:
    """1..256 entries, each behind its 16-bit big-endian length."""
    if not 1 <= len(entries) <= TILE_WIDTH:
        raise ValueError(f"a bundle holds 1..{TILE_WIDTH} entries, got {len(entries)}")
    out = bytearray()
    for entry in entries:
        if len(entry) > MAX_ENTRY_SIZE:
            raise ValueError(f"an entry is at most {MAX_ENTRY_SIZE} bytes, got {len(entry)}")
        out += len(entry).to_bytes(2, "big") + entry
    return bytes(out)


def parse_entry_bundle(data: bytes, width: int, *, path: str | None = None) -> list[bytes]:
    """Split an entry bundle into exactly ``width`` entries, nothing left over.

    Raises:
        MalformedError: (category ``tiles``) truncated, too few or too many entries.
    """
    _check_index_width(0, width)
    entries: list[bytes] = []
    pos = 0
    while pos < len(data):
        if len(entries) == width:
            raise _bad_bundle(path, f"has bytes after its {width} entries (at byte {pos})")
        if pos + 2 > len(data):
            raise _bad_bundle(path, f"is truncated inside the length of entry {len(entries)}")
        n = int.from_bytes(data[pos : pos + 2], "big")
        if pos + 2 + n > len(data):
            raise _bad_bundle(
                path,
                f"is truncated inside entry {len(entries)} "
                f"({len(data) - pos - 2} of {n} bytes present)",
            )
        entries.append(data[pos + 2 : pos + 2 + n])
        pos += 2 + n
    if len(entries) != width:
        raise _bad_bundle(path, f"holds {len(entries)} entries, expected {width}")
    return entries


def _bad_bundle(path: str | None, why: str) -> MalformedError:
    return MalformedError(
        f"entry bundle {why}", category="tiles", code="bundle-malformed", where=Where(file=path)
    )


def check_published(ref: TileId | BundleId, published: bytes, expected: bytes) -> None:
    """Compare a published tile or bundle with the one recomputed from the entries.

    Raises:
        MalformedError: (category ``tiles``, code ``tile-mismatch``) the bytes differ; the
            message names the first hash or entry that differs.
    """
    if published == expected:
        return
    if isinstance(ref, TileId):
        what = f"hash tile {ref.path}"
        first = _first_difference(
            _chunks(published, HASH_SIZE), _chunks(expected, HASH_SIZE)
        )
        span = TILE_WIDTH ** (ref.level + 1)
        start = ref.index * span + first * TILE_WIDTH**ref.level
        detail = f"hash {first} (covering entries from {start})"
    else:
        what = f"entry bundle {ref.path}"
        first = _first_difference(_bundle_items(published), _bundle_items(expected))
        detail = f"entry {ref.index * TILE_WIDTH + first}"
    raise MalformedError(
        f"{what} differs from the one recomputed from the entries, first at {detail}",
        category="tiles",
        code="tile-mismatch",
        where=Where(file=ref.path),
    )


def _chunks(data: bytes, n: int) -> list[bytes]:
    return [data[i : i + n] for i in range(0, len(data), n)]


def _bundle_items(data: bytes) -> list[bytes]:
    # Best-effort split of possibly damaged bytes, only to point at the first difference.
    items, pos = [], 0
    while pos < len(data):
        n = int.from_bytes(data[pos : pos + 2], "big")
        items.append(data[pos : pos + 2 + n])
        pos += 2 + n
    return items


def _first_difference(a: Sequence[bytes], b: Sequence[bytes]) -> int:
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return i
    return min(len(a), len(b))




# --- reading the tree back from tiles -------------------------------------------------------


class TileNodeReader:
    """A merkle ``NodeReader`` for a tree of ``size`` leaves, backed by its hash tiles.

    Node (level, index) at a tile level (level = 8*L) is read from tile L; any other level is
    hashed from the at most 128 hashes below it in the same tile. Tiles are fetched with the
    width the tree size gives them, checked for length, and a few are cached.
    """

    def __init__(self, fetch: TileFetcher, size: int, *, cache_tiles: int = 64) -> None:
        if size < 0:
            raise ValueError(f"tree size must be non-negative, got {size}")
        self._fetch = fetch
        self._size = size
        self._cache: OrderedDict[tuple[int, int], list[bytes]] = OrderedDict()
        self._cache_tiles = cache_tiles

    @property
    def size(self) -> int:
        """The tree size the reader serves."""
        return self._size

    def __call__(self, level: int, index: int) -> bytes:
        """Hash of the perfect subtree covering leaves [index * 2**level, (index+1) * 2**level)."""
        if level < 0 or index < 0 or (index + 1) << level > self._size:
            raise ValueError(
                f"no perfect subtree at level {level}, index {index} in a tree of {self._size}"
            )
        tile_level, below = divmod(level, TILE_HEIGHT)
        first = index << below  # first node at level 8 * tile_level
        tile_index, offset = divmod(first, TILE_WIDTH)
        hashes = self._tile(tile_level, tile_index)
        return subtree_root(hashes[offset : offset + (1 << below)])

    def _tile(self, level: int, index: int) -> list[bytes]:
        key = (level, index)
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        width = tile_width(level, index, self._size)
        hashes = parse_hash_tile(
            self._fetch(level, index, width), width, path=tile_path(level, index, width)
        )
        self._cache[key] = hashes
        if len(self._cache) > self._cache_tiles:
            self._cache.popitem(last=False)
        return hashes


