"""Tree maths: RFC 6962 vectors, and the fast code against the naive RFC 9162 oracle."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.core.hashing import EMPTY_ROOT
from ledger.core.merkle import (
    CompactRange,
    PerfectNode,
    consistency_proof,
    consistency_proof_from_nodes,
    inclusion_proof,
    inclusion_proof_from_nodes,
    leaf_hash,
    node_hash,
    perfect_nodes_completed_by_append,
    root,
    root_from_nodes,
)
from tests.conftest import doc_section, run_doc_examples
from tests.merkle_reference import ref_leaf_hash, ref_path, ref_proof, ref_root

SMALL = 300
LARGE = 3000
LEAVES = [ref_leaf_hash(i.to_bytes(4, "big")) for i in range(LARGE)]


def _all_nodes(leaf_hashes: list[bytes]) -> dict[tuple[int, int], bytes]:
    rng = CompactRange()
    nodes: dict[tuple[int, int], bytes] = {}
    for h in leaf_hashes:
        for node in rng.append_nodes(h):
            nodes[node.level, node.position] = node.hash
    return nodes


NODES = _all_nodes(LEAVES)


class CountingReader:
    """A NodeReader over stored nodes: refuses nodes beyond the tree, counts reads."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.reads = 0

    def __call__(self, level: int, index: int) -> bytes:
        if (index + 1) << level > self.size:
            raise AssertionError(f"read of ({level}, {index}) beyond tree size {self.size}")
        self.reads += 1
        return NODES[level, index]


def _log_bound(size: int) -> int:
    return 2 * size.bit_length() + 2


def _h(s: str) -> bytes:
    return bytes.fromhex(s)


# --- RFC 6962 vectors -------------------------------------------------------------------------


def test_hash_primitives_match_rfc6962(spec_vectors: dict[str, Any]) -> None:
    cases = spec_vectors["rfc6962"]["hash_primitives"]
    assert len(cases) == 7
    for case in cases:
        if "leaf_input_hex" in case:
            got = leaf_hash(_h(case["leaf_input_hex"]))
        elif "left_hex" in case:
            got = node_hash(_h(case["left_hex"]), _h(case["right_hex"]))
        else:
            got = root([])
        assert got.hex() == case["want"], case["desc"]
    assert EMPTY_ROOT.hex() == spec_vectors["rfc6962"]["empty_root"]


def _rfc_leaves(spec_vectors: dict[str, Any]) -> list[bytes]:
    v = spec_vectors["rfc6962"]
    leaves = [leaf_hash(_h(x)) for x in v["leaves_hex"]]
    assert [h.hex() for h in leaves] == v["leaf_hashes"]
    return leaves


def test_roots_by_size_match_rfc6962(spec_vectors: dict[str, Any]) -> None:
    leaves = _rfc_leaves(spec_vectors)
    want = spec_vectors["rfc6962"]["roots_by_size"]
    assert len(want) == 9
    rng = CompactRange()
    nodes: dict[tuple[int, int], bytes] = {}
    for size in range(9):
        assert root(leaves[:size]).hex() == want[str(size)]
        assert rng.root().hex() == want[str(size)]
        assert root_from_nodes(lambda lv, ix: nodes[lv, ix], size).hex() == want[str(size)]
        if size < 8:
            nodes.update({(n.level, n.position): n.hash for n in rng.append_nodes(leaves[size])})


def test_node_hashes_by_level_match_rfc6962(spec_vectors: dict[str, Any]) -> None:
    leaves = _rfc_leaves(spec_vectors)
    by_level = spec_vectors["rfc6962"]["node_hashes_by_level"]
    nodes = _all_nodes(leaves)
    checked = 0
    for level, row in enumerate(by_level):
        for index, want in enumerate(row):
            assert nodes[level, index].hex() == want
            checked += 1
    assert checked == len(nodes) == 15


def test_inclusion_proofs_match_rfc6962(spec_vectors: dict[str, Any]) -> None:
    leaves = _rfc_leaves(spec_vectors)
    nodes = _all_nodes(leaves)
    cases = spec_vectors["rfc6962"]["inclusion"]
    assert len(cases) == 5
    for c in cases:
        want = c["proof"]
        got = inclusion_proof(leaves, c["leaf_index"], c["tree_size"])
        assert [p.hex() for p in got] == want
        got = inclusion_proof_from_nodes(
            lambda lv, ix: nodes[lv, ix], c["leaf_index"], c["tree_size"]
        )
        assert [p.hex() for p in got] == want


