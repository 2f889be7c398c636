"""The LMDB store: durable appends, node hashes for proofs, locking, map growth, full disks."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from ledger.core.hashing import EMPTY_ROOT, leaf_hash, node_hash
from ledger.core.merkle import (
    consistency_proof,
    consistency_proof_from_nodes,
    inclusion_proof,
    inclusion_proof_from_nodes,
)
from ledger.errors import StoreCorruptError, StoreError, StoreLockedError
from ledger.store import layout as store_layout
from ledger.store import store as store_module
from ledger.store.store import Commit, LookupKey, NewEntries, NewEntry, Store

ROOT = Path(__file__).resolve().parent.parent


def reference_root(leaves: list[bytes]) -> bytes:
    """RFC 9162 2.1.1 MTH, written the slow obvious way."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return node_hash(reference_root(leaves[:k]), reference_root(leaves[k:]))


def new_entries(start: int, count: int, *, tag: bytes = b"e") -> tuple[NewEntry, ...]:
    out = []
    for i in range(start, start + count):
        data = tag + str(i).encode()
        out.append(NewEntry(data=data, leaf_hash=leaf_hash(data),
                            lookup=(LookupKey(station=f"AB-{i % 3}", kind="turnout"),)))
    return tuple(out)


def fill(store: Store, count: int, *, batch: int = 100) -> None:
    size = store.size()
    while count > 0:
        n = min(batch, count)
        store.commit(Commit(size=size, entries=new_entries(size, n)))
        size, count = size + n, count - n


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.create(tmp_path / "ledger", {"origin": b"example.org/test"})
    yield s
    s.close()


def test_new_store_is_empty_with_the_empty_root(store: Store) -> None:
    assert store.size() == 0
    assert store.root() == EMPTY_ROOT
    assert store.meta("origin") == b"example.org/test"
    assert store.latest_checkpoint() is None
    assert store.block_count() == 0


@settings(max_examples=25, deadline=None)
@given(batches=st.lists(st.integers(min_value=0, max_value=40), min_size=1, max_size=6))
def test_root_from_stored_nodes_matches_reference_at_every_size(
    tmp_path_factory: pytest.TempPathFactory, batches: list[int]
) -> None:
    with Store.create(tmp_path_factory.mktemp("s") / "l", {}) as store:
        leaves: list[bytes] = []
        for n in batches:
            entries = new_entries(len(leaves), n)
            store.commit(Commit(size=len(leaves), entries=entries))
            leaves += [e.leaf_hash for e in entries]
        for size in range(len(leaves) + 1):
            assert store.root(size) == reference_root(leaves[:size])


def test_node_reader_refuses_nodes_outside_the_tree(store: Store) -> None:
    fill(store, 6)
    read = store.node_reader(5)
    assert read(2, 0) == reference_root([leaf_hash(b"e%d" % i) for i in range(4)])
    assert read(0, 4) == leaf_hash(b"e4")
    with pytest.raises(ValueError, match="not inside"):
        read(1, 2)  # leaves 4..5: past size 5
    with pytest.raises(ValueError, match="beyond"):
        store.node_reader(7)


def test_commit_at_the_wrong_size_writes_nothing(store: Store) -> None:
    fill(store, 3)
    with pytest.raises(ValueError, match="starts at 2"):
        store.commit(Commit(size=2, entries=new_entries(2, 1)))
    assert store.size() == 3


def test_a_block_height_already_stored_refuses_the_whole_batch(store: Store) -> None:
    fill(store, 3)
    block = NewEntry(data=b"block0", leaf_hash=leaf_hash(b"block0"), block=0)
    store.commit(Commit(size=3, entries=(block,), checkpoint=b"cp0"))
    again = NewEntry(data=b"block0'", leaf_hash=leaf_hash(b"block0'"), block=0)
    with pytest.raises(ValueError, match="block at or before 0 is already stored"):
        store.commit(Commit(size=4, entries=(*new_entries(4, 2), again), checkpoint=b"cp0'"))
    assert store.size() == 4
    assert store.checkpoint(0) == b"cp0"
    fill(store, 1)  # the writer's frontier was left as it was
    assert store.root() == reference_root([leaf_hash(e) for e in store.iter_entries()])


