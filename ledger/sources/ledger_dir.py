"""A publisher's LMDB ledger directory read as a source: the only place where the auditor's side
reaches :mod:`ledger.store.store`, and only when such a directory is opened (lmdb is loaded then).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ledger.core.merkle import NodeReader
from ledger.errors import MalformedError, VerificationError, Where
from ledger.formats.keys import VerifierKey
from ledger.formats.tiles import (
    TILE_HEIGHT,
    TILE_WIDTH,
    bundle_path,
    format_entry_bundle,
    format_hash_tile,
    tile_path,
)
from ledger.sources.source import CHECKPOINT_FILE, ClosesOnExit
from ledger.store.layout import META_COSIGNED_CHECKPOINT, META_VKEY

if TYPE_CHECKING:
    from ledger.store.store import Store


class LedgerDirSource(ClosesOnExit):
    """A publisher's LMDB ledger directory, read through :mod:`ledger.store.store` (opened
    read-only).

    Tiles and bundles are rebuilt from the stored nodes and entries; :meth:`iter_entries` may go
    past the latest checkpoint, into the unsealed tail (:meth:`entry_count`).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        from ledger.store.store import Store  # lazily: published-tree readers never load lmdb

        self.path = Path(path)
        self.store: Store = Store(self.path)

    @classmethod
    def from_store(cls, store: Store) -> LedgerDirSource:
        """A source over an already open store (the publisher's own); closing it is the caller's."""
        self = cls.__new__(cls)
        self.path = store.path
        self.store = store
        return self

    def describe(self) -> str:
        return f"ledger directory {self.path}"

    def read_checkpoint(self) -> bytes:
        latest = self.store.latest_checkpoint()
        if latest is None:
            raise MalformedError(
                "the ledger has no signed checkpoint yet (no block sealed)",
                category="checkpoint", code="missing-file", where=Where(file=CHECKPOINT_FILE),
            )
        cosigned = self.store.meta(META_COSIGNED_CHECKPOINT)
        if cosigned is not None and _note_body(cosigned) == _note_body(latest[1]):
            return cosigned
        return latest[1]

    def entry_count(self) -> int | None:
        return self.store.size()

    def _check_range(self, start: int, size: int, what: str) -> None:
        held = self.store.size()
        if not 0 <= start <= size:
            raise ValueError(f"need 0 <= start <= size, got {start}, {size}")
        if size > held:
            raise MalformedError(
                f"{what} needs entries up to {size - 1}, but the ledger holds {held}",
                category="checkpoint", code="missing-entries", where=Where(index=held),
            )

    def read_tile(self, level: int, index: int, width: int) -> bytes:
        first = index * TILE_WIDTH
        node_level = TILE_HEIGHT * level
        self._check_range(0, (first + width) << node_level, tile_path(level, index, width))
        return format_hash_tile(self.store.nodes(node_level, first, width))

    def read_tile_if_present(self, level: int, index: int, width: int) -> bytes | None:
        return self.read_tile(level, index, width)

    def read_entry_bundle(self, index: int, width: int) -> bytes:
        first = index * TILE_WIDTH
        self._check_range(first, first + width, bundle_path(index, width))
        return format_entry_bundle(list(self.store.iter_entries(first, first + width)))

    def read_entry_bundle_if_present(self, index: int, width: int) -> bytes | None:
        return self.read_entry_bundle(index, width)

    def iter_entries(self, start: int, size: int) -> Iterator[bytes]:
        self._check_range(start, size, "reading the log")
        return self.store.iter_entries(start, size)

    def node_reader(self, size: int) -> NodeReader:
        self._check_range(0, size, f"a tree of size {size}")
        return self.store.node_reader(size)

    def publisher_vkey(self) -> str | None:
        vkey = self.store.meta(META_VKEY)
        return None if vkey is None else vkey.decode("utf-8", errors="replace")

    def compare_stored_tables(
        self, publisher: VerifierKey, witnesses: Sequence[VerifierKey] = ()
    ) -> list[VerificationError]:
        """What the store keeps beside the entries (checker state, lookup index, tree nodes,
        blocks, checkpoints, the cosigned checkpoint) against what the entries give; every
        difference is a finding of category ``store``."""
        from ledger.store.integrity import compare_stored_tables

        return compare_stored_tables(self.store, publisher, witnesses)

    def close(self) -> None:
        self.store.close()



def _note_body(note: bytes) -> bytes:
    """The signed text of a note, up to and including the blank line."""
    end = note.find(b"\n\n")
    return note if end < 0 else note[: end + 2]




