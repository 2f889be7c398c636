"""The readers of a published tlog-tiles tree: fetch a relative path, check its framing; a
directory on this machine.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from ledger.core.hashing import HASH_SIZE
from ledger.core.merkle import NodeReader
from ledger.errors import InputError, MalformedError, Where
from ledger.formats.station_index import (
    INDEX_FILE,
    MAX_INDEX_BYTES,
    MAX_STATION_FILE_BYTES,
    station_file,
)
from ledger.formats.tiles import (
    MAX_BUNDLE_BYTES,
    MAX_TILE_BYTES,
    TILE_WIDTH,
    TileNodeReader,
    bundle_path,
    bundles_for_size,
    parse_entry_bundle,
    tile_path,
)
from ledger.sources.source import (
    CHECKPOINT_FILE,
    LEDGER_JSON,
    MAX_CHECKPOINT_BYTES,
    MAX_LEDGER_JSON_BYTES,
    ClosesOnExit,
    missing_file,
    too_large,
)

#: Bundles asked for ahead when the entries are read in order.
READ_AHEAD_BUNDLES = 32


class PublishedTree(ClosesOnExit):
    """Shared logic of the published-tree sources: fetch a relative path, check its framing."""

    def _fetch(self, path: str, limit: int, category: str) -> bytes | None:
        """Bytes at ``path`` (at most ``limit``), or None if it does not exist."""
        raise NotImplementedError

    def read_file_if_present(self, path: str, limit: int) -> bytes | None:
        """Any other file of the tree (the observer's page), unchecked, or None if absent."""
        return self._fetch(path, limit, "source")

    def read_checkpoint(self) -> bytes:
        data = self._fetch(CHECKPOINT_FILE, MAX_CHECKPOINT_BYTES, "checkpoint")
        if data is None:
            raise missing_file(CHECKPOINT_FILE, "checkpoint file", "checkpoint")
        return data

    def read_tile_if_present(self, level: int, index: int, width: int) -> bytes | None:
        path = tile_path(level, index, width)
        data = self._fetch(path, MAX_TILE_BYTES, "tiles")
        if data is not None and len(data) != width * HASH_SIZE:
            raise MalformedError(
                f"hash tile {path} is {len(data)} bytes, expected {width * HASH_SIZE}",
                category="tiles",
                code="tile-size",
                where=Where(file=path),
            )
        return data

    def read_tile(self, level: int, index: int, width: int) -> bytes:
        data = self.read_tile_if_present(level, index, width)
        if data is None:
            raise missing_file(tile_path(level, index, width), "hash tile")
        return data

    def read_entry_bundle_if_present(self, index: int, width: int) -> bytes | None:
        return self._fetch(bundle_path(index, width), MAX_BUNDLE_BYTES, "tiles")

    def read_entry_bundle(self, index: int, width: int) -> bytes:
        data = self.read_entry_bundle_if_present(index, width)
        if data is None:
            raise missing_file(bundle_path(index, width), "entry bundle")
        return data

    def iter_entries(self, start: int, size: int) -> Iterator[bytes]:
        refs = list(bundles_for_size(size, start))
        for number, ref in enumerate(refs):
            if number % READ_AHEAD_BUNDLES == 0:  # a remote tree fetches the next ones meanwhile
                self.read_ahead(refs[number : number + 2 * READ_AHEAD_BUNDLES])
            data = self.read_entry_bundle(ref.index, ref.width)
            entries = parse_entry_bundle(data, ref.width, path=ref.path)
            yield from entries[max(0, start - ref.index * TILE_WIDTH) :]

    def node_reader(self, size: int) -> NodeReader:
        return TileNodeReader(self.read_tile, size)

    def read_station_index(self) -> bytes | None:
        return self._fetch(INDEX_FILE, MAX_INDEX_BYTES, "tiles")

    def read_station_file(self, station: str) -> bytes | None:
        return self._fetch(station_file(station), MAX_STATION_FILE_BYTES, "tiles")

    def read_ahead_station_files(self, stations: Sequence[str]) -> None:
        """Nothing to do for a local tree (a remote one fetches them meanwhile)."""
        del stations

    def entry_count(self) -> int | None:
        return None

    def publisher_vkey(self) -> str | None:
        data = self._fetch(LEDGER_JSON, MAX_LEDGER_JSON_BYTES, "tiles")
        if data is None:
            return None
        try:
            vkey = json.loads(data.decode("utf-8")).get("vkey")
        except (UnicodeDecodeError, ValueError, AttributeError):
            return None  # ledger.json is a convenience only: a bad one states nothing
        return vkey if isinstance(vkey, str) else None



class PublishedDirSource(PublishedTree):
    """A published tlog-tiles directory on the local file system."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if not self.path.is_dir():
            raise InputError("not a directory", where=Where(file=str(path)))

    def describe(self) -> str:
        return f"published directory {self.path}"

    def _fetch(self, path: str, limit: int, category: str) -> bytes | None:
        try:
            with open(self.path / path, "rb") as f:
                data = f.read(limit + 1)
        except FileNotFoundError:
            return None
        except OSError as e:
            raise MalformedError(
                f"cannot read {path}: {e.strerror or e}",
                category=category,
                code="unreadable",
                where=Where(file=path),
            ) from e
        if len(data) > limit:
            raise too_large(path, limit, category)
        return data