def test_wrong_expected_root_aborts_the_commit(store: Store) -> None:
    with pytest.raises(StoreCorruptError, match="root"):
        store.commit(Commit(size=0, entries=new_entries(0, 2), root=b"\x00" * 32))
    assert store.size() == 0
    entries = new_entries(0, 2)
    store.commit(Commit(size=0, entries=entries,
                        root=reference_root([e.leaf_hash for e in entries])))
    assert store.size() == 2


def test_blocks_checkpoints_and_state_commit_together(store: Store) -> None:
    block = NewEntry(data=b"block0", leaf_hash=leaf_hash(b"block0"), block=0)
    with pytest.raises(ValueError, match="block entry"):
        store.commit(Commit(size=0, entries=new_entries(0, 1), checkpoint=b"cp"))
    store.commit(Commit(size=0, entries=(*new_entries(0, 2), block), state=b"S1",
                        checkpoint=b"cp0"))
    assert store.block_count() == 1
    assert store.block_index(0) == 2
    assert store.checkpoint(0) == b"cp0"
    assert store.latest_checkpoint() == (0, b"cp0")
    assert store.snapshot() == (3, b"S1", (0, b"cp0"))
    with pytest.raises(IndexError):
        store.checkpoint(1)
    with pytest.raises(IndexError):
        store.block_index(1)
    assert list(store.iter_blocks()) == [(0, 2)]


def test_lookup_by_station_kind_and_category(store: Store) -> None:
    e = NewEntry(data=b"r", leaf_hash=leaf_hash(b"r"),
                 lookup=(LookupKey(station="AB-1", kind="report", category="PRSD"),))
    store.commit(Commit(size=0, entries=(*new_entries(0, 6), e)))
    assert store.lookup("AB-1") == [1, 4, 6]
    assert store.lookup("AB-1", "turnout") == [1, 4]
    assert store.lookup("AB-1", "report", "PRSD") == [6]
    assert store.lookup("AB-1", "report", "PRSD_C") == []
    assert store.lookup("AB-11") == []
    with pytest.raises(ValueError, match="needs a kind"):
        store.lookup("AB-1", category="PRSD")


def test_entries_iterate_in_chunks_and_bounds_are_checked(store: Store) -> None:
    fill(store, 9000, batch=3000)
    got = list(store.iter_entries(10, 8500))
    assert len(got) == 8490
    assert got[0] == b"e10"
    assert got[-1] == b"e8499"
    assert store.entry(8999) == b"e8999"
    with pytest.raises(IndexError):
        store.entry(9000)
    with pytest.raises(ValueError, match="range"):
        list(store.iter_entries(5, 9001 - 9002 + 4))


def test_reopen_keeps_everything(tmp_path: Path) -> None:
    path = tmp_path / "l"
    with Store.create(path, {"origin": b"o"}) as s:
        fill(s, 250)
        root = s.root()
    with Store(path) as s:
        assert s.size() == 250
        assert s.root() == root
        assert s.meta("origin") == b"o"


def test_second_writer_is_refused_naming_the_holder(store: Store) -> None:
    with pytest.raises(StoreLockedError, match=f"pid {os.getpid()} on host"):
        Store(store.path, write=True)
    reader = Store(store.path)  # readers are never refused
    assert reader.size() == 0
    with pytest.raises(StoreError, match="read-only"):
        reader.commit(Commit(size=0))
    reader.close()


def test_second_writing_process_is_refused_naming_the_holder(store: Store) -> None:
    code = f"""
        from ledger.store.store import Store
        from ledger.errors import StoreLockedError
        try:
            Store({str(store.path)!r}, write=True)
        except StoreLockedError as e:
            print(e)
    """
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT,
                         capture_output=True, text=True, timeout=60, check=True)
    assert f"pid {os.getpid()}" in out.stdout


def test_lock_is_released_on_close(tmp_path: Path) -> None:
    s = Store.create(tmp_path / "l", {})
    s.close()
    s.close()
    Store(tmp_path / "l", write=True).close()


def test_reader_in_another_process_sees_consistent_snapshots(store: Store) -> None:
    code = f"""
        import sys
        from ledger.store.store import Store
        s = Store({str(store.path)!r})
        seen = set()
        while len(seen) < 5:
            size, _state, latest = s.snapshot()
            leaves = [__import__("ledger.core.hashing").core.hashing.leaf_hash(e)
                      for e in s.iter_entries(0, size)]
            assert len(leaves) == size
            from tests.test_store import reference_root
            assert s.root(size) == reference_root(leaves), size
            seen.add(size)
            if size >= 400:
                break
        print("ok", len(seen))
    """
    child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for _ in range(40):
        fill(store, 10, batch=10)
    out, err = child.communicate(timeout=120)
    assert child.returncode == 0, err
    assert out.startswith("ok")


