"""RFC 9162 Merkle tree maths: roots, inclusion and consistency proofs, and the compact range.

Everything here is pure and builds what :mod:`ledger.core.proofs` checks. Proofs come from a plain
list of leaf hashes, or from a :data:`NodeReader` over stored perfect-subtree hashes in O(log n)
reads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import NamedTuple

from ledger.core.hashing import EMPTY_ROOT, HASH_SIZE, leaf_hash, node_hash

__all__ = [
    "CompactRange",
    "NodeReader",
    "PerfectNode",
    "consistency_proof",
    "consistency_proof_from_nodes",
    "inclusion_proof",
    "inclusion_proof_from_nodes",
    "leaf_hash",
    "node_hash",
    "perfect_nodes_completed_by_append",
    "root",
    "root_from_nodes",
    "subtree_root",
]

#: Returns the hash of the perfect subtree at (level, index): leaves [index*2**level,
#: (index+1)*2**level). Level 0 is the leaf hashes.
NodeReader = Callable[[int, int], bytes]



class PerfectNode(NamedTuple):
    """A perfect subtree's coordinates and hash (a tuple, because stores make millions)."""

    level: int
    position: int
    hash: bytes


def _check_size(name: str, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} must be non-negative, got {value}")


def _check_hashes(leaf_hashes: Sequence[bytes], size: int) -> None:
    if size > len(leaf_hashes):
        raise ValueError(f"tree size {size} exceeds the {len(leaf_hashes)} leaf hashes given")
    for i in range(size):
        if len(leaf_hashes[i]) != HASH_SIZE:
            raise ValueError(f"leaf hash {i} is {len(leaf_hashes[i])} bytes, want {HASH_SIZE}")


def subtree_root(hashes: Sequence[bytes]) -> bytes:
    """Root over a non-empty run of hashes, level by level; a lone last node moves up unchanged.

    This is RFC 9162's MTH: the left subtree always holds the largest power of two (for 2**k
    hashes, the root of that perfect subtree).
    """
    level = list(hashes)
    while len(level) > 1:
        odd = level[-1] if len(level) & 1 else None
        level = [
            node_hash(a, b) for a, b in zip(level[0::2], level[1::2], strict=False)
        ]
        if odd is not None:
            level.append(odd)
    return level[0]


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """RFC 9162 2.1.1 Merkle tree hash of all ``leaf_hashes`` (SHA-256("") when empty)."""
    size = len(leaf_hashes)
    _check_hashes(leaf_hashes, size)
    if size == 0:
        return EMPTY_ROOT
    return subtree_root(leaf_hashes)


def _list_reader(leaf_hashes: Sequence[bytes]) -> NodeReader:
    """A NodeReader that hashes each asked-for perfect subtree from the leaves."""

    def read(level: int, index: int) -> bytes:
        start = index << level
        return subtree_root(leaf_hashes[start : start + (1 << level)])

    return read


def _range_hash(read: NodeReader, start: int, end: int) -> bytes:
    """MTH of leaves [start, end), start aligned to the largest power of two in end - start.

    Reads the perfect subtrees of the range, largest first, and folds them right to left.
    """
    parts: list[bytes] = []
    width = end - start
    pos = start
    for level in range(width.bit_length() - 1, -1, -1):
        if width >> level & 1:
            parts.append(read(level, pos >> level))
            pos += 1 << level
    acc = parts[-1]
    for left in reversed(parts[:-1]):
        acc = node_hash(left, acc)
    return acc


def root_from_nodes(read: NodeReader, size: int) -> bytes:
    """Root of the first ``size`` leaves from stored perfect subtrees: popcount(size) reads."""
    _check_size("size", size)
    if size == 0:
        return EMPTY_ROOT
    return _range_hash(read, 0, size)


def inclusion_proof_from_nodes(read: NodeReader, index: int, size: int) -> list[bytes]:
    """RFC 9162 2.1.3.1 PATH(index, D[size]) from stored perfect subtrees, leaf to root.

    Below level ``inner`` the path's siblings are where ``index`` and ``size - 1`` share a
    subtree (only the highest one may be cut by the right edge); above it, the left siblings.
    """
    _check_size("index", index)
    _check_size("size", size)
    if index >= size:
        raise ValueError(f"leaf index {index} is outside a tree of size {size}")
    inner = (index ^ (size - 1)).bit_length()
    proof: list[bytes] = []
    for level in range(inner):
        sibling = (index >> level) ^ 1
        start = sibling << level
        end = min(start + (1 << level), size)
        if end - start == 1 << level:
            proof.append(read(level, sibling))
        else:
            proof.append(_range_hash(read, start, end))
    for level in range(inner, size.bit_length()):
        if index >> level & 1:
            proof.append(read(level, (index >> level) - 1))
    return proof


