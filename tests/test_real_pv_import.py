"""The whole real 2025 PV file through the publisher: ~40,000 entries in blocks of 1,000.

Every station is registered with a generated key (deterministic seeds), every report is signed
by its station, a block is sealed after every 1,000 entries; then every entry's inclusion proof
is checked at the final size and every pair of consecutive checkpoints is proved consistent.
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import pytest

from ledger.core.hashing import leaf_hash
from ledger.core.merkle import root as reference_root
from ledger.core.proofs import verify_consistency, verify_inclusion
from ledger.formats.records import encode_entry, sign_record
from ledger.formats.signing import Signer
from ledger.importers.aep_pv import import_pv
from ledger.importers.manifest import election_from_pv
from ledger.publisher.ledger import Ledger
from tests.conftest import PV_2025
from tests.test_log import ORIGIN, publisher_key, seed

BLOCK = 1_000


def append_in_blocks(lg: Ledger, entries: list[bytes], clock: list[int]) -> None:
    for start in range(0, len(entries), BLOCK):
        result = lg.append(entries[start:start + BLOCK])
        assert result.ok, result.rejected[:3]
        clock[0] += 60_000
        lg.seal(time=clock[0])


@pytest.mark.slow
def test_whole_real_pv_file_imported_sealed_and_proved(tmp_path: Path) -> None:
    started = time.perf_counter()
    election = election_from_pv(PV_2025, name="Alegeri prezidențiale 2025, turul 2",
                                date="2025-05-18", tz="Europe/Bucharest")
    lg = Ledger.create(tmp_path / "led", ORIGIN, publisher_key(), election)
    rows = list(import_pv(PV_2025, tz=election.tz))
    stations = list({row.station.id: row.station for row in rows}.values())
    keys = {s.id: Signer(seed(s.id)) for s in stations}
    clock = [1_747_605_600_000]
    append_in_blocks(lg, [lg.sign(s.with_key(keys[s.id].public_key)) for s in stations], clock)
    reports = [encode_entry(sign_record(keys[row.station.id], ORIGIN, row.report))
               for row in rows]
    append_in_blocks(lg, reports, clock)
    seconds = time.perf_counter() - started
    size = lg.size
    assert len(stations) == len(reports) == 19_944
    blocks = -(-len(stations) // BLOCK) + -(-len(reports) // BLOCK)
    assert size == 1 + 2 * 19_944 + blocks
    assert lg.block_count == blocks

    # Every entry's inclusion proof at the final size, against the reference root.
    leaves = [leaf_hash(e) for e in lg.entries()]
    final = lg.latest_checkpoint()
    assert final is not None
    assert final.checkpoint.size == size
    assert final.checkpoint.root == reference_root(leaves)
    for index, leaf in enumerate(leaves):
        verify_inclusion(leaf, index, size, lg.inclusion_proof(index, size), final.checkpoint.root)

    # Consistency between every pair of consecutive checkpoints.
    checkpoints = [lg.checkpoint(h).checkpoint for h in range(lg.block_count)]
    for old, new in itertools.pairwise(checkpoints):
        verify_consistency(old.size, new.size, lg.consistency_proof(old.size, new.size),
                           old.root, new.root)

    disk = lg.store.disk_usage()
    lg.close()
    print(f"\nreal PV import: {size:,} entries ({blocks} blocks) in {seconds:.1f} s "
          f"({size / seconds:,.0f} entries/s); ledger on disk {disk / 2**20:.1f} MiB")
    assert seconds < 120