def test_consistency_proofs_match_rfc6962(spec_vectors: dict[str, Any]) -> None:
    leaves = _rfc_leaves(spec_vectors)
    nodes = _all_nodes(leaves)
    cases = spec_vectors["rfc6962"]["consistency"]
    assert len(cases) == 5
    for c in cases:
        want = c["proof"]
        got = consistency_proof(leaves, c["size1"], c["size2"])
        assert [p.hex() for p in got] == want
        got = consistency_proof_from_nodes(lambda lv, ix: nodes[lv, ix], c["size1"], c["size2"])
        assert [p.hex() for p in got] == want


# --- the oracle: roots ----------------------------------------------------------------------


def test_root_matches_reference_for_every_size_up_to_300() -> None:
    rng = CompactRange()
    for size in range(SMALL + 1):
        want = ref_root(LEAVES[:size])
        assert root(LEAVES[:size]) == want, size
        assert rng.root() == want, size
        reader = CountingReader(size)
        assert root_from_nodes(reader, size) == want, size
        assert reader.reads == size.bit_count()
        if size < SMALL:
            rng.append(LEAVES[size])


def test_stored_perfect_nodes_are_the_reference_subtree_roots() -> None:
    for (level, index), h in NODES.items():
        if (index + 1) << level <= SMALL or level >= 8:
            assert h == ref_root(LEAVES[index << level : (index + 1) << level])


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=SMALL + 1, max_value=LARGE))
def test_root_matches_reference_for_larger_sizes(size: int) -> None:
    want = ref_root(LEAVES[:size])
    assert root(LEAVES[:size]) == want
    assert root_from_nodes(CountingReader(size), size) == want
    rng = CompactRange()
    rng.append_many(LEAVES[:size])
    assert rng.root() == want


# --- the oracle: proofs ---------------------------------------------------------------------


@st.composite
def index_and_size(draw: Callable[..., Any], max_size: int) -> tuple[int, int]:
    size = draw(st.integers(min_value=1, max_value=max_size))
    index = draw(st.integers(min_value=0, max_value=size - 1))
    return index, size


@st.composite
def two_sizes(draw: Callable[..., Any], max_size: int) -> tuple[int, int]:
    size2 = draw(st.integers(min_value=0, max_value=max_size))
    size1 = draw(st.integers(min_value=0, max_value=size2))
    return size1, size2


def _check_inclusion(index: int, size: int) -> None:
    want = ref_path(index, LEAVES[:size])
    assert inclusion_proof(LEAVES, index, size) == want
    reader = CountingReader(size)
    assert inclusion_proof_from_nodes(reader, index, size) == want
    assert reader.reads <= _log_bound(size)


def _check_consistency(size1: int, size2: int) -> None:
    want = ref_proof(size1, LEAVES[:size2]) if 0 < size1 < size2 else []
    assert consistency_proof(LEAVES, size1, size2) == want
    reader = CountingReader(size2)
    assert consistency_proof_from_nodes(reader, size1, size2) == want
    assert reader.reads <= _log_bound(size2)


def test_inclusion_proofs_match_reference_for_every_leaf_of_small_trees() -> None:
    for size in range(1, 34):
        for index in range(size):
            _check_inclusion(index, size)


def test_consistency_proofs_match_reference_for_every_pair_of_small_trees() -> None:
    for size2 in range(34):
        for size1 in range(size2 + 1):
            _check_consistency(size1, size2)


@settings(max_examples=300, deadline=None)
@given(index_and_size(SMALL))
def test_inclusion_proofs_match_reference_up_to_300(case: tuple[int, int]) -> None:
    _check_inclusion(*case)


@settings(max_examples=300, deadline=None)
@given(two_sizes(SMALL))
def test_consistency_proofs_match_reference_up_to_300(case: tuple[int, int]) -> None:
    _check_consistency(*case)


@settings(max_examples=40, deadline=None)
@given(index_and_size(LARGE))
def test_inclusion_proofs_match_reference_for_larger_trees(case: tuple[int, int]) -> None:
    _check_inclusion(*case)


@settings(max_examples=40, deadline=None)
@given(two_sizes(LARGE))
def test_consistency_proofs_match_reference_for_larger_trees(case: tuple[int, int]) -> None:
    _check_consistency(*case)


def test_consistency_proof_from_size_zero_is_empty() -> None:
    assert consistency_proof(LEAVES, 0, 0) == []
    assert consistency_proof(LEAVES, 0, 17) == []
    assert consistency_proof(LEAVES, 17, 17) == []


# --- the compact range ----------------------------------------------------------------------


