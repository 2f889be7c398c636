"""A whole election day end to end, then the incremental audit (issue 20, items 3 and 4).

``python -m benchmarks.day --size 16800000 --workdir DIR [--keep]`` runs, each phase timed:

- limits-start: the bare Ed25519 verify loop on one core and on every core at once, and the bare
  signing loop on every core at once;
- sign: the benchmark generator's records (election, stations, one turnout per station per
  minute, the reports), signed on every core, streamed to files of encoded entries in chunks;
- ingest: ``Ledger.create``, then ``Ledger.append`` in batches and ``Ledger.seal`` after every
  round of turnout (one a minute: 20,000 records at 16.8M), all but the last 1,000 records;
- publish: ``publish`` of the ledger to a directory;
- audit: ``verify`` of the published tree from scratch on every core, writing its state file;
- append: the 1,000 records held back, appended and sealed; republish: published again;
- incremental: ``verify`` with the full audit's checkpoint as trusted and its state file;
- limits-end: the limits again (each limit is the better of the two).

A JSON progress file in DIR records the finished phases and their figures: a rerun skips them
(an unfinished phase starts again). The report goes to ``benchmarks/results/<date>-day-<size>.json``
and DIR is deleted unless ``--keep``. Refuses to start with less free disk than the run needs
(40 GB at 16.8M, in proportion below). Progress goes to stderr with timestamps.
"""

from __future__ import annotations

import argparse
import datetime
import json
import multiprocessing
import os
import shutil
import struct
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from benchmarks.generator import ORIGIN, Keys, Plan, publisher_signer, record_at
from benchmarks.limits import (
    best_rate,
    concurrent_rates,
    cores,
    machine,
    sign_pairs,
    signature_triples,
    verify_step,
)
from benchmarks.memory import AnonSampler, rss_anon_kib
from benchmarks.workloads import append_all
from ledger.auditor.verify import verify
from ledger.formats.keys import note_signer_for, verifier_key_for
from ledger.formats.records import encode_entry, encode_record, sign_body
from ledger.publisher.ledger import Ledger
from ledger.publisher.publish import publish
from ledger.sources.published import PublishedDirSource

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
FULL = 16_800_000
#: Free disk the full run needs (it uses about 20 GB): scaled with the size below it.
FULL_FREE_BYTES = 40 * 10**9
MIN_FREE_BYTES = 256 * 2**20
#: Records appended after the full audit, for the incremental one.
HOLD_BACK = 1_000
#: The memory figure is taken at 1M entries (and at the end): flat means within 1.2x.
RSS_PROBE = 1_000_000
RSS_TARGET = 1.2
#: Records per signed chunk file (one task of a signing process), and per Ledger.append call.
CHUNK = 50_000
APPEND_BATCH = 5_000
PHASES = ("limits-start", "sign", "ingest", "publish", "audit", "append", "republish",
          "incremental", "limits-end")
_LENGTH = struct.Struct(">I")


