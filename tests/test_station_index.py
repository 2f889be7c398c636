"""The station index (docs/spec.md, "The station index"): what publish writes, what verify finds
in a tampered one, ``prove --station`` over HTTP reading it instead of the whole log, mirrors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ledger.formats.station_index import parse_station_file, station_file
from ledger.publisher.publish import publish
from ledger.sources.ledger_dir import LedgerDirSource
from ledger.store.store import Store
from tests.test_sources import commit_blocks, golden_blocks
from tests.verify_support import EXPECTED, VALID, VALID_SMALL, audit

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


# --- verify ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The golden small log published with its station index (copied before any tampering)."""
    return _published(VALID_SMALL, tmp_path_factory.mktemp("small") / "site")


@pytest.fixture
def site(small_site: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(small_site, tmp_path / "site"))


def index_findings(site: Path) -> list[tuple[str | None, str | None, int | None]]:
    report = audit(site)
    assert all(f.category == "tiles" and f.code.startswith("station-index")
               for f in report.errors), [f.to_json() for f in report.errors]
    return [(f.where.file, f.where.station, f.where.index) for f in report.errors]


def edit_station(site: Path, station: str, **lists: list[int]) -> None:
    path = site / station_file(station)
    value = json.loads(path.read_bytes())
    value["entries"].update(lists)
    path.write_text(json.dumps(value), encoding="utf-8")


def test_a_published_index_that_matches_its_entries_verifies(site: Path) -> None:
    report = audit(site)
    assert report.ok, [f.to_json() for f in report.errors]
    assert report.extra["station_index"] == "checked: 8 stations"


def test_a_tree_published_before_the_index_verifies_and_says_it_has_none() -> None:
    report = audit(VALID_SMALL)
    assert report.ok
    assert report.extra["station_index"] == "absent"


def test_index_hiding_a_report_is_reported(site: Path) -> None:
    edit_station(site, "AB-1", report=[47, 55, 59, 62])  # the last one, 65, left out
    assert index_findings(site) == [("stations/AB-1.json", "AB-1", 65)]


def test_index_pointing_at_another_stations_report_is_reported(site: Path) -> None:
    edit_station(site, "AB-1", report=[47, 48, 55, 59, 62, 65])  # 48 is AB-2's
    assert index_findings(site) == [("stations/AB-1.json", "AB-1", 48)]


def test_index_listing_a_turnout_as_a_report_is_reported(site: Path) -> None:
    edit_station(site, "AB-1", report=[38, 47, 55, 59, 62, 65])  # 38 is AB-1's turnout
    assert index_findings(site) == [("stations/AB-1.json", "AB-1", 38)]


def test_index_hiding_a_revocation_is_reported(site: Path) -> None:
    edit_station(site, "AB-8", revoke=[])
    assert index_findings(site) == [("stations/AB-8.json", "AB-8", 18)]


def test_index_dropping_a_station_is_reported(site: Path) -> None:
    names = json.loads((site / "stations/index.json").read_bytes())
    del names["AB-3"]
    (site / "stations/index.json").write_text(json.dumps(names), encoding="utf-8")
    (site / station_file("AB-3")).unlink()
    assert index_findings(site) == [("stations/index.json", "AB-3", None),
                                    ("stations/AB-3.json", "AB-3", None)]


def test_index_renaming_a_station_is_reported(site: Path) -> None:
    names = json.loads((site / "stations/index.json").read_bytes())
    names["AB-2"] = "Sala de sport"
    (site / "stations/index.json").write_text(json.dumps(names), encoding="utf-8")
    path = site / station_file("AB-2")
    path.write_bytes(path.read_bytes().replace("Casa de Cultură".encode(), b"Sala de sport"))
    assert index_findings(site) == [("stations/index.json", "AB-2", None),
                                    ("stations/AB-2.json", "AB-2", None)]


def test_index_listing_a_station_the_log_never_registered_is_reported(site: Path) -> None:
    names = json.loads((site / "stations/index.json").read_bytes())
    names["AB-99"] = "Nicăieri"
    (site / "stations/index.json").write_text(json.dumps(names), encoding="utf-8")
    assert index_findings(site) == [("stations/index.json", "AB-99", None)]


def test_a_station_file_that_is_not_json_or_of_another_station_is_reported(site: Path) -> None:
    (site / station_file("AB-4")).write_bytes(b"<html>not found</html>")
    shutil.copy(site / station_file("AB-6"), site / station_file("AB-5"))
    assert index_findings(site) == [("stations/AB-4.json", "AB-4", None),
                                    ("stations/AB-5.json", "AB-5", None)]


def test_entries_past_the_checkpoint_are_a_publish_in_progress_not_a_finding(
        site: Path) -> None:
    edit_station(site, "AB-1", report=[47, 55, 59, 62, 65, 68, 70])
    assert index_findings(site) == []