def consistency_proof_from_nodes(read: NodeReader, size1: int, size2: int) -> list[bytes]:
    """RFC 9162 2.1.4.1 PROOF(size1, D[size2]) from stored perfect subtrees.

    ``[]`` when ``size1`` is 0 or equals ``size2`` (docs/spec.md, "Blocks and checkpoints").
    """
    _check_size("size1", size1)
    _check_size("size2", size2)
    if size1 > size2:
        raise ValueError(f"size1 {size1} is larger than size2 {size2}")
    if size1 == 0 or size1 == size2:
        return []
    # Walk SUBPROOF(m, D[lo:lo+n], b) down the tree without recursion; collect top-down.
    lo, n, m, whole = 0, size2, size1, True
    top_down: list[bytes] = []
    while m != n:
        k = 1 << ((n - 1).bit_length() - 1)  # largest power of two smaller than n
        if m <= k:
            top_down.append(_range_hash(read, lo + k, lo + n))
            n = k
        else:
            top_down.append(read((k - 1).bit_length(), lo // k))
            lo, n, m, whole = lo + k, n - k, m - k, False
    if not whole:
        top_down.append(read((n - 1).bit_length(), lo // n))
    top_down.reverse()
    return top_down


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int, size: int) -> list[bytes]:
    """Inclusion proof of leaf ``index`` in the tree of the first ``size`` leaf hashes."""
    _check_size("size", size)
    _check_hashes(leaf_hashes, size)
    return inclusion_proof_from_nodes(_list_reader(leaf_hashes), index, size)


def consistency_proof(leaf_hashes: Sequence[bytes], size1: int, size2: int) -> list[bytes]:
    """Consistency proof from the tree of size ``size1`` to that of size ``size2``."""
    _check_size("size2", size2)
    _check_hashes(leaf_hashes, size2)
    return consistency_proof_from_nodes(_list_reader(leaf_hashes), size1, size2)


def perfect_nodes_completed_by_append(size: int) -> list[tuple[int, int]]:
    """(level, index) of the perfect subtrees completed by appending leaf number ``size``.

    The leaf itself comes first, then one node per trailing one bit of ``size``.
    """
    _check_size("size", size)
    out = [(0, size)]
    index, level = size, 0
    while index & 1:
        index >>= 1
        level += 1
        out.append((level, index))
    return out


class CompactRange:
    """The O(log n) frontier of perfect subtrees covering leaves [0, size): appends and roots.

    Appending hashes O(1) amortised; ``root()`` folds the frontier in O(log n).
    """

    __slots__ = ("_hashes", "_size")

    def __init__(self) -> None:
        self._size = 0
        self._hashes: list[bytes] = []

    @classmethod
    def from_state(cls, size: int, hashes: Sequence[bytes]) -> CompactRange:
        """Rebuild a range from its size and frontier (largest subtree first).

        Raises ``ValueError`` unless there are popcount(size) hashes of 32 bytes each.
        """
        _check_size("size", size)
        want = size.bit_count()
        if len(hashes) != want:
            raise ValueError(
                f"a range of size {size} has {want} frontier hashes, got {len(hashes)}"
            )
        for i, h in enumerate(hashes):
            if not isinstance(h, bytes) or len(h) != HASH_SIZE:
                raise ValueError(f"frontier hash {i} is not {HASH_SIZE} bytes")
        rng = cls()
        rng._size = size
        rng._hashes = list(hashes)
        return rng

    @property
    def size(self) -> int:
        """Number of leaves covered."""
        return self._size

    @property
    def hashes(self) -> tuple[bytes, ...]:
        """The frontier: one perfect subtree hash per one bit of ``size``, largest first."""
        return tuple(self._hashes)

    def append(self, leaf_hash: bytes) -> None:
        """Append one leaf hash, merging the perfect subtrees it completes."""
        if len(leaf_hash) != HASH_SIZE:
            raise ValueError(f"leaf hash is {len(leaf_hash)} bytes, want {HASH_SIZE}")
        stack = self._hashes
        acc = leaf_hash
        bits = self._size
        while bits & 1:
            acc = node_hash(stack.pop(), acc)
            bits >>= 1
        stack.append(acc)
        self._size += 1

    def append_many(self, leaf_hashes: Iterable[bytes]) -> None:
        """Append leaf hashes in order."""
        for h in leaf_hashes:
            self.append(h)

    def append_nodes(self, leaf_hash: bytes) -> list[PerfectNode]:
        """Append one leaf hash; return every perfect subtree it completes, the leaf first.

        A store persists these so that :data:`NodeReader` proofs can read them later.
        """
        if len(leaf_hash) != HASH_SIZE:
            raise ValueError(f"leaf hash is {len(leaf_hash)} bytes, want {HASH_SIZE}")
        stack = self._hashes
        index = self._size
        acc = leaf_hash
        level = 0
        out = [PerfectNode(0, index, acc)]
        while index & 1:
            acc = node_hash(stack.pop(), acc)
            index >>= 1
            level += 1
            out.append(PerfectNode(level, index, acc))
        stack.append(acc)
        self._size += 1
        return out

    def root(self) -> bytes:
        """RFC 9162 root of the leaves appended so far (SHA-256("") when empty)."""
        if not self._hashes:
            return EMPTY_ROOT
        stack = self._hashes
        acc = stack[-1]
        for left in reversed(stack[:-1]):
            acc = node_hash(left, acc)
        return acc

    def copy(self) -> CompactRange:
        """An independent copy (the frontier is small)."""
        return CompactRange.from_state(self._size, self._hashes)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CompactRange):
            return NotImplemented
        return self._size == other._size and self._hashes == other._hashes

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"CompactRange(size={self._size}, root={self.root().hex()})"
