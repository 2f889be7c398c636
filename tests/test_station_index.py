"""The station index (docs/spec.md, "The station index"): what publish writes, what verify finds
in a tampered one, ``prove --station`` over HTTP reading it instead of the whole log, mirrors."""

from __future__ import annotations

import json
from pathlib import Path

from ledger.formats.station_index import parse_station_file, station_file
from ledger.publisher.publish import publish
from ledger.sources.ledger_dir import LedgerDirSource
from ledger.store.store import Store
from tests.test_sources import commit_blocks, golden_blocks
from tests.verify_support import EXPECTED, VALID, VALID_SMALL

#: The station index of the golden small log, exactly (AB-8's key revoked at 18, registered
#: again at 19; AB-6 registered again at 28).
SMALL_STATIONS = {
    "AB-1": ("Liceul Teoretic „Lucian Blaga”", [1], [10, 20, 30, 38], [47, 55, 59, 62, 65], []),
    "AB-2": ("Casa de Cultură", [2], [11, 21, 31, 39], [48, 56, 63], []),
    "AB-3": ("Grădinița nr. 3", [3], [12, 22, 32, 40, 66], [49, 57], []),
    "AB-4": ("Școala Gimnazială nr. 4", [4], [13, 23, 33, 41], [50, 58], []),
    "AB-5": ("Liceul Teoretic „Lucian Blaga”", [5], [14, 24, 34, 42], [51], []),
    "AB-6": ("Casa de Cultură", [6, 28], [15, 25, 35, 43], [52], []),
    "AB-7": ("Grădinița nr. 7", [7], [16, 26, 36, 44], [53, 64], []),
    "AB-8": ("Școala Gimnazială nr. 8", [8, 19], [17, 27, 37, 45], [54], [18]),
}


def stations_of(root: Path) -> dict[str, bytes]:
    folder = root / "stations"
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# --- publish ---------------------------------------------------------------------------------


def test_publish_writes_the_station_index_exactly(tmp_path: Path) -> None:
    publish(str(VALID_SMALL), tmp_path)
    files = stations_of(tmp_path)
    assert set(files) == {"index.json"} | {f"{s}.json" for s in SMALL_STATIONS}
    assert json.loads(files["index.json"]) == {s: v[0] for s, v in SMALL_STATIONS.items()}
    assert list(json.loads(files["index.json"])) == sorted(SMALL_STATIONS)
    for station, (name, registered, turnout, report, revoke) in SMALL_STATIONS.items():
        expected = {"station": station, "name": name, "entries": {
            "station": registered, "turnout": turnout, "report": report, "revoke": revoke}}
        assert json.loads(files[f"{station}.json"]) == expected
    assert files["AB-8.json"] == (
        '{"station":"AB-8","name":"Școala Gimnazială nr. 8","entries":{"station":[8,19],'
        '"turnout":[17,27,37,45],"report":[54],"revoke":[18]}}\n').encode()


def test_republishing_a_grown_log_rewrites_only_the_station_files_that_changed(
        tmp_path: Path) -> None:
    blocks = golden_blocks(VALID, 308)
    out = tmp_path / "out"
    with Store.create(tmp_path / "ledger", {"vkey": EXPECTED["vkey"].encode()}) as store:
        commit_blocks(store, blocks[:4])
        publish(LedgerDirSource.from_store(store), out)
        before = stations_of(out)
        commit_blocks(store, blocks[4:])
        store.put_meta("cosigned_checkpoint", (VALID / "checkpoint").read_bytes())
        after = publish(LedgerDirSource.from_store(store), out)
    now = stations_of(out)
    fresh = stations_of(_published(VALID, tmp_path / "fresh"))
    assert now == fresh  # the same as publishing the grown log from nothing
    changed = {f"stations/{n}" for n in now if before.get(n) != now[n]}
    assert changed
    assert changed == {p for p in after.paths_written if p.startswith("stations/")}
    assert len(changed) < len(now)  # a station with nothing new keeps its file
    ab1 = parse_station_file(now["AB-1.json"], station_file("AB-1"))
    assert ab1.entries["report"]
    assert all(i > 220 for i in ab1.entries["report"])


def _published(source: Path, out: Path) -> Path:
    publish(str(source), out)
    return out
