"""The auditor's state file (docs/spec.md, "Verification", step 6): one canonical MessagePack map.

Written atomically by a clean incremental audit and read by the next one,
which then reads only the entries after ``size`` when ``size`` and ``root`` equal those of the
trusted checkpoint. The map's keys are documented in docs/spec.md, section "Verification".
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledger.core.hashing import HASH_SIZE
from ledger.errors import InputError, MalformedError, Where
from ledger.files import write_atomic
from ledger.formats.codec import decode_value, encode_value

FORMAT = "election-ledger/v1 audit state"
#: A state holds per-station state; 1 GiB is far above any real election.
MAX_STATE_SIZE = 1 << 30
_MAX_ITEMS = 1 << 26
_MAX_DEPTH = 16
_KEYS = frozenset({"blocks", "checker", "format", "origin", "root", "size", "tiles"})
#: Kept since the auditor keeps the signed checkpoint it was made at, and the tally's state
#: when the audit was a tally (docs/spec.md, "The auditor's state file").
_OPTIONAL_KEYS = frozenset({"checkpoint", "tally"})


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditState:
    """What a clean audit of the tree (origin, size, root) leaves for the next one."""

    origin: str
    size: int
    root: bytes
    #: :meth:`ledger.check.checker.EntryChecker.to_value` at ``size``.
    checker: dict[str, Any]
    #: :meth:`ledger.auditor.tile_audit.TileAudit.to_value` at ``size``.
    tiles: list[list[bytes]]
    #: Leaf index of every block entry, to name the block that seals a later finding.
    blocks: list[int]
    #: The signed checkpoint note the audit verified (None in a state written before it was
    #: kept): without a trusted checkpoint, the next audit trusts this one.
    checkpoint: bytes | None = None
    #: :meth:`ledger.auditor.tally.TallyBuilder.to_value` at ``size``, when a tally made it.
    tally: dict[str, Any] | None = None

    def to_value(self) -> dict[str, Any]:
        """The canonical map written to the file."""
        value = {
            "blocks": list(self.blocks),
            "checker": self.checker,
            "format": FORMAT,
            "origin": self.origin,
            "root": self.root,
            "size": self.size,
            "tiles": self.tiles,
        }
        if self.checkpoint is not None:
            value["checkpoint"] = self.checkpoint
        if self.tally is not None:
            value["tally"] = self.tally
        return dict(sorted(value.items()))

    @classmethod
    def from_value(cls, value: Any) -> AuditState:
        """The state a decoded map holds.

        Raises:
            MalformedError: the map is not exactly the one :meth:`to_value` writes.
        """
        if type(value) is not dict or not _KEYS <= value.keys() <= _KEYS | _OPTIONAL_KEYS \
                or value["format"] != FORMAT:
            raise MalformedError(f"not an audit state map ({FORMAT})", code="bad-state")
        origin, size, root = value["origin"], value["size"], value["root"]
        blocks, checker, tiles = value["blocks"], value["checker"], value["tiles"]
        if type(origin) is not str or type(size) is not int or size < 0:
            raise MalformedError("audit state: origin must be a str, size an int", code="bad-state")
        if type(root) is not bytes or len(root) != HASH_SIZE:
            raise MalformedError("audit state: root must be 32 bytes", code="bad-state")
        if type(blocks) is not list or not all(type(b) is int and 0 <= b < size for b in blocks):
            raise MalformedError("audit state: blocks must be entry indices", code="bad-state")
        if blocks != sorted(set(blocks)):
            raise MalformedError("audit state: blocks must increase", code="bad-state")
        if type(checker) is not dict or type(tiles) is not list:
            raise MalformedError("audit state: checker must be a map, tiles an array",
                                 code="bad-state")
        checkpoint = value.get("checkpoint")
        if checkpoint is not None and type(checkpoint) is not bytes:
            raise MalformedError("audit state: checkpoint must be the note's bytes",
                                 code="bad-state")
        return cls(origin=origin, size=size, root=root, checker=checker, tiles=tiles,
                   blocks=blocks, checkpoint=checkpoint, tally=_tally_value(value))


def _tally_value(value: dict[str, Any]) -> dict[str, Any] | None:
    tally = value.get("tally")
    if tally is not None and type(tally) is not dict:
        raise MalformedError("audit state: tally must be a map", code="bad-state")
    return tally


def load_state(path: str | os.PathLike[str]) -> AuditState | None:
    """The state in ``path``, or None when there is no such file yet.

    Raises:
        InputError: the file cannot be read or is not an audit state file (exit 2).
    """
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_STATE_SIZE + 1)
    except FileNotFoundError:
        return None
    except OSError as e:
        raise InputError(f"cannot read the state file: {e.strerror or e}",
                         where=Where(file=str(path))) from e
    if len(data) > MAX_STATE_SIZE:
        raise InputError("state file is too large", where=Where(file=str(path)))
    try:
        value = decode_value(data, max_size=MAX_STATE_SIZE, max_items=_MAX_ITEMS,
                             max_depth=_MAX_DEPTH)
        return AuditState.from_value(value)
    except MalformedError as e:
        raise InputError(f"not an audit state file: {e.message}",
                         where=Where(file=str(path))) from e


def save_state(path: str | os.PathLike[str], state: AuditState) -> None:
    """Write ``state`` to ``path`` atomically: a temporary file, fsync, rename, fsync the dir."""
    write_atomic(Path(path), encode_value(state.to_value()))
