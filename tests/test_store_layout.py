"""The store's row layout (format 2), pure: the tree rows a batch adds, node keys, lookup keys."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.core.hashing import leaf_hash
from ledger.core.merkle import CompactRange, root
from ledger.errors import StoreCorruptError
from ledger.store import layout as store_layout
from ledger.store.layout import (
    LookupKey,
    NewEntries,
    NewEntry,
    as_columns,
    batch_rows,
    completed_subtrees,
    from_u64,
    lookup_epochs,
    lookup_query,
    node_in,
    node_key,
    u64,
)


def leaves(start: int, count: int) -> list[bytes]:
    return [leaf_hash(b"leaf %d" % i) for i in range(start, start + count)]


@settings(max_examples=40, deadline=None)
@given(size=st.integers(min_value=0, max_value=300), count=st.integers(min_value=0, max_value=70))
def test_each_leaf_row_holds_exactly_the_subtrees_it_completes(size: int, count: int) -> None:
    before, batch = leaves(0, size), leaves(size, count)
    tree = CompactRange()
    tree.append_many(before)
    frontier = list(tree.hashes)
    rows = completed_subtrees(frontier, size, batch)
    everything = before + batch
    reference = tree.copy()
    for index, value in enumerate(rows, size):
        expected = [node.hash for node in reference.append_nodes(everything[index])]
        assert value == b"".join(expected)
        for level in range(len(expected)):  # the node it stores at each level, where it is read
            first = (index + 1 - (1 << level))
            assert node_key(level, first >> level) == u64(index)
            assert node_in(value, level) == root(everything[first:index + 1])
    tree.append_many(batch)
    assert frontier == list(tree.hashes)


def _frontier(hashes: list[bytes], size: int) -> tuple[bytes, ...]:
    tree = CompactRange()
    tree.append_many(hashes[:size])
    return tree.hashes


def test_a_node_past_its_record_is_not_there() -> None:
    assert node_in(None, 0) is None
    assert node_in(bytes(32), 1) is None
    assert node_in(bytes(64), 1) == bytes(32)


def test_batch_rows_are_in_key_order_and_refuse_a_short_leaf_hash() -> None:
    entries = [NewEntry(data=b"d%d" % i, leaf_hash=leaf_hash(b"d%d" % i),
                        lookup=(LookupKey(station=f"AB-{9 - i}", kind="turnout"),),
                        block=7 if i == 4 else None) for i in range(5)]
    rows = batch_rows(10, as_columns(tuple(entries)), list(_frontier(leaves(0, 10), 10)))
    for table in rows:
        assert [key for key, _ in table] == sorted(key for key, _ in table)
    assert [from_u64(key) for key, _ in rows.entries] == list(range(10, 15))
    assert rows.blocks == [(u64(7), u64(14))]
    with pytest.raises(ValueError, match="32 bytes"):
        batch_rows(0, as_columns((NewEntry(data=b"x", leaf_hash=b"short"),)), [])


@settings(max_examples=30, deadline=None)
@given(size=st.integers(min_value=0, max_value=9000), count=st.integers(min_value=0, max_value=40),
       blocks=st.booleans())
def test_a_batch_by_column_makes_the_rows_of_the_same_entries_one_by_one(
    size: int, count: int, blocks: bool
) -> None:
    entries = tuple(NewEntry(data=b"d%d" % i, leaf_hash=leaf_hash(b"d%d" % i),
                             lookup=tuple(LookupKey(f"AB-{i % 7}", "report", f"C{j}")
                                          for j in range(i % 3)),
                             block=i if blocks and i % 5 == 0 else None)
                    for i in range(size, size + count))
    columns = NewEntries(data=[e.data for e in entries], leaf_hashes=[e.leaf_hash for e in entries],
                         lookup=[e.lookup for e in entries],
                         blocks=[e.block for e in entries] if blocks else ())
    frontier = list(_frontier(leaves(0, size), size)) if size <= 300 else \
        [leaf_hash(b"f%d" % i) for i in range(size.bit_count())]
    one_by_one = batch_rows(size, as_columns(entries), list(frontier))
    assert batch_rows(size, as_columns(columns), list(frontier)) == one_by_one
    assert len(one_by_one.lookup) == sum(len(e.lookup) for e in entries)


def test_a_batch_by_column_with_columns_of_different_lengths_is_refused() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        as_columns(NewEntries(data=[b"a", b"b"], leaf_hashes=[leaf_hash(b"a")], lookup=[(), ()]))
    with pytest.raises(ValueError, match="differ in length"):
        as_columns(NewEntries(data=[b"a"], leaf_hashes=[leaf_hash(b"a")], lookup=[()],
                              blocks=[None, 3]))


def test_lookup_keys_group_by_epoch_then_subject() -> None:
    assert lookup_epochs(0) == []
    assert len(lookup_epochs(4096)) == 1
    assert len(lookup_epochs(4097)) == 2
    assert lookup_query("AB-1", "report", "PRSD") == LookupKey("AB-1", "report", "PRSD").prefix()
    assert LookupKey("AB-1", "turnout").prefix().startswith(lookup_query("AB-1", None, None))
    with pytest.raises(ValueError, match="needs a kind"):
        lookup_query("AB-1", None, "PRSD")
    with pytest.raises(ValueError, match="65,535"):
        LookupKey("x" * 70_000, "turnout").prefix()


def test_a_stored_integer_of_the_wrong_length_is_corruption() -> None:
    assert from_u64(u64(2**40)) == 2**40
    with pytest.raises(StoreCorruptError):
        from_u64(b"\x00" * 7)


def test_the_cache_of_encoded_subjects_stays_bounded_and_right(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_layout, "_PREFIX_CACHE", 3)
    monkeypatch.setattr(store_layout, "_PREFIXES", {})
    subjects = [LookupKey(f"AB-{i % 11}", "report", f"C{i % 2}") for i in range(60)]
    for start in range(0, 60, 7):
        batch = subjects[start:start + 7]
        assert store_layout._subject_prefixes(batch) == [s.prefix() for s in batch]
        assert len(store_layout._PREFIXES) <= 3 + len(batch)
