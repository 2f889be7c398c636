"""Several sources of one log read as one (docs/spec.md, "Several sources"): each file from the
first source that answers with it.

The checkpoint is read once, from the first source that answers, and kept: every later call
gives the same note, so the checkpoint a command checks its trust against is the one it audits.
Tiles and bundles are immutable, so any source that holds one serves it: a source that cannot be
reached (:class:`~ledger.errors.SourceUnavailableError`), does not have the file, or serves bytes
of the wrong framing is passed over for the next; what was passed over is kept in
:attr:`FallbackSource.passed_over` (a warning naming the source when another served the file).
Only when every source is unavailable is the read unavailable (exit 4).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

from ledger.core.merkle import NodeReader
from ledger.errors import (
    InputError,
    LedgerError,
    MalformedError,
    SourceUnavailableError,
    Where,
)
from ledger.formats.station_index import INDEX_FILE, station_file
from ledger.formats.tiles import (
    TILE_WIDTH,
    BundleId,
    TileId,
    TileNodeReader,
    bundle_path,
    bundles_for_size,
    parse_entry_bundle,
    tile_path,
)
from ledger.sources.published import READ_AHEAD_BUNDLES
from ledger.sources.source import ClosesOnExit, Source, StationIndexReader, missing_file

T = TypeVar("T")


@dataclass(frozen=True, slots=True, kw_only=True)
class PassedOver:
    """A source that did not serve a file another source then served (or none did)."""

    source: str
    file: str
    why: str
    #: ``unavailable`` (no answer), ``missing`` (no such file) or ``bad`` (bytes refused).
    kind: str = "bad"


class FallbackSource(ClosesOnExit):
    """The sources of one log, in the order given, read as one :class:`Source`."""

    def __init__(self, sources: Sequence[Source],
                 accept: Callable[[bytes], str | None] | None = None) -> None:
        """``accept(note)`` says why a source's checkpoint is not taken (None: taken), so a
        source that answers with bytes that do not verify is passed over for the next."""
        if not sources:
            raise ValueError("at least one source is needed")
        self.sources = list(sources)
        self.accept = accept
        self.passed_over: list[PassedOver] = []
        self._note: bytes | None = None
        self._answered = 0
        self._first = 0

    def describe(self) -> str:
        return ", ".join(s.describe() for s in self.sources)

    @property
    def answered(self) -> Source:
        """The source whose checkpoint is the one read (the first, before any read)."""
        return self.sources[self._answered]

    def _order(self) -> list[Source]:
        return self.sources[self._first:] + self.sources[: self._first]

    def read_checkpoint(self) -> bytes:
        """The checkpoint of the first source that answers (read once, then kept).

        Raises:
            SourceUnavailableError: no source could be reached (exit 4).
            InputError / MalformedError: the first error of a source that did answer, when
                none served a checkpoint.
        """
        if self._note is not None:
            return self._note
        answered: LedgerError | None = None
        unavailable: SourceUnavailableError | None = None
        for index, source in enumerate(self.sources):
            try:
                note = source.read_checkpoint()
            except SourceUnavailableError as e:
                unavailable = unavailable or e
                self._pass(source, "checkpoint", e, "unavailable")
                continue
            except (InputError, MalformedError) as e:
                answered = answered or e
                self._pass(source, "checkpoint", e, "bad")
                continue
            why = None if self.accept is None else self.accept(note)
            if why is not None and index + 1 < len(self.sources):
                self.passed_over.append(PassedOver(source=source.describe(), file="checkpoint",
                                                   why=why))
                continue
            self._note, self._first, self._answered = note, index, index
            return note
        raise answered or unavailable or SourceUnavailableError("no source given")

    def pin(self, note: bytes, index: int) -> None:
        """Make ``note``, read from source ``index``, the checkpoint this log is read at."""
        if not 0 <= index < len(self.sources):
            raise ValueError(f"no source {index}")
        self._note, self._first, self._answered = note, index, index

    def _pass(self, source: Source, file: str, error: BaseException, kind: str) -> None:
        self.passed_over.append(PassedOver(source=source.describe(), file=file, why=str(error),
                                           kind=kind))

    def _first_with(self, file: str, read: Callable[[Source], T | None]) -> T | None:
        """What the first source that has ``file`` serves; None when every source answered
        that it has no such file."""
        unavailable: SourceUnavailableError | None = None
        malformed: MalformedError | None = None
        for source in self._order():
            try:
                data = read(source)
                if data is not None and source is not self.sources[self._first]:
                    self._first = self.sources.index(source)  # ask it first from now on
            except SourceUnavailableError as e:
                unavailable = unavailable or e
                self._pass(source, file, e, "unavailable")
                continue
            except MalformedError as e:
                malformed = malformed or e
                self._pass(source, file, e, "bad")
                continue
            if data is not None:
                return data
            self._pass(source, file, missing_file(file, "file"), "missing")
        if malformed is not None:
            raise malformed
        if unavailable is not None:
            raise SourceUnavailableError(
                f"no source could serve {file}: {unavailable.message}",
                where=Where(file=file)) from unavailable
        return None

    def read_ahead(self, refs: Sequence[TileId | BundleId]) -> None:
        self.sources[self._first].read_ahead(refs)

    def read_tile_if_present(self, level: int, index: int, width: int) -> bytes | None:
        return self._first_with(tile_path(level, index, width),
                                lambda s: s.read_tile_if_present(level, index, width))

    def read_tile(self, level: int, index: int, width: int) -> bytes:
        data = self.read_tile_if_present(level, index, width)
        if data is None:
            raise missing_file(tile_path(level, index, width), "hash tile")
        return data

    def read_entry_bundle_if_present(self, index: int, width: int) -> bytes | None:
        return self._first_with(bundle_path(index, width),
                                lambda s: s.read_entry_bundle_if_present(index, width))

    def read_entry_bundle(self, index: int, width: int) -> bytes:
        data = self.read_entry_bundle_if_present(index, width)
        if data is None:
            raise missing_file(bundle_path(index, width), "entry bundle")
        return data

    def iter_entries(self, start: int, size: int) -> Iterator[bytes]:
        refs = list(bundles_for_size(size, start))
        for number, ref in enumerate(refs):
            if number % READ_AHEAD_BUNDLES == 0:
                self.read_ahead(refs[number : number + 2 * READ_AHEAD_BUNDLES])
            entries = parse_entry_bundle(self.read_entry_bundle(ref.index, ref.width), ref.width,
                                         path=ref.path)
            yield from entries[max(0, start - ref.index * TILE_WIDTH):]

    def node_reader(self, size: int) -> NodeReader:
        return TileNodeReader(self.read_tile, size)

    def read_station_index(self) -> bytes | None:
        return self._first_answer(INDEX_FILE, lambda s: s.read_station_index())

    def read_station_file(self, station: str) -> bytes | None:
        return self._first_answer(station_file(station), lambda s: s.read_station_file(station))

    def _first_answer(self, file: str, read: Callable[[StationIndexReader], bytes | None]
                      ) -> bytes | None:
        """An unauthenticated station-index file from the first source that answers at all
        (that it has none is an answer too): each source keeps an index of its own."""
        unavailable: SourceUnavailableError | None = None
        for source in self._order():
            if not isinstance(source, StationIndexReader):
                continue
            try:
                data = read(source)
            except SourceUnavailableError as e:
                unavailable = unavailable or e
                self._pass(source, file, e, "unavailable")
                continue
            if source is not self.sources[self._first]:
                self._first = self.sources.index(source)  # ask it first from now on
            return data
        if unavailable is not None:
            raise SourceUnavailableError(
                f"no source could serve {file}: {unavailable.message}",
                where=Where(file=file)) from unavailable
        return None

    def read_ahead_station_files(self, stations: Sequence[str]) -> None:
        first = self.sources[self._first]
        if isinstance(first, StationIndexReader):
            first.read_ahead_station_files(stations)

    def entry_count(self) -> int | None:
        return self.sources[0].entry_count() if len(self.sources) == 1 else None

    def publisher_vkey(self) -> str | None:
        for source in self._order():
            try:
                vkey = source.publisher_vkey()
            except LedgerError:
                continue
            if vkey is not None:
                return vkey
        return None

    def close(self) -> None:
        for source in self.sources:
            source.close()