def test_map_grows_by_itself(tmp_path: Path) -> None:
    with Store.create(tmp_path / "l", {}, map_size=256 << 10) as s:
        s.commit(Commit(size=0, entries=tuple(
            NewEntry(data=bytes([i % 256]) * 2000 + str(i).encode(),
                     leaf_hash=leaf_hash(str(i).encode())) for i in range(600))))
        assert s.size() == 600


def test_map_at_its_cap_is_a_store_error_and_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "l"
    with Store.create(path, {}, map_size=256 << 10, max_map_size=512 << 10) as s:
        fill(s, 50)
        root = s.root()
        big = tuple(NewEntry(data=b"x" * 5000 + str(i).encode(),
                             leaf_hash=leaf_hash(b"big%d" % i)) for i in range(200))
        with pytest.raises(StoreError, match="full"):
            s.commit(Commit(size=50, entries=big))
        assert s.size() == 50
    with Store(path) as s:
        assert s.size() == 50
        assert s.root() == root


def test_full_disk_is_a_store_error_and_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "l"
    code = f"""
        import resource, signal
        from ledger.errors import StoreError
        from tests.test_store import fill
        from ledger.store.store import Store
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        s = Store.create({str(path)!r}, {{}})
        resource.setrlimit(resource.RLIMIT_FSIZE,
                           (1 << 20, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
        try:
            for _ in range(10000):
                fill(s, 500, batch=500)
                print(s.size(), flush=True)
        except StoreError as e:
            print("StoreError", e, flush=True)
    """
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT,
                         capture_output=True, text=True, timeout=120, check=True).stdout
    lines = out.splitlines()
    assert lines[-1].startswith("StoreError")
    committed = int(lines[-2])
    with Store(path) as s:
        assert s.size() == committed
        leaves = [leaf_hash(e) for e in s.iter_entries()]
        assert s.root() == reference_root(leaves)


def test_not_a_ledger_directory_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="not a ledger"):
        Store(tmp_path)
    with pytest.raises(StoreError, match="not a ledger"):
        Store(tmp_path / "missing")


def test_create_refuses_a_non_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "x").write_text("hello")
    with pytest.raises(StoreError, match="not an empty directory"):
        Store.create(tmp_path, {})


def test_garbage_data_file_is_reported_as_corrupt(tmp_path: Path) -> None:
    (tmp_path / "data.mdb").write_bytes(b"\x42" * 16384)
    with pytest.raises(StoreCorruptError):
        Store(tmp_path)


def test_a_foreign_lmdb_environment_is_not_a_ledger(tmp_path: Path) -> None:
    code = f"import lmdb; e = lmdb.open({str(tmp_path)!r}); e.close()"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    with pytest.raises(StoreError, match="not an election-ledger store"):
        Store(tmp_path)


def test_meta_values_can_be_set_but_not_the_reserved_ones(store: Store) -> None:
    store.put_meta("cosigned_checkpoint", b"note")
    assert store.meta("cosigned_checkpoint") == b"note"
    with pytest.raises(ValueError, match="reserved"):
        store.put_meta("size", b"\x00" * 8)


def test_nodes_reads_a_run_of_one_level(store: Store) -> None:
    fill(store, 8)
    assert store.nodes(0, 2, 3) == [leaf_hash(b"e%d" % i) for i in (2, 3, 4)]
    assert store.nodes(1, 0, 2) == [store.node(1, 0), store.node(1, 1)]
    with pytest.raises(IndexError, match="beyond"):
        store.nodes(3, 1, 1)
    with pytest.raises(IndexError, match="beyond"):
        store.node(0, 8)


def test_create_writes_meta_and_the_first_entries_in_one_transaction(tmp_path: Path) -> None:
    entries = new_entries(0, 1)
    with Store.create(tmp_path / "l", {"origin": b"o"},
                      initial=Commit(size=0, entries=entries, state=b"S")) as s:
        assert s.snapshot() == (1, b"S", None)


