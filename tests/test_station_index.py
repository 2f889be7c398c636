"""The station index (docs/spec.md, "The station index"): what publish writes, what verify finds
in a tampered one, ``prove --station`` over HTTP reading it instead of the whole log, mirrors."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from election_ledger_cli.app import cli

from benchmarks.generator import ORIGIN, publisher_signer
from benchmarks.workloads import PUBLISHED_DIR, ingest
from ledger.auditor.prove import StationProof, prove_station
from ledger.auditor.receipts import check_receipt
from ledger.auditor.verify import verify
from ledger.formats.keys import verifier_key_for
from ledger.formats.station_index import parse_station_file, station_file
from ledger.mirror.pull import Mirror
from ledger.publisher.destination import DirectoryDestination
from ledger.publisher.ledger import Ledger
from ledger.publisher.publish import publish
from ledger.sources.http import HttpSource
from ledger.sources.ledger_dir import LedgerDirSource
from ledger.sources.published import PublishedDirSource
from ledger.store.store import Store
from tests.http_support import local_server
from tests.test_log import new_ledger, publisher_key, signed, station_signer
from tests.test_log import turnout as turnout_of
from tests.test_sources import commit_blocks, golden_blocks
from tests.verify_support import EXPECTED, PUBLISHER, VALID, VALID_SMALL, audit
from tests.witness_support import witness_key

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


def every_file(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_a_republish_from_every_block_gives_the_tree_a_publish_from_nothing_gives(
        tmp_path: Path) -> None:
    # The station index carries on from the destination's files; where it cannot (VALID's
    # revoke at 18 names a key registered at 8) it is derived from every entry again.
    blocks = golden_blocks(VALID, 308)
    fresh = every_file(_published(VALID, tmp_path / "fresh"))
    for k in range(1, len(blocks)):
        out = tmp_path / f"out-{k}"
        with Store.create(tmp_path / f"ledger-{k}", {"vkey": EXPECTED["vkey"].encode()}) as store:
            commit_blocks(store, blocks[:k])
            publish(LedgerDirSource.from_store(store), out)
            commit_blocks(store, blocks[k:])
            store.put_meta("cosigned_checkpoint", (VALID / "checkpoint").read_bytes())
            publish(LedgerDirSource.from_store(store), out)
        assert every_file(out) == fresh, k


def test_a_publish_stopped_before_its_checkpoint_leaves_no_entry_listed_twice(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = golden_blocks(VALID, 308)
    out = tmp_path / "out"
    with Store.create(tmp_path / "ledger", {"vkey": EXPECTED["vkey"].encode()}) as store:
        commit_blocks(store, blocks[:4])
        publish(LedgerDirSource.from_store(store), out)
        commit_blocks(store, blocks[4:6])
        real_put = DirectoryDestination.put

        def no_checkpoint(self: DirectoryDestination, path: str, data: bytes) -> None:
            if path == "checkpoint":
                raise OSError(28, "No space left on device")
            real_put(self, path, data)

        with monkeypatch.context() as patch:
            patch.setattr(DirectoryDestination, "put", no_checkpoint)
            with pytest.raises(OSError, match="No space"):
                publish(LedgerDirSource.from_store(store), out)
        commit_blocks(store, blocks[6:])
        store.put_meta("cosigned_checkpoint", (VALID / "checkpoint").read_bytes())
        publish(LedgerDirSource.from_store(store), out)
    assert every_file(out) == every_file(_published(VALID, tmp_path / "fresh"))


def test_a_revoke_of_a_key_registered_before_is_listed_from_the_ledgers_own_registry(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ledger = new_ledger(tmp_path / "ledger")
    ledger.append([signed(turnout_of("AB-1", 5)), signed(turnout_of("AB-2", 7))])
    ledger.seal()
    ledger.close()  # the checker state is stored on close
    out = tmp_path / "out"
    publish(str(tmp_path / "ledger"), out)
    with Ledger.open(tmp_path / "ledger", signer=publisher_key()) as ledger:
        ledger.revoke_key(station_signer("AB-1").key_id, "lost tablet")
        ledger.seal()
    from ledger.publisher import publish as publish_module

    def every_entry_read(*args: object) -> None:
        raise AssertionError("the index was derived from every entry again")

    with monkeypatch.context() as patch:
        patch.setattr(publish_module, "_index_of_every_entry", every_entry_read)
        again = publish(str(tmp_path / "ledger"), out)
    assert "stations/AB-1.json" in again.paths_written
    assert "stations/AB-2.json" not in again.paths_written
    assert every_file(out) == every_file(_published(tmp_path / "ledger", tmp_path / "fresh"))
    ab1 = parse_station_file((out / station_file("AB-1")).read_bytes(), station_file("AB-1"))
    assert len(ab1.entries["revoke"]) == 1


def test_a_damaged_station_file_is_rewritten_by_a_full_publish(tmp_path: Path) -> None:
    out = _published(VALID, tmp_path / "out")
    (out / station_file("AB-3")).write_bytes(b"{")
    assert "stations/AB-3.json" not in publish(str(VALID), out).paths_written
    assert publish(str(VALID), out, full=True).paths_written == ("stations/AB-3.json",)
    assert every_file(out) == every_file(_published(VALID, tmp_path / "fresh"))


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


def edit_station(site: Path, who: str, /, **lists: list[int]) -> None:
    """Replace lists of ``who``'s file (``station=``, ``turnout=``, ``report=``, ``revoke=``)."""
    path = site / station_file(who)
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


