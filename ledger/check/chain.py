"""Blocks chain inside the log (docs/spec.md, "Blocks and checkpoints" and
"Verifying the chain"): pure checks of one block.

A block entry at leaf index ``i`` names the previous block entry (``prev``: its leaf hash), its
own ``height``, the entries it seals (``first``, ``count``), a ``time`` later than the previous
block's, and embeds the previous block's checkpoint exactly as the publisher signed it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ledger.core.hashing import HASH_SIZE
from ledger.errors import ChainError, MalformedError, RootMismatchError, VerificationError
from ledger.formats.checkpoints import open_ledger_checkpoint
from ledger.formats.keys import VerifierKey
from ledger.formats.records import Block

#: ``prev`` of the block at height 0.
ZERO_HASH = bytes(HASH_SIZE)


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockState:
    """The last block entry: what the next block must chain to."""

    height: int
    index: int
    leaf_hash: bytes
    time: int
    #: Root of the tree that ends with this block entry: the root the next block's embedded
    #: checkpoint (the checkpoint signed at this block) must carry.
    root: bytes
    #: The checkpoint this block embeds (the previous block's), or None at height 0.
    checkpoint: str | None = None

    @property
    def size(self) -> int:
        """Tree size of the checkpoint signed at this block."""
        return self.index + 1

    def to_value(self) -> dict[str, Any]:
        """The state as a canonical map (for the auditor's state file)."""
        value: dict[str, Any] = {
            "height": self.height, "index": self.index, "leaf_hash": self.leaf_hash,
            "root": self.root, "time": self.time,
        }
        if self.checkpoint is not None:
            value["checkpoint"] = self.checkpoint
        return dict(sorted(value.items()))

    @classmethod
    def from_value(cls, value: Any) -> BlockState:
        """The state a :meth:`to_value` map holds.

        Raises:
            MalformedError: not exactly that map.
        """
        keys = {"height", "index", "leaf_hash", "root", "time"}
        if type(value) is not dict or not keys <= value.keys() <= keys | {"checkpoint"}:
            raise _bad_state("a map of height, index, leaf_hash, root, time")
        ints = all(type(value[k]) is int and value[k] >= 0 for k in ("height", "index", "time"))
        hashes = all(type(value[k]) is bytes and len(value[k]) == HASH_SIZE
                     for k in ("leaf_hash", "root"))
        checkpoint = value.get("checkpoint")
        if not ints or not hashes or (checkpoint is not None and type(checkpoint) is not str):
            raise _bad_state("non-negative ints, 32-byte hashes and a str checkpoint")
        return cls(height=value["height"], index=value["index"], leaf_hash=value["leaf_hash"],
                   root=value["root"], time=value["time"], checkpoint=checkpoint)


def _bad_state(message: str) -> MalformedError:
    return MalformedError(f"last block state: expected {message}", code="bad-state")


def check_block(
    block: Block, index: int, last: BlockState | None, publisher: VerifierKey
) -> list[VerificationError]:
    """Every way the block entry at ``index`` fails to chain to ``last`` (none: it chains)."""
    want_height = 0 if last is None else last.height + 1
    want_prev = ZERO_HASH if last is None else last.leaf_hash
    want_first = 0 if last is None else last.index + 1
    problems = []
    if block.height != want_height:
        problems.append(("block-height", f"height is {block.height}, expected {want_height}"))
    if block.prev != want_prev:
        problems.append(("block-prev", "prev is not the leaf hash of the previous block entry "
                         f"({want_prev.hex()[:16]}...)"))
    if block.first != want_first:
        problems.append(("block-first", f"first is {block.first}, expected {want_first} (the "
                         "index right after the previous block entry)"))
    elif block.first + block.count != index:  # a wrong first already explains a bad sum
        problems.append(("block-count", f"first + count is {block.first + block.count}, "
                         f"expected the block's own index {index}"))
    if last is not None and block.time <= last.time:
        problems.append(("block-time", f"time {block.time} is not after the previous block's "
                         f"time {last.time}"))
    errors: list[VerificationError] = [
        ChainError(f"block {want_height}: {message}", code=code) for code, message in problems
    ]
    try:
        check_embedded_checkpoint(block, last, publisher)
    except VerificationError as e:
        errors.append(e)
    return errors


def check_embedded_checkpoint(
    block: Block, last: BlockState | None, publisher: VerifierKey
) -> None:
    """The previous block's checkpoint, exactly as signed: publisher only, root at its size.

    Raises:
        MalformedError: missing, unexpected at height 0, cosigned, or of another size.
        SignatureError: not signed by the publisher key.
        RootMismatchError: its root is not the root of the entries at its size.
    """
    if last is None:
        if block.checkpoint is not None:
            raise MalformedError("block 0 embeds a checkpoint (there is none before it)",
                                 category="checkpoint", code="checkpoint-unexpected")
        return
    if block.checkpoint is None:
        raise MalformedError(
            f"block {last.height + 1} embeds no checkpoint (expected the one signed at size "
            f"{last.size})", category="checkpoint", code="checkpoint-missing")
    signed = open_ledger_checkpoint(block.checkpoint.encode("utf-8"), publisher)
    if len(signed.note.signatures) != 1:
        raise MalformedError(
            f"embedded checkpoint has {len(signed.note.signatures)} signature lines; a block "
            "embeds the checkpoint with its one publisher signature only",
            category="checkpoint", code="checkpoint-cosigned")
    cp = signed.checkpoint
    if cp.size != last.size:
        raise MalformedError(
            f"embedded checkpoint has size {cp.size}, expected {last.size} (the previous "
            "block's)", category="checkpoint", code="checkpoint-size")
    if cp.root != last.root:
        raise RootMismatchError(
            f"embedded checkpoint of size {cp.size} has root {cp.root.hex()}, but the entries "
            f"give {last.root.hex()}", code="checkpoint-root")
