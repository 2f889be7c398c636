"""The naive oracle: RFC 9162 2.1.1 MTH, 2.1.3.1 PATH and 2.1.4.1 PROOF, word for word.

Recursive and slow on purpose; the fast code in ``ledger.core.merkle`` is checked against it.
"""

from __future__ import annotations

import hashlib


def ref_leaf_hash(data: bytes) -> bytes:
    """MTH({d(0)}) = SHA-256(0x00 || d(0))."""
    return hashlib.sha256(b"\x00" + data).digest()


def _split(n: int) -> int:
    """k: the largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_root(leaf_hashes: list[bytes]) -> bytes:
    """MTH(D[n]) over already-hashed leaves."""
    n = len(leaf_hashes)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaf_hashes[0]
    k = _split(n)
    return hashlib.sha256(b"\x01" + ref_root(leaf_hashes[:k]) + ref_root(leaf_hashes[k:])).digest()


def ref_path(m: int, leaf_hashes: list[bytes]) -> list[bytes]:
    """PATH(m, D[n]): the inclusion proof of leaf m, leaf to root."""
    n = len(leaf_hashes)
    if n == 1:
        return []
    k = _split(n)
    if m < k:
        return [*ref_path(m, leaf_hashes[:k]), ref_root(leaf_hashes[k:])]
    return [*ref_path(m - k, leaf_hashes[k:]), ref_root(leaf_hashes[:k])]


def _subproof(m: int, leaf_hashes: list[bytes], b: bool) -> list[bytes]:
    n = len(leaf_hashes)
    if m == n:
        return [] if b else [ref_root(leaf_hashes)]
    k = _split(n)
    if m <= k:
        return [*_subproof(m, leaf_hashes[:k], b), ref_root(leaf_hashes[k:])]
    return [*_subproof(m - k, leaf_hashes[k:], False), ref_root(leaf_hashes[:k])]


def ref_proof(m: int, leaf_hashes: list[bytes]) -> list[bytes]:
    """PROOF(m, D[n]) for 0 < m <= n: the consistency proof from size m."""
    return _subproof(m, leaf_hashes, True)
