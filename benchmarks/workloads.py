"""Our workloads at N records: sequencing, proofs from storage, proof checks, ingest, audit.

Each takes (n, workdir, seed, seconds) and returns rows; input generation and setup stay outside
the timed parts. Workloads at the same N share ``workdir``: proofs read the store that
sequencing wrote, audit reads the directory that ingest published.
"""

from __future__ import annotations

import math
import random
import shutil
import time
from contextlib import closing
from pathlib import Path

from benchmarks.generator import ORIGIN, Keys, Plan, batched, log_entries, publisher_signer
from benchmarks.limits import cores
from benchmarks.memory import rss_anon_kib
from benchmarks.timing import NotAvailableError, Row, Stopwatch, timed_loop, warm_up
from ledger.auditor.tally import TallyBuilder
from ledger.auditor.verify import verify
from ledger.core.hashing import leaf_hash
from ledger.core.merkle import (
    consistency_proof_from_nodes,
    inclusion_proof_from_nodes,
    root_from_nodes,
)
from ledger.core.proofs import verify_consistency, verify_inclusion
from ledger.formats.keys import note_signer_for, verifier_key_for
from ledger.formats.records import Record, Report, Station, Turnout, encode_entry
from ledger.publisher.ledger import Ledger
from ledger.publisher.publish import publish
from ledger.sources.published import PublishedDirSource
from ledger.store.store import Commit, LookupKey, NewEntries, Store

#: Entries per write transaction when sequencing, and per sealed block when ingesting.
BATCH = 1_000
#: Random leaves / old sizes drawn for the proof workloads.
PROOF_SAMPLES = 4_096

SEQ_DIR = "seq"
LEDGER_DIR = "ledger"
PUBLISHED_DIR = "published"


def _lookup(record: Record) -> tuple[LookupKey, ...]:
    """The lookup keys a publisher stores for a record: (station, kind[, category]).

    Positional, as :func:`ledger.store.integrity.lookup_keys` builds them: keyword arguments
    make a named tuple cost 0.2 us more, once per entry."""
    if type(record) is Turnout:
        return (LookupKey(record.station, record.KIND),)
    if type(record) is Report:
        return (LookupKey(record.station, record.KIND, record.category),)
    if type(record) is Station:
        return (LookupKey(record.id, record.KIND),)
    return ()


def sequencing(n: int, workdir: Path, seed: int, seconds: float) -> list[Row]:
    """Pre-verified entries: encode, leaf hash, tree nodes, durable LMDB commit per batch."""
    del seconds  # runs through all n entries
    plan = Plan.for_records(n, seed)
    keys = Keys.for_plan(plan)
    generator_mib = rss_anon_kib() / 1024  # the generator's stations and keys: O(stations)
    path = workdir / SEQ_DIR
    shutil.rmtree(path, ignore_errors=True)
    prepare, commit = Stopwatch(), Stopwatch()
    with Store.create(path, {"origin": ORIGIN.encode()}) as store:
        size = 0
        for chunk in batched(log_entries(plan, keys, signed=False), BATCH):
            with prepare:  # by column, as Ledger.append hands its accepted entries over
                datas = [encode_entry(entry) for _, entry in chunk]
                batch = NewEntries(data=datas, leaf_hashes=list(map(leaf_hash, datas)),
                                   lookup=[_lookup(record) for record, _ in chunk])
            with commit:
                store.commit(Commit(size=size, entries=batch))
            size += len(chunk)
        root = store.root()
        disk = store.disk_usage()
    return [Row(figure="sequencing", op="append", impl="ours", count=size,
                seconds=prepare.seconds + commit.seconds,
                extra={"root": root.hex(), "disk_bytes": disk, "batch": BATCH,
                       "rss_anon_after_setup_mib": round(generator_mib, 1),
                       "encode_hash_seconds": round(prepare.seconds, 3),
                       "store_commit_seconds": round(commit.seconds, 3)})]


def proofs(n: int, workdir: Path, seed: int, seconds: float) -> list[Row]:
    """Inclusion and consistency proofs from the stored nodes at size n, then their checks."""
    path = workdir / SEQ_DIR
    if not path.is_dir():
        raise NotAvailableError(f"no sequenced store at {path}: run the sequencing workload first")
    rng = random.Random(seed)
    with Store(path) as store:
        size = store.size()
        if size != n:
            raise NotAvailableError(f"the sequenced store holds {size} entries, not {n}")
        read = store.node_reader(size)
        indices = [rng.randrange(size) for _ in range(PROOF_SAMPLES)]
        olds = [rng.randrange(1, size) for _ in range(PROOF_SAMPLES)]
        warm_up(seconds, indices, lambda i: inclusion_proof_from_nodes(read, i, size))
        inc_count, inc_time = timed_loop(
            seconds, indices, lambda i: inclusion_proof_from_nodes(read, i, size))
        con_count, con_time = timed_loop(
            seconds, olds, lambda m: consistency_proof_from_nodes(read, m, size))
        root = root_from_nodes(read, size)
        inclusion = [(read(0, i), i, inclusion_proof_from_nodes(read, i, size))
                     for i in indices[:1024]]
        consistency = [(m, root_from_nodes(read, m), consistency_proof_from_nodes(read, m, size))
                       for m in olds[:1024]]
    inc_len = sum(len(p) for _, _, p in inclusion) / len(inclusion)
    con_len = sum(len(p) for _, _, p in consistency) / len(consistency)
    chk_inc = timed_loop(
        seconds, inclusion, lambda t: verify_inclusion(t[0], t[1], size, t[2], root))
    chk_con = timed_loop(
        seconds, consistency, lambda t: verify_consistency(t[0], size, t[2], t[1], root))
    log2n = round(math.log2(size), 2)
    return [
        Row(figure="proofs", op="inclusion", impl="ours", count=inc_count, seconds=inc_time,
            extra={"log2_n": log2n, "proof_length": round(inc_len, 2)}),
        Row(figure="proofs", op="consistency", impl="ours", count=con_count, seconds=con_time,
            extra={"log2_n": log2n, "proof_length": round(con_len, 2)}),
        Row(figure="proof checks", op="inclusion", impl="ours", count=chk_inc[0],
            seconds=chk_inc[1], extra={"proof_length": round(inc_len, 2)}),
        Row(figure="proof checks", op="consistency", impl="ours", count=chk_con[0],
            seconds=chk_con[1], extra={"proof_length": round(con_len, 2)}),
    ]


