"""What a log reader is: the :class:`Source` protocol, the files of a published tree, and the
framing errors every reader raises (naming the file).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

from ledger.core.merkle import NodeReader
from ledger.errors import MalformedError, VerificationError, Where
from ledger.formats.keys import VerifierKey
from ledger.formats.notes import MAX_NOTE_SIZE
from ledger.formats.tiles import BundleId, TileId

CHECKPOINT_FILE = "checkpoint"
LEDGER_JSON = "ledger.json"
#: The largest signed note :mod:`ledger.formats.notes` opens.
MAX_CHECKPOINT_BYTES = MAX_NOTE_SIZE
MAX_LEDGER_JSON_BYTES = 64 << 10




@runtime_checkable
class Source(Protocol):
    """Where an auditor reads a log from; every method raises on a read error naming the file."""

    def read_checkpoint(self) -> bytes:
        """The latest signed checkpoint note, with the cosignatures collected so far."""
        ...

    def read_tile(self, level: int, index: int, width: int) -> bytes:
        """Hash tile bytes, exactly ``width`` hashes; MalformedError if missing or short."""
        ...

    def read_tile_if_present(self, level: int, index: int, width: int) -> bytes | None:
        """Like :meth:`read_tile`, but None when the tile is not there at all."""
        ...

    def read_entry_bundle(self, index: int, width: int) -> bytes:
        """Entry bundle bytes as published (framing unchecked); MalformedError if missing."""
        ...

    def read_entry_bundle_if_present(self, index: int, width: int) -> bytes | None:
        """Like :meth:`read_entry_bundle`, but None when the bundle is not there at all."""
        ...

    def iter_entries(self, start: int, size: int) -> Iterator[bytes]:
        """Entries ``start`` .. ``size - 1`` of the tree of ``size``, streamed."""
        ...

    def node_reader(self, size: int) -> NodeReader:
        """A merkle NodeReader for the tree of ``size`` leaves."""
        ...

    def entry_count(self) -> int | None:
        """Every entry held, unsealed tail included (ledger directory); None for published trees."""
        ...

    def publisher_vkey(self) -> str | None:
        """The publisher verifier key the source states (a convenience, never trusted)."""
        ...

    def describe(self) -> str:
        """The source in words, for messages."""
        ...

    def read_ahead(self, refs: Sequence[TileId | BundleId]) -> None:
        """A hint: these files will be read soon, in this order (a remote source may start
        fetching them; a local one ignores it). Reading a file hinted gives what reading it
        unhinted would, errors included."""
        ...

    def close(self) -> None:
        """Release what the source holds open."""
        ...

    def __enter__(self) -> Self:
        """The source itself; leaving the ``with`` block closes it."""
        ...

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Close the source."""
        ...


@runtime_checkable
class StationIndexReader(Protocol):
    """A published tree that may hold a station index (docs/spec.md, "The station index"):
    unauthenticated files, so whoever reads one proves every entry it points at."""

    def read_station_index(self) -> bytes | None:
        """``stations/index.json``, or None when the tree has none."""
        ...

    def read_station_file(self, station: str) -> bytes | None:
        """``stations/<station>.json``, or None when there is none (MalformedError for an id
        that is not a station id)."""
        ...

    def read_ahead_station_files(self, stations: Sequence[str]) -> None:
        """A hint: these station files will be read soon (a remote source may fetch them)."""
        ...


@runtime_checkable
class StoredTables(Protocol):
    """A source that keeps tables derived from its entries (a ledger directory): the auditor
    has them compared with what the entries give (docs/spec.md, "Verification")."""

    def compare_stored_tables(
        self, publisher: VerifierKey, witnesses: Sequence[VerifierKey] = ()
    ) -> list[VerificationError]:
        """Every difference, as findings of category ``store`` naming the table and key."""
        ...


class ClosesOnExit:
    """The context-manager half of :class:`Source`: leaving a ``with`` block calls ``close``;
    and :meth:`read_ahead`, a hint that sources reading local files ignore."""

    def read_ahead(self, refs: Sequence[TileId | BundleId]) -> None:
        """Nothing to do: a local file is read as fast as a hint would make it."""
        del refs

    def close(self) -> None:
        """Release what the source holds open (nothing, unless a reader says otherwise)."""
        return

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def missing_file(path: str, what: str, category: str = "tiles") -> MalformedError:
    """The finding for a file the log needs that the source does not have."""
    return MalformedError(
        f"{what} {path} is missing", category=category, code="missing-file", where=Where(file=path)
    )


def too_large(path: str, limit: int, category: str = "tiles") -> MalformedError:
    """The finding for a file over the size limit of its kind (read no further)."""
    return MalformedError(
        f"{path} is larger than the {limit}-byte limit",
        category=category,
        code="too-large",
        where=Where(file=path),
    )




