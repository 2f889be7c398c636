"""Proof verification: RFC 6962 vectors, transparency-dev probes, Rekor v2, and mutants."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ledger.core.proofs
from ledger.core.hashing import EMPTY_ROOT
from ledger.core.merkle import (
    consistency_proof_from_nodes,
    inclusion_proof_from_nodes,
    leaf_hash,
    node_hash,
    root_from_nodes,
)
from ledger.core.proofs import (
    MAX_TREE_SIZE,
    consistency_proof_length,
    inclusion_proof_length,
    root_from_inclusion_proof,
    verify_consistency,
    verify_inclusion,
)
from ledger.errors import ConsistencyError, ProofError, RootMismatchError, VerificationError
from tests.conftest import VECTORS_DIR, load_json
from tests.merkle_reference import ref_leaf_hash, ref_path, ref_proof, ref_root

LEAVES = [ref_leaf_hash(b"leaf %d" % i) for i in range(1100)]
PROBES = load_json(VECTORS_DIR / "vectors.json")["merkle_probes"]


def _h(s: str | None) -> bytes:
    return bytes.fromhex(s or "")


def _proof(hexes: list[str] | None) -> list[bytes]:
    return [_h(p) for p in hexes or []]


# --- RFC 6962 vectors -------------------------------------------------------------------------


def test_rfc6962_inclusion_proofs_verify(spec_vectors: dict[str, Any]) -> None:
    cases = spec_vectors["rfc6962"]["inclusion"]
    for c in cases:
        args = (_h(c["leaf_hash"]), c["leaf_index"], c["tree_size"], _proof(c["proof"]))
        assert root_from_inclusion_proof(*args).hex() == c["root"]
        verify_inclusion(*args, _h(c["root"]))
    assert len(cases) == 5


def test_rfc6962_consistency_proofs_verify(spec_vectors: dict[str, Any]) -> None:
    cases = spec_vectors["rfc6962"]["consistency"]
    for c in cases:
        verify_consistency(
            c["size1"], c["size2"], _proof(c["proof"]), _h(c["root1"]), _h(c["root2"])
        )
    assert len(cases) == 5


def test_rekor_v2_staging_inclusion_proof_verifies(spec_vectors: dict[str, Any]) -> None:
    (c,) = spec_vectors["real_world"]
    leaf = leaf_hash(base64.b64decode(c["leaf_b64"], validate=True))
    assert leaf.hex() == c["leaf_hash_hex"]
    checkpoint_root = base64.b64decode(c["checkpoint"].split("\n")[2], validate=True)
    assert checkpoint_root.hex() == c["root_hex"]
    verify_inclusion(leaf, c["leaf_index"], c["tree_size"], _proof(c["proof_hex"]), checkpoint_root)
    with pytest.raises(RootMismatchError):
        verify_inclusion(
            leaf, c["leaf_index"] - 1, c["tree_size"], _proof(c["proof_hex"]), checkpoint_root
        )


# --- transparency-dev probes (96 + 98 files, as vectors.json lists them) --------------------


def _probe_id(c: dict[str, Any]) -> str:
    return str(c["file"]).split("/", 2)[2]


def _inclusion_shape_ok(c: dict[str, Any]) -> bool:
    index, size, proof = c["leaf_index"], c["tree_size"], _proof(c["proof"])
    return (
        index < size
        and len(_h(c["leaf_hash"])) == 32
        and len(proof) == inclusion_proof_length(index, size)
        and all(len(p) == 32 for p in proof)
    )


@pytest.mark.parametrize("c", PROBES["inclusion"], ids=lambda c: _probe_id(c))
def test_inclusion_probe(c: dict[str, Any]) -> None:
    args = (_h(c["leaf_hash"]), c["leaf_index"], c["tree_size"], _proof(c["proof"]), _h(c["root"]))
    assert "policy_note" not in c
    if not c["want_error"]:
        verify_inclusion(*args)
        return
    # Shape failures are ProofError found before hashing; a well-shaped lie is a root mismatch.
    want = RootMismatchError if _inclusion_shape_ok(c) else ProofError
    with pytest.raises(want) as info:
        verify_inclusion(*args)
    if want is ProofError:
        assert not isinstance(info.value, RootMismatchError)


def _policy_rejects(c: dict[str, Any]) -> bool:
    """Our written policy for size1 == 0 (docs/spec.md; docs/spec.md, "Blocks and checkpoints")."""
    root1, root2 = _h(c["root1"]), _h(c["root2"])
    ok = not c["proof"] and root1 == EMPTY_ROOT and (c["size2"] > 0 or root2 == root1)
    return not ok


@pytest.mark.parametrize("c", PROBES["consistency"], ids=lambda c: _probe_id(c))
def test_consistency_probe(c: dict[str, Any]) -> None:
    args = (c["size1"], c["size2"], _proof(c["proof"]), _h(c["root1"]), _h(c["root2"]))
    want_error = _policy_rejects(c) if "policy_note" in c else c["want_error"]
    if "policy_note" in c:
        assert c["size1"] == 0
    if not want_error:
        verify_consistency(*args)
        return
    with pytest.raises(ProofError) as info:
        verify_consistency(*args)
    assert not isinstance(info.value, RootMismatchError)


def test_probe_counts_and_policy_departures() -> None:
    assert len(PROBES["inclusion"]) + len(PROBES["consistency"]) == 196
    policy = [c for c in PROBES["consistency"] if "policy_note" in c]
    accepted = [c["desc"] for c in policy if not _policy_rejects(c)]
    assert len(policy) == 9
    # The one probe our size-0 policy accepts: empty old tree, empty proof (C2SP tlog-witness).
    assert accepted == ["size1 is zero and size2 is not zero"]


# --- size 0, equal sizes, limits ------------------------------------------------------------


def test_consistency_from_empty_tree_needs_empty_proof_and_empty_root() -> None:
    r5 = ref_root(LEAVES[:5])
    verify_consistency(0, 5, [], EMPTY_ROOT, r5)
    verify_consistency(0, 0, [], EMPTY_ROOT, EMPTY_ROOT)
    with pytest.raises(ProofError, match="empty"):
        verify_consistency(0, 5, [r5], EMPTY_ROOT, r5)
    with pytest.raises(ConsistencyError, match=EMPTY_ROOT.hex()):
        verify_consistency(0, 5, [], r5, r5)
    with pytest.raises(ConsistencyError):
        verify_consistency(0, 0, [], EMPTY_ROOT, r5)


def test_equal_sizes_need_empty_proof_and_equal_roots() -> None:
    r5, r6 = ref_root(LEAVES[:5]), ref_root(LEAVES[:6])
    verify_consistency(5, 5, [], r5, r5)
    with pytest.raises(ProofError, match="empty"):
        verify_consistency(5, 5, [r5], r5, r5)
    with pytest.raises(ConsistencyError, match=f"{r5.hex()} and {r6.hex()}"):
        verify_consistency(5, 5, [], r5, r6)


def test_shrinking_tree_is_refused_as_proof_error() -> None:
    with pytest.raises(ProofError, match="larger"):
        verify_consistency(6, 5, [], ref_root(LEAVES[:6]), ref_root(LEAVES[:5]))


def test_empty_tree_has_no_leaf_to_include() -> None:
    with pytest.raises(ProofError, match="outside"):
        verify_inclusion(LEAVES[0], 0, 0, [], EMPTY_ROOT)


@pytest.mark.parametrize("bad", [-1, MAX_TREE_SIZE + 1, 2**70])
def test_sizes_and_indices_outside_uint64_are_refused(bad: int) -> None:
    with pytest.raises(ProofError, match="2\\*\\*64"):
        verify_inclusion(LEAVES[0], bad, 10, [], EMPTY_ROOT)
    with pytest.raises(ProofError, match="2\\*\\*64"):
        verify_inclusion(LEAVES[0], 0, bad, [], EMPTY_ROOT)
    with pytest.raises(ProofError, match="2\\*\\*64"):
        verify_consistency(bad, 10, [], EMPTY_ROOT, EMPTY_ROOT)
    with pytest.raises(ProofError, match="2\\*\\*64"):
        verify_consistency(1, bad, [], EMPTY_ROOT, EMPTY_ROOT)


def test_non_int_sizes_are_caller_mistakes() -> None:
    with pytest.raises(TypeError):
        verify_inclusion(LEAVES[0], True, 1, [], LEAVES[0])
    with pytest.raises(TypeError):
        verify_consistency(1, 2.0, [], LEAVES[0], LEAVES[0])  # type: ignore[arg-type]


def test_verify_errors_are_verification_errors_with_expected_and_found() -> None:
    proof = ref_path(3, LEAVES[:7])
    wrong_root = ref_root(LEAVES[:6])
    with pytest.raises(VerificationError) as info:
        verify_inclusion(LEAVES[3], 3, 7, proof, wrong_root)
    assert wrong_root.hex() in str(info.value)
    assert ref_root(LEAVES[:7]).hex() in str(info.value)
    with pytest.raises(ProofError, match="must have 3 hashes, got 2"):
        verify_inclusion(LEAVES[3], 3, 7, proof[:2], wrong_root)


def test_shape_errors_are_found_before_any_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_hashing(*_: object) -> bytes:
        raise AssertionError("hashed before checking the shape")

    monkeypatch.setattr(ledger.core.proofs, "node_hash", no_hashing)
    proof = ref_path(3, LEAVES[:7])
    for bad in (proof[:-1], [*proof, proof[0]], [proof[0][:31], *proof[1:]]):
        with pytest.raises(ProofError):
            verify_inclusion(LEAVES[3], 3, 7, bad, EMPTY_ROOT)
    with pytest.raises(ProofError):
        verify_inclusion(LEAVES[3][:31], 3, 7, proof, EMPTY_ROOT)
    cproof = ref_proof(3, LEAVES[:7])
    for bad in (cproof[:-1], [*cproof, cproof[0]], [cproof[0] + b"\x00", *cproof[1:]]):
        with pytest.raises(ProofError):
            verify_consistency(3, 7, bad, EMPTY_ROOT, EMPTY_ROOT)


# --- the oracle's proofs verify; every mutant is rejected -----------------------------------


@st.composite
def inclusion_case(draw: Callable[..., Any], max_size: int = 300) -> tuple[int, int]:
    size = draw(st.integers(min_value=1, max_value=max_size))
    return draw(st.integers(min_value=0, max_value=size - 1)), size


@st.composite
def consistency_case(draw: Callable[..., Any], max_size: int = 300) -> tuple[int, int]:
    size2 = draw(st.integers(min_value=2, max_value=max_size))
    return draw(st.integers(min_value=1, max_value=size2 - 1)), size2


def _flip(data: bytes, bit: int) -> bytes:
    bit %= len(data) * 8
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


BIT = st.integers(min_value=0, max_value=255)


def test_inclusion_proof_lengths_match_reference_for_every_leaf_of_small_trees() -> None:
    for size in range(1, 70):
        for index in range(size):
            assert inclusion_proof_length(index, size) == len(ref_path(index, LEAVES[:size]))


def test_consistency_proof_lengths_match_reference_for_every_pair_of_small_trees() -> None:
    for size2 in range(2, 70):
        for size1 in range(1, size2):
            assert consistency_proof_length(size1, size2) == len(ref_proof(size1, LEAVES[:size2]))


@settings(max_examples=150, deadline=None)
@given(inclusion_case(), BIT, BIT, st.data())
def test_inclusion_mutants_are_rejected(
    case: tuple[int, int], bit: int, which: int, data: st.DataObject
) -> None:
    index, size = case
    leaves = LEAVES[:size]
    proof, good_root, leaf = ref_path(index, leaves), ref_root(leaves), leaves[index]
    verify_inclusion(leaf, index, size, proof, good_root)
    # Single-bit flips in the leaf, the root or one proof hash.
    with pytest.raises(RootMismatchError):
        verify_inclusion(_flip(leaf, bit), index, size, proof, good_root)
    with pytest.raises(RootMismatchError):
        verify_inclusion(leaf, index, size, proof, _flip(good_root, bit))
    if proof:
        i = which % len(proof)
        bad = [*proof[:i], _flip(proof[i], bit), *proof[i + 1 :]]
        with pytest.raises(RootMismatchError):
            verify_inclusion(leaf, index, size, bad, good_root)
        with pytest.raises(ProofError):  # truncated
            verify_inclusion(leaf, index, size, proof[:-1], good_root)
    with pytest.raises(ProofError):  # extended
        verify_inclusion(leaf, index, size, [*proof, good_root], good_root)
    # The leaf claimed at another index, or in a tree of another size (with that tree's root).
    other = data.draw(st.integers(min_value=0, max_value=size).filter(lambda j: j != index))
    with pytest.raises(ProofError):
        verify_inclusion(leaf, other, size, proof, good_root)
    other_size = data.draw(
        st.integers(min_value=1, max_value=size + 40).filter(lambda n: n != size)
    )
    with pytest.raises(ProofError):
        verify_inclusion(leaf, index, other_size, proof, ref_root(LEAVES[:other_size]))


@settings(max_examples=150, deadline=None)
@given(consistency_case(), BIT, BIT, st.data())
def test_consistency_mutants_are_rejected(
    case: tuple[int, int], bit: int, which: int, data: st.DataObject
) -> None:
    size1, size2 = case
    proof = ref_proof(size1, LEAVES[:size2])
    root1, root2 = ref_root(LEAVES[:size1]), ref_root(LEAVES[:size2])
    verify_consistency(size1, size2, proof, root1, root2)
    with pytest.raises(ConsistencyError):
        verify_consistency(size1, size2, proof, _flip(root1, bit), root2)
    with pytest.raises(ConsistencyError):
        verify_consistency(size1, size2, proof, root1, _flip(root2, bit))
    i = which % len(proof)
    bad = [*proof[:i], _flip(proof[i], bit), *proof[i + 1 :]]
    with pytest.raises(ConsistencyError):
        verify_consistency(size1, size2, bad, root1, root2)
    with pytest.raises(ProofError):
        verify_consistency(size1, size2, proof[:-1], root1, root2)
    with pytest.raises(ProofError):
        verify_consistency(size1, size2, [*proof, root2], root1, root2)
    # Another old or new size, each with its true root: the proof proves nothing about them.
    s1 = data.draw(st.integers(min_value=1, max_value=size2).filter(lambda n: n != size1))
    with pytest.raises(ProofError):
        verify_consistency(s1, size2, proof, ref_root(LEAVES[:s1]), root2)
    s2 = data.draw(st.integers(min_value=size1, max_value=size2 + 40).filter(lambda n: n != size2))
    with pytest.raises(ProofError):
        verify_consistency(size1, s2, proof, root1, ref_root(LEAVES[:s2]))


@settings(max_examples=40, deadline=None)
@given(inclusion_case(1100), consistency_case(1100))
def test_reference_proofs_of_larger_trees_verify(
    inc: tuple[int, int], con: tuple[int, int]
) -> None:
    index, size = inc
    verify_inclusion(
        LEAVES[index], index, size, ref_path(index, LEAVES[:size]), ref_root(LEAVES[:size])
    )
    size1, size2 = con
    verify_consistency(
        size1,
        size2,
        ref_proof(size1, LEAVES[:size2]),
        ref_root(LEAVES[:size1]),
        ref_root(LEAVES[:size2]),
    )


# --- huge trees: stored-node proofs verify in O(log n) --------------------------------------


def _block_nodes() -> dict[tuple[int, int], bytes]:
    nodes = {(0, i): leaf for i, leaf in enumerate(LEAVES[:256])}
    for level in range(1, 9):
        for i in range(256 >> level):
            nodes[level, i] = node_hash(nodes[level - 1, 2 * i], nodes[level - 1, 2 * i + 1])
    return nodes


BLOCK = _block_nodes()
UPPER = [BLOCK[8, 0]]
for _ in range(64):
    UPPER.append(node_hash(UPPER[-1], UPPER[-1]))


def _synthetic_reader(reads: list[int]) -> Callable[[int, int], bytes]:
    """A real tree of any size: leaf i is LEAVES[i % 256], so every 256-leaf block is the same."""

    def read(level: int, index: int) -> bytes:
        reads[0] += 1
        if level <= 8:
            return BLOCK[level, index % (256 >> level)]
        return UPPER[level - 8]

    return read


SIZE64 = st.integers(min_value=1, max_value=MAX_TREE_SIZE)


@settings(max_examples=100, deadline=None)
@given(SIZE64, SIZE64, SIZE64)
def test_stored_node_proofs_of_huge_trees_verify(a: int, b: int, c: int) -> None:
    reads = [0]
    read = _synthetic_reader(reads)
    size = max(a, b)
    index = min(a, b) - 1
    proof = inclusion_proof_from_nodes(read, index, size)
    verify_inclusion(read(0, index), index, size, proof, root_from_nodes(read, size))
    size1, size2 = sorted((c, size))
    proof = consistency_proof_from_nodes(read, size1, size2)
    verify_consistency(
        size1, size2, proof, root_from_nodes(read, size1), root_from_nodes(read, size2)
    )
    assert reads[0] <= 8 * 64
