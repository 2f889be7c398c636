"""RFC 9162 proof verification (sections 2.1.3.2 and 2.1.4.2), pure and strict.

Every precondition (bounds, sizes, 32-byte hashes, the exact proof length) is checked before any
hashing. Roots are compared, not length-checked. Consistency from size 0 follows docs/spec.md,
"Consistency proofs": valid only with an empty proof and an old root of SHA-256("").
"""

from __future__ import annotations

from collections.abc import Sequence

from ledger.core.hashing import EMPTY_ROOT, HASH_SIZE, node_hash
from ledger.errors import ConsistencyError, ProofError, RootMismatchError

__all__ = [
    "MAX_TREE_SIZE",
    "consistency_proof_length",
    "inclusion_proof_length",
    "root_from_inclusion_proof",
    "verify_consistency",
    "verify_inclusion",
]

#: Tree sizes are uint64 (C2SP tlog-checkpoint); larger ones are refused.
MAX_TREE_SIZE = 2**64 - 1

def _check_int(name: str, value: int) -> None:
    """Reject a non-int (caller mistake) or a value outside 0..2**64-1 (bad proof input)."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if not 0 <= value <= MAX_TREE_SIZE:
        raise ProofError(f"{name} must be in 0..2**64-1, got {value}")


def _check_hash(what: str, value: bytes) -> None:
    if len(value) != HASH_SIZE:
        raise ProofError(f"{what} must be {HASH_SIZE} bytes, got {len(value)}")


def _check_proof(proof: Sequence[bytes], want: int) -> None:
    if len(proof) != want:
        raise ProofError(f"proof must have {want} hashes, got {len(proof)}")
    for i, p in enumerate(proof):
        _check_hash(f"proof hash {i}", p)


def inclusion_proof_length(index: int, size: int) -> int:
    """Exact number of hashes in the inclusion proof of leaf ``index`` in a tree of ``size``."""
    inner = (index ^ (size - 1)).bit_length()
    return inner + (index >> inner).bit_count()


def consistency_proof_length(size1: int, size2: int) -> int:
    """Exact number of hashes in a consistency proof for 0 < size1 < size2."""
    shift = (size1 & -size1).bit_length() - 1  # trailing zero bits of size1
    index = (size1 - 1) >> shift
    last = (size2 - 1) >> shift
    inner = (index ^ last).bit_length()
    length = inner + (index >> inner).bit_count()
    return length if index == 0 else length + 1


def root_from_inclusion_proof(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes]
) -> bytes:
    """Compute the root that ``proof`` yields for ``leaf_hash`` at ``index`` in a tree of ``size``.

    Raises:
        ProofError: index outside 0..size-1, a hash that is not 32 bytes, or a proof whose
            length is not the exact one for (index, size).
    """
    _check_int("leaf index", index)
    _check_int("tree size", size)
    if index >= size:
        raise ProofError(f"leaf index {index} is outside a tree of size {size}")
    _check_hash("leaf hash", leaf_hash)
    _check_proof(proof, inclusion_proof_length(index, size))
    # RFC 9162 2.1.3.2 steps 2-5 (length and bounds already checked above).
    fn, sn, r = index, size - 1, leaf_hash
    for p in proof:
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf_hash`` is leaf ``index`` of the tree of ``size`` whose root is ``root``.

    Raises:
        ProofError: the proof's shape is wrong (see :func:`root_from_inclusion_proof`).
        RootMismatchError: the proof yields another root.
    """
    got = root_from_inclusion_proof(leaf_hash, index, size, proof)
    if got != root:
        raise RootMismatchError(
            f"inclusion proof for leaf {index} of {size} gives root {got.hex()}, "
            f"expected {root.hex()}"
        )


def _check_equal_size(size: int, proof: Sequence[bytes], root1: bytes, root2: bytes) -> None:
    if proof:
        raise ProofError(f"consistency proof between equal sizes must be empty, got {len(proof)}")
    if root1 != root2:
        raise ConsistencyError(
            f"two trees of size {size} have different roots: {root1.hex()} and {root2.hex()}"
        )


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> None:
    """Check that the tree (size2, root2) extends the tree (size1, root1).

    Raises:
        ProofError: a size outside 0..2**64-1, size1 > size2, a proof hash that is not 32 bytes
            or a proof of the wrong length (non-empty for equal sizes or from size 0).
        ConsistencyError: the proof does not yield both roots, roots of equal sizes differ,
            or an old tree of size 0 whose root is not SHA-256("").
    """
    _check_int("size1", size1)
    _check_int("size2", size2)
    if size1 > size2:
        raise ProofError(f"size1 {size1} is larger than size2 {size2}")
    if size1 == 0:
        # docs/spec.md, "Blocks and checkpoints": the empty tree is a prefix of every tree, proved
        # by nothing.
        if proof:
            raise ProofError(f"consistency proof from size 0 must be empty, got {len(proof)}")
        if root1 != EMPTY_ROOT:
            raise ConsistencyError(
                f"the tree of size 0 has root {EMPTY_ROOT.hex()}, got {root1.hex()}"
            )
        if size2 == 0:
            _check_equal_size(0, proof, root1, root2)
        return
    if size1 == size2:
        _check_equal_size(size1, proof, root1, root2)
        return
    _check_proof(proof, consistency_proof_length(size1, size2))
    path = [root1, *proof] if size1 & (size1 - 1) == 0 else list(proof)
    fr, sr = roots_from_consistency_path(size1, size2, path)
    if fr != root1:
        raise ConsistencyError(
            f"consistency proof {size1} -> {size2} gives old root {fr.hex()}, "
            f"expected {root1.hex()}"
        )
    if sr != root2:
        raise ConsistencyError(
            f"consistency proof {size1} -> {size2} gives new root {sr.hex()}, "
            f"expected {root2.hex()}"
        )


def roots_from_consistency_path(
    size1: int, size2: int, path: Sequence[bytes]
) -> tuple[bytes, bytes]:
    """The (old, new) roots a consistency proof gives, RFC 9162 2.1.4.2 steps 2-7; ``path`` is
    the proof preceded, when ``size1`` is a power of two, by the node over leaves [0, size1).

    Raises:
        ProofError: sizes not 0 < size1 < size2 <= 2**64-1, a hash that is not 32 bytes, or a
            path of the wrong length.
    """
    _check_int("size1", size1)
    _check_int("size2", size2)
    if not 0 < size1 < size2:
        raise ProofError(f"a consistency path needs 0 < size1 < size2, got {size1}, {size2}")
    seeded = size1 & (size1 - 1) == 0
    if seeded and not path:
        raise ProofError("a consistency path from a power of two starts with the seed node")
    _check_proof(path[1:] if seeded else path, consistency_proof_length(size1, size2))
    if seeded:
        _check_hash("seed node", path[0])
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr, sr
