"""The station index of a publish that resumes after the previous checkpoint (docs/spec.md, "The
station index"): only the entries after it are read, and each station they name starts from its
file as the destination holds it, so a publish every minute of election day costs the new
entries, not the whole log.

Anything this cannot follow from the destination's own files (no index there, a file that does
not parse, a revoke of a key registered before) ends it: the caller then derives the index from
every entry, as a first publish does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from ledger.errors import LedgerError, MalformedError
from ledger.formats.records import Record
from ledger.formats.station_index import (
    INDEX_FILE,
    MAX_INDEX_BYTES,
    MAX_STATION_FILE_BYTES,
    StationFile,
    StationIndexBuilder,
    parse_index,
    parse_station_file,
    station_file,
)
from ledger.publisher.destination import Destination


class IndexNotFollowed(LedgerError):  # noqa: N818 - a signal to publish, never raised past it
    """The destination's index cannot be carried on: derive it from every entry instead."""


class UpdatedIndex:
    """The destination's station index, carried on with the entries after ``start``."""

    def __init__(self, outdir: Destination, start: int,
                 key_owner: Callable[[bytes], str | None] | None = None) -> None:
        """Read the destination's ``index.json``; ``start`` is the previous checkpoint's size,
        ``key_owner`` the station of a key id registered before it, where the source knows.

        Raises:
            IndexNotFollowed: there is none, or it does not parse.
        """
        self._outdir = outdir
        self._start = start
        self._key_owner = key_owner
        data = outdir.read(INDEX_FILE, MAX_INDEX_BYTES)
        if data is None:
            raise IndexNotFollowed(f"no {INDEX_FILE} at {outdir.describe()}")
        try:
            self.names = parse_index(data)
        except MalformedError as e:
            raise IndexNotFollowed(e.message) from e
        self.builder = StationIndexBuilder(earlier=self._earlier, owner_of=self._owner_of)

    def add(self, index: int, record: Record) -> None:
        """Note entry ``index`` (after the previous checkpoint).

        Raises:
            IndexNotFollowed: the record needs what the destination's files do not say.
        """
        self.builder.add(index, record)

    def all_names(self) -> dict[str, str]:
        """Every station's name: the destination's, updated with the entries read."""
        return {**self.names, **self.builder.names}

    def _earlier(self, station: str) -> StationFile | None:
        if station not in self.names:
            return None
        path = station_file(station)
        data = self._outdir.read(path, MAX_STATION_FILE_BYTES)
        if data is None:
            raise IndexNotFollowed(f"{INDEX_FILE} names {station}, but {path} is missing")
        try:
            kept = parse_station_file(data, path)
        except MalformedError as e:
            raise IndexNotFollowed(e.message) from e
        # A publish stopped before its checkpoint may have listed entries past the previous
        # checkpoint: they are read again, and listed again, from here.
        return replace(kept, entries={kind: tuple(i for i in indices if i < self._start)
                                      for kind, indices in kept.entries.items()})

    def _owner_of(self, key: bytes) -> str | None:
        # A revoke lists under the station whose registration carried the key: no file of the
        # destination maps key ids to stations, the source's key registry may.
        owner = None if self._key_owner is None else self._key_owner(key)
        if owner is None:
            raise IndexNotFollowed(f"a revoke of key {key.hex()[:16]}, registered before")
        return owner