def test_compact_range_frontier_is_the_perfect_subtrees_largest_first() -> None:
    rng = CompactRange()
    for size in range(SMALL + 1):
        want, start = [], 0
        for level in range(size.bit_length() - 1, -1, -1):
            if size >> level & 1:
                want.append(ref_root(LEAVES[start : start + (1 << level)]))
                start += 1 << level
        assert rng.hashes == tuple(want)
        assert rng.size == size
        if size < SMALL:
            rng.append(LEAVES[size])


def test_append_nodes_reports_exactly_the_completed_perfect_subtrees() -> None:
    rng = CompactRange()
    for size in range(SMALL):
        nodes = rng.append_nodes(LEAVES[size])
        assert [(n.level, n.position) for n in nodes] == perfect_nodes_completed_by_append(size)
        for n in nodes:
            assert isinstance(n, PerfectNode)
            assert n.hash == ref_root(LEAVES[n.position << n.level : (n.position + 1) << n.level])
    assert perfect_nodes_completed_by_append(7) == [(0, 7), (1, 3), (2, 1), (3, 0)]


def test_compact_range_state_round_trips_and_resumes() -> None:
    rng = CompactRange()
    rng.append_many(LEAVES[:123])
    resumed = CompactRange.from_state(rng.size, rng.hashes)
    assert resumed == rng
    copy = rng.copy()
    resumed.append_many(LEAVES[123:200])
    assert resumed.root() == ref_root(LEAVES[:200])
    assert copy == rng != resumed
    assert rng.root() == ref_root(LEAVES[:123])
    assert "size=123" in repr(rng)


def test_empty_compact_range_has_the_empty_root() -> None:
    rng = CompactRange.from_state(0, ())
    assert rng.root() == EMPTY_ROOT
    assert rng.hashes == ()


@pytest.mark.parametrize(
    ("size", "hashes"),
    [
        (3, [LEAVES[0]]),  # popcount(3) = 2 hashes needed
        (4, [LEAVES[0], LEAVES[1]]),
        (0, [LEAVES[0]]),
        (1, [LEAVES[0][:31]]),
        (1, [LEAVES[0] + b"\x00"]),
        (-1, []),
    ],
)
def test_compact_range_state_with_wrong_shape_is_refused(size: int, hashes: list[bytes]) -> None:
    with pytest.raises(ValueError, match=r"frontier|non-negative"):
        CompactRange.from_state(size, hashes)


def test_compact_range_refuses_leaf_hashes_that_are_not_32_bytes() -> None:
    rng = CompactRange()
    with pytest.raises(ValueError, match="32"):
        rng.append(b"\x00" * 31)
    with pytest.raises(ValueError, match="32"):
        rng.append_nodes(b"\x00" * 33)
    assert rng.size == 0


# --- caller mistakes ------------------------------------------------------------------------


def test_proof_construction_refuses_bad_arguments() -> None:
    with pytest.raises(ValueError, match="outside"):
        inclusion_proof(LEAVES, 5, 5)
    with pytest.raises(ValueError, match="exceeds"):
        inclusion_proof(LEAVES[:4], 0, 5)
    with pytest.raises(ValueError, match="larger"):
        consistency_proof(LEAVES, 6, 5)
    with pytest.raises(ValueError, match="non-negative"):
        inclusion_proof(LEAVES, -1, 5)
    with pytest.raises(ValueError, match="32"):
        root([LEAVES[0], b"short"])
    with pytest.raises(TypeError):
        inclusion_proof(LEAVES, True, 5)
    with pytest.raises(TypeError):
        root_from_nodes(CountingReader(4), 4.0)  # type: ignore[arg-type]


# --- the docs' examples run -------------------------------------------------------------------

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_api_doc_examples_run() -> None:
    failures, tried = run_doc_examples("api.md", "`ledger.core.merkle`")
    assert tried > 20
    assert failures == 0


def test_spec_example_values_are_what_the_code_computes() -> None:
    text = doc_section("spec.md", "Merkle tree hashing")
    block = text.split("### Example", 1)[1].split("```", 2)[1]
    values = {}
    for line in block.strip().splitlines():
        name, _, value = line.rpartition(" ")
        values[name.strip()] = value
    leaves = [leaf_hash(b""), leaf_hash(b"\x00"), leaf_hash(b"\x10")]
    assert [values[f"leaf hash {i}"] for i in range(3)] == [h.hex() for h in leaves]
    assert values["root of size 0"] == root([]).hex()
    assert values["root of size 2"] == root(leaves[:2]).hex()
    assert values["root of size 3"] == root(leaves).hex()
    assert [values["inclusion of 2 in 3"]] == [p.hex() for p in inclusion_proof(leaves, 2, 3)]
    assert [values["consistency 2 -> 3"]] == [p.hex() for p in consistency_proof(leaves, 2, 3)]