def test_failed_create_leaves_no_half_made_ledger(tmp_path: Path) -> None:
    bad = Commit(size=0, entries=new_entries(0, 1), root=b"\x01" * 32)
    with pytest.raises(StoreCorruptError):
        Store.create(tmp_path / "l", {}, initial=bad)
    assert not (tmp_path / "l").exists()
    (tmp_path / "empty").mkdir()
    with pytest.raises(StoreCorruptError):
        Store.create(tmp_path / "empty", {}, initial=bad)
    assert list((tmp_path / "empty").iterdir()) == []
    Store.create(tmp_path / "empty", {}).close()


def test_killed_writer_releases_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "l"
    Store.create(path, {}).close()
    code = f"""
        import os, signal
        from ledger.store.store import Store
        s = Store({str(path)!r}, write=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, timeout=60,
                          check=False)
    assert done.returncode == -9
    Store(path, write=True).close()


def test_forked_child_does_not_keep_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "l"
    s = Store.create(path, {})
    pid = os.fork()
    if pid == 0:  # the child outlives the writer's lock, as a stray worker could
        import time

        time.sleep(3)
        os._exit(0)
    try:
        s.close()
        code = f"from ledger.store.store import Store; Store({str(path)!r}, write=True).close()"
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, timeout=60, check=True)
    finally:
        os.kill(pid, 9)
        os.waitpid(pid, 0)


# --- format 2: the tree stored by leaf, lookups by epoch, one read transaction per reader -------


def test_every_node_is_stored_with_the_leaf_that_completes_it(store: Store) -> None:
    fill(store, 8)
    leaves = [leaf_hash(b"e%d" % i) for i in range(8)]
    for level in range(4):
        width = 1 << level
        for index in range(8 >> level):
            expected = reference_root(leaves[index * width:(index + 1) * width])
            assert store.node(level, index) == expected


def test_a_node_reader_reads_a_whole_proof_in_one_transaction(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill(store, 300)
    read = store.node_reader(300)
    begun = []
    begin = Store._begin
    monkeypatch.setattr(Store, "_begin", lambda self: begun.append(1) or begin(self))
    proof = inclusion_proof_from_nodes(read, 123, 300)
    assert proof == inclusion_proof([leaf_hash(b"e%d" % i) for i in range(300)], 123, 300)
    assert len(begun) == 1
    store.close()
    with pytest.raises(StoreError, match="closed"):
        read(0, 0)


def test_a_commit_by_column_stores_what_the_same_entries_one_by_one_store(
    tmp_path: Path
) -> None:
    entries = new_entries(0, 50)
    columns = NewEntries(data=[e.data for e in entries], leaf_hashes=[e.leaf_hash for e in entries],
                         lookup=[e.lookup for e in entries])
    with Store.create(tmp_path / "a", {}) as a, Store.create(tmp_path / "b", {}) as b:
        a.commit(Commit(size=0, entries=entries))
        b.commit(Commit(size=0, entries=columns))
        for table in ("entries", "nodes", "lookup", "blocks"):
            with a.tables() as ta, b.tables() as tb:
                assert list(ta.rows(table)) == list(tb.rows(table))
        with pytest.raises(ValueError, match="checkpoint must come with the block"):
            b.commit(Commit(size=50, entries=columns._replace(blocks=[None] * 50),
                            checkpoint=b"note"))
        assert b.size() == 50


def test_lookups_span_epochs_in_index_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_layout, "LOOKUP_EPOCH_BITS", 2)  # epochs of 4 entries
    with Store.create(tmp_path / "l", {}) as s:
        fill(s, 17, batch=5)
        assert s.lookup("AB-1") == list(range(1, 17, 3))
        assert s.lookup("AB-2", "turnout", "") == list(range(2, 17, 3))
        assert s.lookup("AB-2", "report") == []


def test_a_ledger_of_an_older_store_format_is_refused_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "l"
    with Store.create(path, {}) as s, s._env.begin(write=True) as txn:  # as format 1 wrote it
        txn.put(b"format", b"election-ledger/v1 lmdb 1", db=s._dbs[b"meta"])
    with pytest.raises(StoreError, match="older version"):
        Store(path)


def test_a_missing_node_record_is_reported_as_corruption(store: Store) -> None:
    fill(store, 4)
    with store._env.begin(write=True) as txn:  # a disk edit below the API
        txn.delete((3).to_bytes(8, "big"), db=store._dbs[b"nodes"])
    with pytest.raises(StoreCorruptError, match=r"missing node \(2, 0\)"):
        store.root(4)
    with pytest.raises(StoreCorruptError, match="missing node"):
        store.node_reader(4)(1, 1)


class StoreModel(RuleBasedStateMachine):
    """Commits, failed commits and reopens against a plain list of entries (STYLE.md)."""

    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="store-model-"))
        self.store = Store.create(self.dir / "l", {})
        self.datas: list[bytes] = []
        self.blocks: list[int] = []

    def teardown(self) -> None:
        self.store.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    @rule(count=st.integers(min_value=0, max_value=40), seal=st.booleans())
    def commit(self, count: int, seal: bool) -> None:
        size = len(self.datas)
        entries = list(new_entries(size, count, tag=b"m"))
        if seal:
            data = b"block %d" % len(self.blocks)
            entries.append(NewEntry(data=data, leaf_hash=leaf_hash(data), block=len(self.blocks)))
        self.store.commit(Commit(size=size, entries=tuple(entries),
                                 checkpoint=b"cp" if seal else None))
        if seal:
            self.blocks.append(size + count)
        self.datas += [e.data for e in entries]

    @rule(count=st.integers(min_value=1, max_value=10))
    def commit_with_a_wrong_root(self, count: int) -> None:
        size = len(self.datas)
        with pytest.raises(StoreCorruptError):
            self.store.commit(Commit(size=size, entries=new_entries(size, count, tag=b"x"),
                                     root=bytes(32)))

    @rule()
    def reopen(self) -> None:
        self.store.close()
        self.store = Store(self.dir / "l", write=True)

    @rule(data=st.data())
    def proofs_at_a_past_size(self, data: st.DataObject) -> None:
        if not self.datas:
            return
        leaves = [leaf_hash(d) for d in self.datas]
        size = data.draw(st.integers(min_value=1, max_value=len(leaves)))
        index = data.draw(st.integers(min_value=0, max_value=size - 1))
        old = data.draw(st.integers(min_value=0, max_value=size))
        read = self.store.node_reader(size)
        assert inclusion_proof_from_nodes(read, index, size) == inclusion_proof(leaves, index,
                                                                                size)
        assert consistency_proof_from_nodes(read, old, size) == consistency_proof(leaves, old,
                                                                                  size)
        assert self.store.root(size) == reference_root(leaves[:size])

    @invariant()
    def store_matches_the_model(self) -> None:
        assert self.store.size() == len(self.datas)
        assert list(self.store.iter_entries()) == self.datas
        assert self.store.root() == reference_root([leaf_hash(d) for d in self.datas])
        assert [i for _, i in self.store.iter_blocks()] == self.blocks
        expected = [i for i, d in enumerate(self.datas) if d.startswith(b"m") and i % 3 == 1]
        assert self.store.lookup("AB-1", "turnout") == expected


TestStoreModel = StoreModel.TestCase
TestStoreModel.settings = settings(max_examples=20, stateful_step_count=12, deadline=None)


def test_a_node_reader_keeps_upper_nodes_within_its_bound(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "_CACHE_LEVEL", 1)
    monkeypatch.setattr(store_module, "_CACHE_NODES", 3)
    fill(store, 64)
    leaves = [leaf_hash(b"e%d" % i) for i in range(64)]
    read = store.node_reader(64)
    for index in range(64):  # the same proofs as from the leaves, whatever the cache holds
        assert inclusion_proof_from_nodes(read, index, 64) == inclusion_proof(leaves, index, 64)
    assert len(read._cache) == 3  # type: ignore[attr-defined]


def test_a_truncated_data_file_is_corruption_not_a_sigbus(tmp_path: Path) -> None:
    # Mapping pages past the end of a truncated file kills a reader with SIGBUS; the store
    # compares the file with LMDB's own meta page first. Run in a child: a SIGBUS there would
    # show as a negative return code, not take the test process down.
    path = tmp_path / "ledger"
    with Store.create(path, {"origin": b"example.org/test"}) as s:
        fill(s, 3000)
    data = path / "data.mdb"
    with open(data, "r+b") as f:
        f.truncate(data.stat().st_size // 2)
    code = ("from ledger.store.store import Store\n"
            "from ledger.errors import StoreCorruptError\n"
            "try:\n"
            f"    Store({str(path)!r}).close()\n"
            "except StoreCorruptError as e:\n"
            "    print('refused:', e)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "is truncated" in done.stdout
