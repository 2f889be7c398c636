"""The Python peer: pymerkle 7 (``SqliteTree``, ``InmemoryTree``) on the same entries as ours.

pymerkle is GPL-3.0 and installed only for benchmarks, never a dependency. It uses RFC 6962
leaf and node hashing (so its root must equal ours) and 1-based leaf indices; its consistency
proofs are not RFC 6962's, so only their generation speed compares. Appends go in batches of
1,000, one SQLite transaction each, as ours commit one LMDB transaction per 1,000.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from benchmarks.generator import Keys, Plan, batched, log_entries
from benchmarks.memory import rss_anon_kib
from benchmarks.timing import NotAvailableError, Row, Stopwatch, timed_loop, warm_up
from benchmarks.workloads import BATCH, PROOF_SAMPLES, SEQ_DIR
from ledger.formats.records import encode_entry
from ledger.store.store import Store

SQLITE_FILE = "pymerkle.sqlite"


def _our_root(workdir: Path, n: int) -> bytes | None:
    """The root our sequencing workload stored for the same entries, if it ran."""
    path = workdir / SEQ_DIR
    if not path.is_dir():
        return None
    with Store(path) as store:
        return store.root() if store.size() == n else None


def _tree(backend: str, workdir: Path) -> Any:
    try:
        from pymerkle import InmemoryTree, SqliteTree
    except ImportError as e:
        why = f"pymerkle 7 is not installed (pip install 'pymerkle>=7,<8'): {e}"
        raise NotAvailableError(why) from e
    if backend == "inmemory":
        return InmemoryTree(algorithm="sha256")
    path = workdir / SQLITE_FILE
    path.unlink(missing_ok=True)
    return SqliteTree(str(path), algorithm="sha256")


def peer(backend: str, n: int, workdir: Path, seed: int, seconds: float) -> list[Row]:
    """Bulk append of the n entries, then inclusion and consistency proofs at n."""
    plan = Plan.for_records(n, seed)
    keys = Keys.for_plan(plan)
    generator_mib = rss_anon_kib() / 1024  # the generator's stations and keys: O(stations)
    tree = _tree(backend, workdir)
    impl = f"pymerkle-{backend}"
    watch = Stopwatch()
    for chunk in batched(log_entries(plan, keys, signed=False), BATCH):
        data = [encode_entry(entry) for _, entry in chunk]
        with watch:
            tree.append_entries(data)
    size = tree.get_size()
    ours = _our_root(workdir, n)
    same_root = None if ours is None else tree.get_root(size) == ours
    rng = random.Random(seed)  # the same draws as our proofs workload
    indices = [rng.randrange(size) for _ in range(PROOF_SAMPLES)]
    olds = [rng.randrange(1, size) for _ in range(PROOF_SAMPLES)]
    warm_up(seconds, indices, lambda i: tree.prove_inclusion(i + 1, size))
    inc = timed_loop(seconds, indices, lambda i: tree.prove_inclusion(i + 1, size))
    con = timed_loop(seconds, olds, lambda m: tree.prove_consistency(m, size))
    close = getattr(tree, "close", None)
    if close is not None:
        close()
    if backend == "sqlite":
        (workdir / SQLITE_FILE).unlink(missing_ok=True)
    extra = {"same_root_as_ours": same_root,
             "rss_anon_after_setup_mib": round(generator_mib, 1)}
    return [
        Row(figure="peer", op="append", impl=impl, count=size, seconds=watch.seconds,
            extra=extra),
        Row(figure="peer", op="inclusion", impl=impl, count=inc[0], seconds=inc[1], extra=extra),
        Row(figure="peer", op="consistency", impl=impl, count=con[0], seconds=con[1],
            extra=extra),
    ]


def peer_sqlite(n: int, workdir: Path, seed: int, seconds: float) -> list[Row]:
    """pymerkle ``SqliteTree``."""
    return peer("sqlite", n, workdir, seed, seconds)


def peer_inmemory(n: int, workdir: Path, seed: int, seconds: float) -> list[Row]:
    """pymerkle ``InmemoryTree``."""
    return peer("inmemory", n, workdir, seed, seconds)