def log(message: str) -> None:
    """A progress line on stderr, with the UTC time."""
    now = datetime.datetime.now(datetime.UTC).strftime("%H:%M:%S")
    print(f"{now} {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class Day:
    """One run's sizes and places: ``size`` records, the last ``hold_back`` kept for the
    incremental audit."""

    size: int
    seed: int
    workdir: Path
    limit_seconds: float

    @property
    def hold_back(self) -> int:
        return min(HOLD_BACK, max(1, (self.size - 1) // 10))

    @property
    def ingest_end(self) -> int:
        """The last stream position the ingest phase appends (position 0 is the election)."""
        return self.size - 1 - self.hold_back

    @property
    def rss_probe(self) -> int:
        """Where the first memory figure is taken: 1M at the full size, in proportion below."""
        return max(1, RSS_PROBE * self.size // FULL) if self.size < FULL else RSS_PROBE

    @property
    def signed(self) -> Path:
        return self.workdir / "signed"

    @property
    def ledger(self) -> Path:
        return self.workdir / "ledger"

    @property
    def published(self) -> Path:
        return self.workdir / "published"

    @property
    def state(self) -> Path:
        return self.workdir / "audit-state"

    @property
    def trusted(self) -> Path:
        return self.workdir / "trusted-checkpoint"

    def chunks(self) -> list[tuple[int, int]]:
        """[first, stop) stream positions of each signed chunk file (position 0 is made by
        ``Ledger.create``)."""
        return [(a, min(a + CHUNK, self.size)) for a in range(1, self.size, CHUNK)]

    def chunk_path(self, index: int) -> Path:
        return self.signed / f"{index:05d}.entries"


# --- the progress file --------------------------------------------------------------------


def _progress_path(day: Day) -> Path:
    return day.workdir / "progress.json"


def load_progress(day: Day) -> dict[str, Any]:
    """The finished phases of an earlier run in ``day.workdir`` (none if it is new).

    Raises:
        ValueError: the workdir was made by a run of another size or seed.
    """
    path = _progress_path(day)
    if not path.is_file():
        return {"size": day.size, "seed": day.seed, "phases": {}}
    progress: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if (progress["size"], progress["seed"]) != (day.size, day.seed):
        raise ValueError(f"{day.workdir} holds a run of size {progress['size']:,} seed "
                         f"{progress['seed']}: use another --workdir or delete it")
    return progress


def save_progress(day: Day, progress: dict[str, Any]) -> None:
    """Write the progress file whole, atomically."""
    path = _progress_path(day)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(progress, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)


# --- disk ---------------------------------------------------------------------------------


def disk_bytes(path: Path) -> int:
    """Bytes allocated under ``path`` (as ``du`` counts them)."""
    if not path.exists():
        return 0
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(folder, name)).st_blocks * 512
            except FileNotFoundError:
                continue
    return total


def required_free_bytes(size: int) -> int:
    """Free disk to start with: 40 GB at 16.8M records, in proportion (at least 256 MiB)."""
    return max(MIN_FREE_BYTES, FULL_FREE_BYTES * size // FULL)


def check_disk(day: Day) -> dict[str, int]:
    """Refuse to start when the free disk plus what the workdir already holds (a resumed run)
    is under what the run needs.

    Raises:
        RuntimeError: not enough disk.
    """
    where = day.workdir
    while not where.exists():
        where = where.parent
    free = shutil.disk_usage(where).free
    used = disk_bytes(day.workdir)
    need = required_free_bytes(day.size)
    if free + used < need:
        raise RuntimeError(f"{free / 1e9:.1f} GB free at {where} (+{used / 1e9:.1f} GB already "
                           f"in the workdir): a day of {day.size:,} records needs "
                           f"{need / 1e9:.1f} GB")
    return {"free_bytes": free, "workdir_bytes": used, "required_bytes": need}


# --- memory -------------------------------------------------------------------------------


class RssProbe:
    """Anonymous RSS when a count first reaches ``at`` and at the end, and the largest seen
    (at each call) up to each of the two."""

    def __init__(self, at: int) -> None:
        self.at = at
        self.at_probe_kib: int | None = None
        self.max_at_probe_kib: int | None = None
        self.max_kib = 0

    def seen(self, count: int) -> None:
        now = rss_anon_kib()
        self.max_kib = max(self.max_kib, now)
        if self.at_probe_kib is None and count >= self.at:
            self.at_probe_kib, self.max_at_probe_kib = now, self.max_kib

    def progress(self, done: int, total: int) -> None:
        """A ``progress(done, total)`` callback of publish and verify."""
        del total
        self.seen(done)

    def figures(self) -> dict[str, Any]:
        end = rss_anon_kib()
        self.max_kib = max(self.max_kib, end)

        def mib(kib: int | None) -> float | None:
            return None if kib is None else round(kib / 1024, 1)

        def ratio(a: int, b: int | None) -> float | None:
            return None if not b else round(a / b, 3)

        return {"rss_anon_probe_at": self.at, "rss_anon_at_probe_mib": mib(self.at_probe_kib),
                "rss_anon_end_mib": mib(end),
                "rss_anon_end_over_probe": ratio(end, self.at_probe_kib),
                "rss_anon_max_to_probe_mib": mib(self.max_at_probe_kib),
                "rss_anon_max_mib": mib(self.max_kib),
                "rss_anon_max_over_max_to_probe": ratio(self.max_kib, self.max_at_probe_kib)}


# --- phases -------------------------------------------------------------------------------


def day_limits(seconds: float) -> dict[str, Any]:
    """Bare Ed25519 verify (PyNaCl) on one core and on every core at once, and bare signing
    (``cryptography``, what ``Signer`` uses) on every core at once."""
    triples = signature_triples()
    single = best_rate(verify_step("pynacl", triples), seconds=seconds)
    n = cores()
    together = concurrent_rates([("verify-pynacl", triples), ("sign", sign_pairs())],
                                processes=n, seconds=seconds)
    verify_all, sign_all = together["verify-pynacl"], together["sign"]
    return {
        "cores": n,
        "ed25519_verify_pynacl": round(single, 1),
        "ed25519_verify_all_cores": round(single * n, 1),
        "ed25519_verify_concurrent": round(verify_all["total"], 1),
        "ed25519_verify_concurrent_per_process": verify_all["per_process"],
        "ed25519_scaling": round(verify_all["total"] / (single * n), 3),
        "ed25519_sign_concurrent": round(sign_all["total"], 1),
        "ed25519_sign_concurrent_per_process": sign_all["per_process"],
    }


_SIGNING: tuple[Plan, Keys] | None = None


def _signing_setup(plan: Plan) -> None:
    """Each signing process gets the plan (not the data files again) and makes the keys once."""
    global _SIGNING
    _SIGNING = (plan, Keys.for_plan(plan, signing=True))


def _sign_chunk(task: tuple[int, int, int, str]) -> dict[str, Any]:
    """Sign stream positions [first, stop) into ``path`` (written whole, then renamed)."""
    index, first, stop, path = task
    if _SIGNING is None:
        raise RuntimeError("a signing process without its plan")
    plan, keys = _SIGNING
    cpu = time.process_time()
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        for position in range(first, stop):
            who, record = record_at(plan, keys, position)
            signer = keys.publisher if who < 0 else keys.signers[who]
            data = encode_entry(sign_body(signer, ORIGIN, encode_record(record)))
            f.write(_LENGTH.pack(len(data)) + data)
    os.replace(tmp, path)
    return {"index": index, "records": stop - first, "bytes": os.path.getsize(path),
            "cpu_seconds": time.process_time() - cpu, "rss_anon_kib": rss_anon_kib()}


def phase_sign(day: Day) -> dict[str, Any]:
    """Every record after the election, signed on every core, into chunk files."""
    shutil.rmtree(day.signed, ignore_errors=True)
    day.signed.mkdir(parents=True)
    tasks = [(i, a, b, str(day.chunk_path(i))) for i, (a, b) in enumerate(day.chunks())]
    n = cores()
    context = multiprocessing.get_context("spawn")
    done = cpu = 0.0
    worker_rss = 0
    started = time.perf_counter()
    with context.Pool(n, initializer=_signing_setup, initargs=(_plan(day),)) as pool:
        for i, result in enumerate(pool.imap_unordered(_sign_chunk, tasks)):
            done += result["records"]
            cpu += result["cpu_seconds"]
            worker_rss = max(worker_rss, result["rss_anon_kib"])
            if i % max(1, len(tasks) // 20) == 0:
                log(f"  signed {int(done):,} / {day.size - 1:,}")
    seconds = time.perf_counter() - started
    return {"records": int(done), "seconds": seconds, "processes": n,
            "cpu_seconds_in_workers": round(cpu, 2), "chunks": len(tasks),
            "worker_rss_anon_max_mib": round(worker_rss / 1024, 1),
            "bytes": disk_bytes(day.signed)}


def signed_entries(day: Day, first: int, stop: int) -> Iterator[tuple[int, bytes]]:
    """(stream position, encoded entry) of the signed files, positions [first, stop); one chunk
    file in memory at a time."""
    for index, (a, b) in enumerate(day.chunks()):
        if b <= first or a >= stop:
            continue
        data = memoryview(day.chunk_path(index).read_bytes())
        offset = 0
        for position in range(a, b):
            (length,) = _LENGTH.unpack_from(data, offset)
            offset += _LENGTH.size
            if first <= position < stop:
                yield position, bytes(data[offset:offset + length])
            offset += length


def seals_after(plan: Plan, position: int) -> bool:
    """True after the stations, after each round of turnout (every station once: a minute of
    the day at 20,000 stations) and after each as many reports."""
    count = len(plan.stations)
    turnout_end = count + plan.turnout
    if position <= turnout_end:
        return position % count == 0 or position == turnout_end
    return (position - turnout_end) % count == 0


@cache
def _plans(size: int, seed: int) -> Plan:
    return Plan.for_records(size, seed)


def _plan(day: Day) -> Plan:
    """The day's plan, made once per process (it reads the data files)."""
    return _plans(day.size, day.seed)


def _publisher(day: Day) -> tuple[Plan, Keys]:
    plan = _plan(day)
    return plan, Keys.for_plan(plan)


def phase_ingest(day: Day) -> dict[str, Any]:
    """All records but the held-back ones through ``Ledger.append``, sealed every minute."""
    shutil.rmtree(day.ledger, ignore_errors=True)
    plan, keys = _publisher(day)
    signer = note_signer_for(ORIGIN, keys.publisher)
    probe = RssProbe(day.rss_probe)
    timed = seals = 0.0
    batch: list[bytes] = []
    started = time.perf_counter()
    with Ledger.create(day.ledger, ORIGIN, signer, plan.election()) as ledger:
        report_every = max(1, day.ingest_end // 20)
        for position, data in signed_entries(day, 1, day.ingest_end + 1):
            batch.append(data)
            seal = seals_after(plan, position) or position == day.ingest_end
            if seal or len(batch) >= APPEND_BATCH:
                t = time.perf_counter()
                append_all(ledger, batch)
                if seal:
                    ledger.seal()
                    seals += 1
                timed += time.perf_counter() - t
                batch = []
                probe.seen(position)
            if position % report_every == 0:
                log(f"  ingested {position:,} / {day.ingest_end:,}")
        size = ledger.size
    return {"records": day.ingest_end, "seconds": timed,
            "wall_seconds": round(time.perf_counter() - started, 3), "seals": int(seals),
            "tree_size": size, "bytes": disk_bytes(day.ledger), **probe.figures()}


def phase_publish(day: Day) -> dict[str, Any]:
    """``publish`` of the ledger to a directory (information: no limit)."""
    probe = RssProbe(day.rss_probe)
    started = time.perf_counter()
    result = publish(str(day.ledger), day.published, progress=probe.progress)
    seconds = time.perf_counter() - started
    return {"records": result.tree_size, "seconds": seconds, "files_written": result.written,
            "bytes": disk_bytes(day.published), **probe.figures()}


def _vkey(day: Day) -> Any:
    return verifier_key_for(ORIGIN, publisher_signer(day.seed).public_key)


def phase_audit(day: Day) -> dict[str, Any]:
    """``verify`` of the published tree from scratch on every core, writing its state file."""
    day.state.unlink(missing_ok=True)
    probe = RssProbe(day.rss_probe)
    started = time.perf_counter()
    with closing(PublishedDirSource(day.published)) as source:
        report = verify(source, _vkey(day), workers=cores(), state_path=day.state,
                        progress=probe.progress)
    seconds = time.perf_counter() - started
    if not report.ok or report.checkpoint is None:
        raise RuntimeError(f"the full audit failed: {[f.describe() for f in report.errors[:3]]}")
    day.trusted.write_bytes(report.checkpoint)
    return {"records": report.entries, "seconds": seconds, "ok": report.ok,
            "tree_size": report.tree_size, "workers": cores(),
            "state_bytes": day.state.stat().st_size, **probe.figures()}


def phase_append(day: Day) -> dict[str, Any]:
    """The held-back records appended and sealed (resumes an append done but not sealed)."""
    _, keys = _publisher(day)
    data = [d for _, d in signed_entries(day, day.ingest_end + 1, day.size)]
    started = time.perf_counter()
    with Ledger.open(day.ledger, note_signer_for(ORIGIN, keys.publisher)) as ledger:
        before = ledger.size
        audited = load_progress(day)["phases"]["ingest"]["tree_size"]
        if before == audited:
            append_all(ledger, data)
        elif before != audited + len(data):
            raise RuntimeError(f"the ledger holds {before:,} entries, neither the ingested "
                               f"{audited:,} nor those and the {len(data):,} held back: start "
                               "again in a new workdir")
        ledger.seal()
        size = ledger.size
    return {"records": len(data), "seconds": time.perf_counter() - started, "tree_size": size}


def phase_republish(day: Day) -> dict[str, Any]:
    """``publish`` again after the append (information: it reads the whole ledger)."""
    started = time.perf_counter()
    result = publish(str(day.ledger), day.published)
    return {"records": result.tree_size, "seconds": time.perf_counter() - started,
            "files_written": result.written}


def phase_incremental(day: Day) -> dict[str, Any]:
    """``verify`` trusting the full audit's checkpoint, from a copy of its state file."""
    state = day.workdir / "audit-state-incremental"
    shutil.copyfile(day.state, state)
    started = time.perf_counter()
    with closing(PublishedDirSource(day.published)) as source:
        report = verify(source, _vkey(day), trusted=day.trusted.read_bytes(), state_path=state,
                        workers=cores())
    seconds = time.perf_counter() - started
    if not report.ok:
        raise RuntimeError(f"the incremental audit failed: "
                           f"{[f.describe() for f in report.errors[:3]]}")
    return {"records": report.entries, "seconds": seconds, "ok": report.ok,
            "tree_size": report.tree_size, "new_records": day.hold_back, "workers": cores()}


PhaseRun = Callable[[Day], dict[str, Any]]
RUNS: dict[str, PhaseRun] = {
    "limits-start": lambda day: day_limits(day.limit_seconds),
    "sign": phase_sign,
    "ingest": phase_ingest,
    "publish": phase_publish,
    "audit": phase_audit,
    "append": phase_append,
    "republish": phase_republish,
    "incremental": phase_incremental,
    "limits-end": lambda day: day_limits(day.limit_seconds),
}


def run_phase(day: Day, name: str) -> dict[str, Any]:
    """One phase with its wall time, peak anonymous RSS of this process and the disk after."""
    started = time.perf_counter()
    with AnonSampler() as sampler:
        figures = RUNS[name](day)
    figures.setdefault("seconds", time.perf_counter() - started)
    figures["seconds"] = round(figures["seconds"], 3)
    figures["wall_seconds"] = round(time.perf_counter() - started, 3)
    figures["rss_anon_peak_mib"] = round(sampler.peak_kib / 1024, 1)
    figures["workdir_bytes"] = disk_bytes(day.workdir)
    return figures


# --- the report ---------------------------------------------------------------------------


def combine(start: dict[str, Any], end: dict[str, Any]) -> dict[str, Any]:
    """Each numeric limit: the better of its two measurements; the scaling of the better."""
    out = dict(start)
    for key, value in end.items():
        if isinstance(value, int | float) and isinstance(out.get(key), int | float):
            out[key] = max(out[key], value)
    out["ed25519_scaling"] = round(
        out["ed25519_verify_concurrent"] / (out["cores"] * out["ed25519_verify_pynacl"]), 3)
    return out


def figures(phases: dict[str, dict[str, Any]], limits: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per timed phase: records, seconds, rate, its limit and ratio."""
    verify_limit = limits["ed25519_verify_concurrent"]
    bases = {
        "sign": (limits["ed25519_sign_concurrent"], "bare Ed25519 signing on every core at once",
                 None),
        "ingest": (verify_limit, "bare Ed25519 verify on every core at once", 0.8),
        "audit": (verify_limit, "bare Ed25519 verify on every core at once", 0.85),
    }
    rows = []
    for name in ("sign", "ingest", "publish", "audit", "append", "republish", "incremental"):
        phase = phases[name]
        rate = phase["records"] / phase["seconds"] if phase["seconds"] > 0 else 0.0
        limit, basis, target = bases.get(name, (None, "none (information)", None))
        row: dict[str, Any] = {"phase": name, "records": phase["records"],
                               "seconds": phase["seconds"], "rate": round(rate, 1),
                               "limit": limit, "limit_basis": basis,
                               "ratio": None if not limit else round(rate / limit, 3),
                               "target": target,
                               "rss_anon_peak_mib": phase["rss_anon_peak_mib"]}
        if name in ("ingest", "audit"):
            row["ratio_vs_cores_x_single"] = round(rate / limits["ed25519_verify_all_cores"], 3)
        if target is not None:
            row["met"] = row["ratio"] >= target
        rows.append(row)
    return rows


def report(day: Day, progress: dict[str, Any], wall: float) -> dict[str, Any]:
    """The JSON of the run: the limits, a row per phase, the incremental ratio, memory, disk."""
    phases = progress["phases"]
    limits = combine(phases["limits-start"], phases["limits-end"])
    incremental = phases["incremental"]["seconds"] / phases["audit"]["seconds"]
    ingest = phases["ingest"]
    growth = ingest["rss_anon_end_over_probe"]
    return {
        "format": "election-ledger-day/1",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python -m benchmarks.day", *sys.argv[1:]]),
        "size": day.size, "seed": day.seed, "hold_back": day.hold_back,
        "machine": machine(),
        "limits": limits,
        "limits_start": phases["limits-start"],
        "limits_end": phases["limits-end"],
        "rows": figures(phases, limits),
        "incremental": {"seconds": phases["incremental"]["seconds"],
                        "full_seconds": phases["audit"]["seconds"],
                        "ratio": round(incremental, 5), "target": 0.01,
                        "met": incremental < 0.01},
        "memory": {"ingest_rss_anon_at_probe_mib": ingest["rss_anon_at_probe_mib"],
                   "ingest_rss_anon_end_mib": ingest["rss_anon_end_mib"],
                   "probe_at": ingest["rss_anon_probe_at"], "end_over_probe": growth,
                   "ingest_rss_anon_max_to_probe_mib": ingest["rss_anon_max_to_probe_mib"],
                   "ingest_rss_anon_max_mib": ingest["rss_anon_max_mib"],
                   "max_over_max_to_probe": ingest["rss_anon_max_over_max_to_probe"],
                   "target": RSS_TARGET, "met": None if growth is None else growth <= RSS_TARGET,
                   "peak_by_phase_mib": {k: v["rss_anon_peak_mib"] for k, v in phases.items()}},
        "disk": {"peak_workdir_bytes": max(v["workdir_bytes"] for v in phases.values()),
                 "by_phase_bytes": {k: v["workdir_bytes"] for k, v in phases.items()}},
        "phases": phases,
        "seconds_this_run": round(wall, 1),
        "seconds_all_phases": round(sum(v["wall_seconds"] for v in phases.values()), 1),
    }


def summary(result: dict[str, Any]) -> str:
    """The report as lines for the terminal."""
    limits = result["limits"]
    lines = [
        f"day of {result['size']:,} records on {limits['cores']} cores, "
        f"{result['seconds_all_phases']:,.0f} s in all",
        f"limits: verify {limits['ed25519_verify_concurrent']:,.0f}/s on every core at once "
        f"({limits['cores']} x {limits['ed25519_verify_pynacl']:,.0f}/s on one core, scaling "
        f"{limits['ed25519_scaling']:.3g}); signing {limits['ed25519_sign_concurrent']:,.0f}/s",
    ]
    for row in result["rows"]:
        ratio = "" if row["ratio"] is None else f", ratio {row['ratio']:.3g}"
        if row["target"] is not None:
            ratio += f" (target {row['target']}: {'yes' if row['met'] else 'NO'})"
        lines.append(f"  {row['phase']:<12} {row['records']:>12,} in {row['seconds']:>9,.2f} s"
                     f" = {row['rate']:>10,.0f}/s{ratio}, anon RSS peak "
                     f"{row['rss_anon_peak_mib']:,.0f} MiB")
    inc, mem = result["incremental"], result["memory"]
    lines.append(f"incremental / full audit: {inc['ratio']:.4f} (target < 0.01: "
                 f"{'yes' if inc['met'] else 'NO'})")
    lines.append(f"ingest anon RSS: {mem['ingest_rss_anon_at_probe_mib']} MiB at "
                 f"{mem['probe_at']:,}, {mem['ingest_rss_anon_end_mib']} MiB at the end "
                 f"(x{mem['end_over_probe']}, target <= {RSS_TARGET}); the largest "
                 f"{mem['ingest_rss_anon_max_to_probe_mib']} MiB up to {mem['probe_at']:,}, "
                 f"{mem['ingest_rss_anon_max_mib']} MiB in all (x{mem['max_over_max_to_probe']})")
    lines.append(f"disk: at most {result['disk']['peak_workdir_bytes'] / 1e9:.2f} GB")
    return "\n".join(lines)


def run(day: Day, out: Path, *, keep: bool, stop_after: str | None = None
        ) -> dict[str, Any] | None:
    """Every phase not finished yet, then the report to ``out``; the workdir deleted unless
    ``keep``. With ``stop_after``, stop after that phase (no report: None), as a run cut short
    would, to be resumed."""
    started = time.perf_counter()
    disk = check_disk(day)
    log(f"day of {day.size:,} records in {day.workdir}: {disk['free_bytes'] / 1e9:.1f} GB free, "
        f"{disk['required_bytes'] / 1e9:.2f} GB needed")
    day.workdir.mkdir(parents=True, exist_ok=True)
    progress = load_progress(day)
    for name in PHASES:
        if name in progress["phases"]:
            log(f"{name}: done before, skipped")
            continue
        log(f"{name} ...")
        phase = run_phase(day, name)
        progress["phases"][name] = phase
        save_progress(day, progress)
        log(f"{name}: {phase['seconds']:,.2f} s, anon RSS peak {phase['rss_anon_peak_mib']} MiB,"
            f" workdir {phase['workdir_bytes'] / 1e9:.2f} GB")
        if name == stop_after:
            log(f"stopped after {name}: run again to resume")
            return None
    result = report(day, progress, time.perf_counter() - started)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    log(f"wrote {out}")
    if not keep:
        shutil.rmtree(day.workdir, ignore_errors=True)
        log(f"deleted {day.workdir}")
    return result


def main(argv: list[str] | None = None) -> dict[str, Any] | None:
    """Parse the command line, run the day, print the summary; return the JSON report."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.day",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=FULL, help="records of the day (>= 100)")
    parser.add_argument("--workdir", type=Path, required=True,
                        help="where the run's files go (and its progress file, to resume)")
    parser.add_argument("--keep", action="store_true", help="keep the workdir at the end")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--limit-seconds", type=float, default=2.0,
                        help="time window of each bare loop")
    parser.add_argument("--out", type=Path,
                        help="report path (default benchmarks/results/<date>-day-<size>.json)")
    parser.add_argument("--stop-after", choices=PHASES, help="stop after this phase")
    args = parser.parse_args(argv)
    if args.size < 100:
        parser.error("--size must be at least 100")
    day = Day(size=args.size, seed=args.seed, workdir=args.workdir,
              limit_seconds=args.limit_seconds)
    out = args.out or RESULTS / f"{datetime.date.today().isoformat()}-day-{args.size}.json"
    result = run(day, out, keep=args.keep, stop_after=args.stop_after)
    if result is not None:
        print(summary(result))
    return result


if __name__ == "__main__":
    main()
