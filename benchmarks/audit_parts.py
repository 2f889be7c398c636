"""Where the audit's parent spends its time, part by part: ``python -m benchmarks.audit_parts DIR``.

DIR is a published tree (its ``ledger.json`` names the publisher key). Its entries are read into
memory first; then each part of the parent's work runs over all of them in this one process,
the signature verdicts given, and prints its CPU time per entry (``time.process_time``, best of
``--repeat``): the checker and tile audit together, the checker alone, step 1's decoding, the
envelope, the record, the leaf hash. docs/performance.md, "Audit and ingest, issue 20".
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

from ledger.auditor.tile_audit import TileAudit
from ledger.check.checker import EntryChecker, decode_checked
from ledger.core.hashing import leaf_hash
from ledger.formats.entries import decode_entry_envelope
from ledger.formats.keys import parse_verifier_key
from ledger.formats.records.fast import record_if_canonical
from ledger.sources.published import PublishedDirSource


def cpu_per_entry(step: Callable[[], None], count: int, repeat: int) -> float:
    """Microseconds of CPU per entry of the best of ``repeat`` runs of ``step``."""
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        step()
        best = min(best, time.process_time() - started)
    return best / count * 1e6


def each(part: Callable[[bytes], object], items: list[bytes]) -> Callable[[], None]:
    """A run of ``part`` over ``items`` that keeps no result (kept results would make the
    garbage collector's passes part of the figure)."""
    def run() -> None:
        for item in items:
            part(item)
    return run


def measure(directory: Path, repeat: int) -> dict[str, float]:
    """Each part's CPU per entry over the first checkpoint's entries of ``directory``."""
    with closing(PublishedDirSource(directory)) as source:
        vkey = source.publisher_vkey()
        if vkey is None:
            raise SystemExit(f"{directory}: no ledger.json naming the publisher key")
        publisher = parse_verifier_key(vkey)
        size = int(source.read_checkpoint().split(b"\n")[1])
        entries = list(source.iter_entries(0, size))

        def checker_and_tiles(tiles: bool) -> Callable[[], None]:
            def run() -> None:
                checker = EntryChecker(origin=publisher.name, publisher=publisher)
                audit = TileAudit(source=source)
                for index, entry in enumerate(entries):
                    checked = checker.check(index, entry, signature_ok=True, in_log=True)
                    if tiles:
                        audit.add(entry, checked.leaf_hash)
            return run

        bodies = [decode_entry_envelope(e).body for e in entries]
        parts: dict[str, Callable[[], None]] = {
            "checker and tile audit": checker_and_tiles(True),
            "checker": checker_and_tiles(False),
            "decode_checked": each(decode_checked, entries),
            "envelope": each(decode_entry_envelope, entries),
            "record_if_canonical": each(record_if_canonical, bodies),
            "leaf hash": each(leaf_hash, entries),
        }
        return {name: round(cpu_per_entry(step, len(entries), repeat), 2)
                for name, step in parts.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.audit_parts",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", type=Path, help="a published tree")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    for name, us in measure(args.directory, max(1, args.repeat)).items():
        print(f"{name:28s} {us:7.2f} us/entry")


if __name__ == "__main__":
    main()