def ingest(n: int, workdir: Path, seed: int, seconds: float) -> list[Row]:
    """Station-signed records through ``Ledger.append`` (verify, rules, durable write), sealed
    every 1,000; then ``publish`` of the ledger, for the audit workload."""
    del seconds
    plan = Plan.for_records(n, seed)
    keys = Keys.for_plan(plan, signing=True)
    generator_mib = rss_anon_kib() / 1024  # the generator's stations and keys: O(stations)
    path, out = workdir / LEDGER_DIR, workdir / PUBLISHED_DIR
    for old in (path, out):
        shutil.rmtree(old, ignore_errors=True)
    setup = time.perf_counter()
    ledger = Ledger.create(path, ORIGIN, note_signer_for(ORIGIN, keys.publisher), plan.election())
    watch = Stopwatch()
    try:
        stations = [ledger.sign(plan.station(i, k)) for i, k in enumerate(keys.public_keys)]
        append_all(ledger, stations)
        ledger.seal()
        setup = time.perf_counter() - setup
        signed = log_entries(plan, keys, signed=True)
        for _ in range(1 + len(plan.stations)):  # the election and stations: written above
            next(signed)
        appended = 0
        for chunk in batched(signed, BATCH):
            data = [encode_entry(entry) for _, entry in chunk]
            with watch:
                append_all(ledger, data)
                ledger.seal()
            appended += len(chunk)
        size = ledger.size
    finally:
        ledger.close()
    started = time.perf_counter()
    published = publish(str(path), out)
    publish_seconds = time.perf_counter() - started
    return [
        Row(figure="ingest", op="append+seal", impl="ours", count=appended, seconds=watch.seconds,
            extra={"setup_seconds": round(setup, 3), "stations": len(plan.stations),
                   "rss_anon_after_setup_mib": round(generator_mib, 1),
                   "tree_size": size, "block": BATCH}),
        Row(figure="publish", op="tiles", impl="ours", count=published.tree_size,
            seconds=publish_seconds, extra={"files_written": published.written}),
    ]


def append_all(ledger: Ledger, data: list[bytes]) -> None:
    """Append a batch that must be accepted whole (the generator makes only valid records)."""
    result = ledger.append(data)
    if result.rejected:
        first = result.rejected[0]
        raise RuntimeError(f"Ledger.append refused {len(result.rejected)} generated entries; "
                           f"batch item {first.position}: {first.error}")


def audit(n: int, workdir: Path, seed: int, seconds: float) -> list[Row]:
    """``verify`` of the published directory of the ingest workload, on all cores."""
    del seconds
    published = workdir / PUBLISHED_DIR
    if not (published / "checkpoint").is_file():
        raise NotAvailableError(f"no published log at {published}: the ingest workload did not run")
    vkey = verifier_key_for(ORIGIN, publisher_signer(seed).public_key)
    workers = cores()
    started = time.perf_counter()
    with closing(PublishedDirSource(published)) as source:
        report = verify(source, vkey, workers=workers)
    elapsed = time.perf_counter() - started
    errors = [f.describe() for f in report.errors[:3]]
    # The tally is the same audit with the sums added (docs/auditor.md, "From records to
    # results"): its cost is reported as a ratio to the bare verify (target: at most 1.05).
    builder = TallyBuilder()
    started = time.perf_counter()
    with closing(PublishedDirSource(published)) as source:
        tallied = verify(source, vkey, workers=workers, observer=builder.add)
        builder.result(origin=ORIGIN, tree_size=tallied.tree_size or 0)
    tally_elapsed = time.perf_counter() - started
    return [Row(figure="audit", op="verify", impl="ours", count=report.entries, seconds=elapsed,
                extra={"ok": report.ok, "errors": len(report.errors), "first_errors": errors,
                       "warnings": len(report.warnings), "workers": workers}),
            Row(figure="audit", op="tally", impl="ours", count=tallied.entries,
                seconds=tally_elapsed,
                extra={"ok": tallied.ok, "seconds_over_verify": round(tally_elapsed / elapsed, 3),
                       "workers": workers})]


WORKLOADS = {
    "sequencing": sequencing,
    "proofs": proofs,
    "ingest": ingest,
    "audit": audit,
}