def test_verify_over_http_fetches_the_station_files_and_reports_a_hidden_report(
        site: Path) -> None:
    edit_station(site, "AB-2", report=[48, 56])  # hides 63
    with local_server(site) as server, HttpSource(server.url) as source:
        report = verify(source, PUBLISHER, workers=1)
        paths = set(server.behaviour.paths)
    assert [(f.code, f.where.file, f.where.index) for f in report.errors] == [
        ("station-index", "stations/AB-2.json", 63)]
    assert {f"/stations/{s}.json" for s in SMALL_STATIONS} | {"/stations/index.json"} <= paths


def test_entries_past_the_checkpoint_are_a_publish_in_progress_not_a_finding(
        site: Path) -> None:
    edit_station(site, "AB-1", report=[47, 55, 59, 62, 65, 68, 70])
    assert index_findings(site) == []


# --- prove --station over HTTP -----------------------------------------------------------------


@pytest.fixture(scope="module")
def big_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A published log of 3,007 entries (60 stations, 12 bundles), with its station index."""
    folder = tmp_path_factory.mktemp("big")
    ingest(3000, folder, 1, 0)
    return folder / PUBLISHED_DIR


@pytest.fixture
def big_copy(big_site: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(big_site, tmp_path / "site"))


BIG_PUBLISHER = verifier_key_for(ORIGIN, publisher_signer(1).public_key)


def stations_in(site: Path) -> list[str]:
    return list(json.loads((site / "stations/index.json").read_bytes()))


def prove_over_http(site: Path, station: str) -> tuple[StationProof, int]:
    """``prove --station`` against ``site`` served over HTTP: the proof and the requests made."""
    with local_server(site) as server, HttpSource(server.url) as source:
        proof = prove_station(source, station)
        return proof, server.behaviour.requests


def test_prove_station_over_http_reads_the_index_not_the_whole_log(big_site: Path,
                                                                   tmp_path: Path) -> None:
    station = stations_in(big_site)[7]
    with_index, indexed_requests = prove_over_http(big_site, station)
    old = Path(shutil.copytree(big_site, tmp_path / "old"))
    shutil.rmtree(old / "stations")  # a tree published before the index
    scanned, scan_requests = prove_over_http(old, station)
    assert (with_index.lookup, scanned.lookup) == ("index", "scan")
    assert scanned.notes == (f"station index stations/{station}.json: the source has none; "
                             "read the whole log instead",)
    assert with_index.record == scanned.record
    assert with_index.registration == scanned.registration
    assert scan_requests >= 12  # every bundle, and the tiles of the proofs
    assert indexed_requests <= 8  # checkpoint, station file, two bundles, the proofs' tiles
    assert indexed_requests * 2 < scan_requests
    assert with_index.registration is not None
    check_receipt(with_index.record, BIG_PUBLISHER, with_index.registration)


def test_index_pointing_at_another_station_cannot_fake_a_receipt(big_copy: Path) -> None:
    station, other = stations_in(big_copy)[3:5]
    theirs = json.loads((big_copy / station_file(other)).read_bytes())["entries"]["report"]
    mine = json.loads((big_copy / station_file(station)).read_bytes())["entries"]["report"]
    edit_station(big_copy, station, report=sorted({*mine, *theirs}))
    proof, _ = prove_over_http(big_copy, station)
    assert proof.lookup == "scan"
    assert f"lists entry {max(theirs)}, which is not a report of station {station}" \
        in proof.notes[0]
    assert proof.record.index == max(mine)
    assert check_receipt(proof.record, BIG_PUBLISHER, proof.registration).station == station


def test_index_pointing_at_a_forged_registration_cannot_fake_a_receipt(big_copy: Path) -> None:
    station, other = stations_in(big_copy)[3:5]
    theirs = json.loads((big_copy / station_file(other)).read_bytes())["entries"]["station"]
    edit_station(big_copy, station, station=theirs)  # another station's key as this one's
    proof, _ = prove_over_http(big_copy, station)
    assert proof.lookup == "scan"
    assert "which is not a station record of" in proof.notes[0]
    assert check_receipt(proof.record, BIG_PUBLISHER, proof.registration).station == station


def test_index_hiding_a_report_gives_no_receipt_from_the_index(big_copy: Path) -> None:
    station = stations_in(big_copy)[2]
    edit_station(big_copy, station, report=[])
    proof, _ = prove_over_http(big_copy, station)
    assert proof.lookup == "scan"  # hidden from the index, found by reading the log
    assert proof.notes == (f"station index stations/{station}.json: it lists no report; read "
                           "the whole log instead",)
    assert check_receipt(proof.record, BIG_PUBLISHER, proof.registration).station == station


def test_cli_prove_station_over_http_says_when_the_index_was_not_used(big_copy: Path,
                                                                     tmp_path: Path) -> None:
    station = stations_in(big_copy)[1]
    with local_server(big_copy) as server:
        ok = CliRunner().invoke(cli, ["prove", server.url, "--station", station, "-o",
                                      str(tmp_path / "a"), "--json"])
        (big_copy / station_file(station)).write_bytes(b"{}")
        fallback = CliRunner().invoke(cli, ["prove", server.url, "--station", station, "-o",
                                            str(tmp_path / "b")])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["lookup"] == "index"
    assert fallback.exit_code == 0, fallback.output
    assert f"ledger: note: station index stations/{station}.json: station index " in \
        fallback.stderr
    assert "read the whole log instead" in fallback.stderr
    for name in (f"{station}-report.tlog-proof", f"{station}-station.tlog-proof"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


# --- mirrors ---------------------------------------------------------------------------------


def a_mirror(root: Path) -> Mirror:
    return Mirror(root, PUBLISHER, witness_key("mirror.example.org/copy"))


def growing_site(tmp_path: Path, first_blocks: int = 4) -> tuple[Path, Callable[[], None]]:
    """The golden log published up to its ``first_blocks``-th block (4: size 221), and a
    function that publishes it at 308."""
    site, blocks = tmp_path / "site", golden_blocks(VALID, 308)
    store = Store.create(tmp_path / "ledger", {"vkey": EXPECTED["vkey"].encode()})
    commit_blocks(store, blocks[:first_blocks])
    publish(LedgerDirSource.from_store(store), site)

    def grow() -> None:
        commit_blocks(store, blocks[first_blocks:])
        publish(LedgerDirSource.from_store(store), site)
        store.close()

    return site, grow


def test_a_mirror_serves_the_station_index_and_prove_reads_it_there(big_site: Path,
                                                                    tmp_path: Path) -> None:
    mirror = Mirror(tmp_path / "mirror", BIG_PUBLISHER, witness_key("mirror.example.org/copy"))
    with local_server(big_site) as server, HttpSource(server.url) as source:
        assert mirror.pull([source], workers=1).status == "moved"
    assert stations_of(mirror.directory) == stations_of(big_site)
    station = stations_in(big_site)[5]
    proof, requests = prove_over_http(mirror.directory, station)
    assert (proof.lookup, proof.notes) == ("index", ())
    assert requests <= 8
    check_receipt(proof.record, BIG_PUBLISHER, proof.registration)


@pytest.mark.parametrize(("first_blocks", "resumed_at"), [(4, 221), (2, 95)])
def test_a_resumed_pull_brings_the_station_index_up_to_date(tmp_path: Path, first_blocks: int,
                                                            resumed_at: int) -> None:
    # resumed at 95, the next entry revokes a key registered before: its station comes from
    # the mirror's audit state
    site, grow = growing_site(tmp_path, first_blocks)
    mirror = a_mirror(tmp_path / "mirror")
    assert mirror.pull([PublishedDirSource(site)], workers=1).status == "moved"
    assert stations_of(mirror.directory) == stations_of(site)
    grow()
    result = mirror.pull([PublishedDirSource(site)], workers=1)
    assert (result.status, result.resumed_from) == ("moved", resumed_at)
    assert stations_of(mirror.directory) == stations_of(site)
    assert json.loads((mirror.directory / "audit.json").read_bytes())["ok"] is True


def test_a_mirror_of_a_tampered_index_serves_its_own_and_reports_the_source(
        site: Path, tmp_path: Path) -> None:
    edit_station(site, "AB-1", report=[47, 55, 59, 62])  # hides 65
    mirror = a_mirror(tmp_path / "mirror")
    result = mirror.pull([PublishedDirSource(site)], workers=1)
    assert result.status == "moved"  # the copy is good: only the source's index is wrong
    audit_json = json.loads((mirror.directory / "audit.json").read_bytes())
    assert [(e["code"], e["file"], e["index"]) for e in audit_json["errors"]] == [
        ("station-index", "stations/AB-1.json", 65)]
    assert stations_of(mirror.directory) == stations_of(_published(VALID_SMALL,
                                                                   tmp_path / "fresh"))


def test_a_resumed_pull_reports_a_source_index_hiding_a_new_report(tmp_path: Path) -> None:
    site, grow = growing_site(tmp_path)
    mirror = a_mirror(tmp_path / "mirror")
    assert mirror.pull([PublishedDirSource(site)], workers=1).status == "moved"
    grow()
    hidden = json.loads((site / station_file("AB-1")).read_bytes())["entries"]["report"]
    edit_station(site, "AB-1", report=hidden[:-1])
    assert mirror.pull([PublishedDirSource(site)], workers=1).status == "moved"
    audit_json = json.loads((mirror.directory / "audit.json").read_bytes())
    assert [(e["code"], e["file"], e["index"]) for e in audit_json["errors"]] == [
        ("station-index", "stations/AB-1.json", hidden[-1])]
    assert json.loads((mirror.directory / station_file("AB-1")).read_bytes())["entries"][
        "report"] == hidden
