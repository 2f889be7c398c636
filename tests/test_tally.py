"""`ledger tally`: the totals are the sums of the real files' columns, computed independently from
the CSV here; per-UAT winners of a local election; the turnout curve; refused entries count
nothing."""

from __future__ import annotations

import csv
import json
import socket
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from election_ledger_cli.app import cli

from ledger.auditor.tally import TallyBuilder
from ledger.auditor.verify import verify
from ledger.check.checker import CheckedEntry
from ledger.importers.stations import NCE_CODES
from ledger.publisher.ledger import Ledger
from ledger.sources.published import PublishedDirSource
from tests.conftest import PV_2025
from tests.test_ballots import MAYORS, _ledger, _manifest
from tests.test_election_night import FINAL, SNAPSHOTS, _referendum
from tests.verify_support import EXPECTED, PUBLISHER, VALID


def ledger_cli(*args: str | Path, ok: int = 0) -> Any:
    result = CliRunner().invoke(cli, [str(a) for a in (*args, "--json")],
                                catch_exceptions=False)
    assert result.exit_code == ok, result.output
    return json.loads(result.stdout)


def _column_sums(path: Path) -> tuple[Counter[str], dict[str, Counter[str]]]:
    """Votes per candidate nationally and per county code, read straight from the CSV."""
    national: Counter[str] = Counter()
    by_county: dict[str, Counter[str]] = defaultdict(Counter)
    with path.open(encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle):
            county = NCE_CODES[int(row["precinct_county_nce"])]
            for column, cell in row.items():
                if column.endswith("-voturi") and cell != "":
                    national[column[: -len("-voturi")]] += int(cell)
                    by_county[county][column[: -len("-voturi")]] += int(cell)
    return national, by_county


def _pv_ledger(tmp: Path, pv: Path, origin: str, date: str) -> tuple[Path, Path]:
    """A ledger of one real PV file: manifest, stations, every row (publisher-signed), sealed."""
    manifest = tmp / "m.json"
    ledger_cli("manifest", "--format", "aep-pv", pv, "--name", origin, "--date", date, "--tz",
               "Europe/Bucharest", "-o", manifest)
    keys = tmp / "keys"
    ledger_cli("keygen", "publisher", "--key-name", origin, "-o", keys)
    led = tmp / "led"
    key = keys / "publisher.key"
    ledger_cli("init", led, "--origin", origin, "--key", key, "--election", manifest)
    ledger_cli("station", "import", led, "--key", key, pv, "--keys-out", tmp / "st")
    ledger_cli("import", led, "--format", "aep-pv", "--key", key, pv)
    ledger_cli("seal", led, "--key", key)
    return led, key.with_suffix(".pub")


@pytest.fixture(scope="module")
def round1(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return _pv_ledger(tmp_path_factory.mktemp("round1"), FINAL,
                      "prezenta.example.ro/prezidentiale04052025", "2025-05-04")


def test_the_second_round_gives_the_csv_column_sums_per_candidate_and_county(
    tmp_path: Path,
) -> None:
    # Three counties of the 2025 run-off (the whole file is `make election-night`'s scale).
    lines = PV_2025.read_text(encoding="utf-8-sig").splitlines()
    pv = tmp_path / "pv_part_cntry_prsd.csv"
    pv.write_text("\n".join([lines[0], *(line for line in lines[1:]
                                          if line.split(",", 1)[0] in ("1", "13", "42"))])
                  + "\n", encoding="utf-8")
    led, pub = _pv_ledger(tmp_path, pv, "prezenta.example.ro/prezidentiale18052025",
                          "2025-05-18")
    national, by_county = _column_sums(pv)
    prsd = ledger_cli("tally", led, "--pub", pub)["tally"]["categories"]["PRSD"]
    assert prsd["national"]["votes"] == dict(national)
    assert {k: v["votes"] for k, v in prsd["by_county"].items()} == {
        k: dict(v) for k, v in by_county.items()}
    assert set(prsd["by_county"]) == {"AB", "CJ", "B"}


def test_votes_per_candidate_and_county_are_the_csv_column_sums(
    round1: tuple[Path, Path], tmp_path: Path,
) -> None:
    led, pub = round1
    national, by_county = _column_sums(FINAL)
    done = ledger_cli("tally", led, "--pub", pub, "--csv", tmp_path / "csv")
    prsd = done["tally"]["categories"]["PRSD"]
    assert prsd["national"]["votes"] == dict(national)
    assert {k: v["votes"] for k, v in prsd["by_county"].items()} == {
        k: dict(v) for k, v in by_county.items()}
    assert prsd["reported"] == done["tally"]["stations_registered"] == 205
    assert (prsd["counted_signed_by"]["station"], prsd["counted_signed_by"]["publisher"]) == (
        0, 205)
    assert done["tally"]["not_reported"] == {"PRSD": []}
    with (tmp_path / "csv" / "PRSD-national.csv").open(encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0][:3] == ["where", "stations", "valid votes"]
    assert sum(int(n) for n in rows[1][3:]) == sum(national.values())


def test_valid_votes_share_is_of_the_c_letter_for_presidential(round1: tuple[Path, Path]) -> None:
    led, pub = round1
    prsd = ledger_cli("tally", led, "--pub", pub)["tally"]["categories"]["PRSD"]["national"]
    assert prsd["valid_votes"] == prsd["fields"]["c"]["total"] == sum(prsd["votes"].values())
    assert abs(sum(prsd["shares"].values()) - 100.0) < 0.01
    assert prsd["fields"]["c"]["name"] == "valid votes"


def test_a_local_election_gives_per_uat_winners(tmp_path: Path) -> None:
    led, key = _ledger(tmp_path, _manifest(tmp_path, MAYORS))
    ledger_cli("import", led, "--format", "aep-pv", "--key", key, MAYORS)
    ledger_cli("seal", led, "--key", key)
    mayors = ledger_cli("tally", led, "--pub", key.with_suffix(".pub"))["tally"]["categories"]["P"]
    winners = {uat: t["winner"] for uat, t in mayors["by_constituency"].items()}
    assert winners == {"1017": "CANDIDAT A", "1213": "CANDIDAT A"}
    assert mayors["by_constituency"]["1213"]["votes"] == {"CANDIDAT A": 400, "CANDIDAT D": 190}


def test_the_turnout_curve_per_county_ends_at_the_last_snapshots_lt(tmp_path: Path) -> None:
    led, key = _referendum(tmp_path)
    for snapshot in SNAPSHOTS:
        ledger_cli("import", led, "--format", "aep-turnout", "--key", key, snapshot,
                   "--corrections", "lower counters republished")
    ledger_cli("seal", led, "--key", key)
    turnout = ledger_cli("tally", led, "--pub", key.with_suffix(".pub"))["tally"]["turnout"]
    with SNAPSHOTS[-1].open(encoding="utf-8-sig", newline="") as handle:
        last = sum(int(row["LT"]) for row in csv.DictReader(handle))
    bihor = turnout["by_county"]["BH"]
    assert bihor["final_LT"] == last
    assert len(bihor["points"]) == len(SNAPSHOTS)  # one 15-minute bin per snapshot
    assert [p["LT"] for p in bihor["points"]] == sorted(p["LT"] for p in bihor["points"])
    assert 0 < bihor["share"] < 100


def test_a_log_with_errors_is_tallied_from_accepted_entries_only_and_exits_1(
    tmp_path: Path,
) -> None:
    bad = Path(__file__).parent / "vectors/election-ledger-v1/reject/presidential-hard-rule"
    seen: list[int] = []

    def observe(checked: CheckedEntry) -> None:
        seen.append(checked.index)

    report = verify(PublishedDirSource(bad), PUBLISHER, workers=1, observer=observe)
    [error] = report.errors
    assert error.where.index not in seen  # the refused report is never counted
    assert len(seen) == (report.tree_size or 0) - 1
    pub = tmp_path / "publisher.pub"
    pub.write_text(str(PUBLISHER) + "\n", encoding="ascii")
    done = ledger_cli("tally", bad, "--pub", pub, ok=1)
    assert [e["code"] for e in done["errors"]] == [error.code]
    assert done["tally"]["log_errors"] == 1
    text = CliRunner().invoke(cli, ["tally", str(bad), "--pub", str(pub)]).output
    assert text.index("error [rules]") < text.index("tally of")  # the errors come first


def test_the_golden_log_counts_every_registered_station_once() -> None:
    builder = TallyBuilder()
    verify(PublishedDirSource(VALID), PUBLISHER, workers=1, observer=builder.add)
    tally = builder.result(origin="x", tree_size=EXPECTED["tree_size"])
    assert tally.stations == EXPECTED["stations"]
    prsd = tally.categories["PRSD"]
    assert prsd.reported + len(tally.not_reported["PRSD"]) == EXPECTED["stations"]
    assert "SR-6" in prsd.publisher_signed_stations  # its report is the publisher's: said so
    assert "AB-1" not in prsd.publisher_signed_stations  # AB-1 signed its own FINAL report


def test_charts_are_png_files_of_the_results_and_the_turnout(tmp_path: Path) -> None:
    pub = tmp_path / "publisher.pub"
    pub.write_text(str(PUBLISHER) + "\n", encoding="ascii")
    ledger_cli("tally", VALID, "--pub", pub, "--chart", tmp_path / "charts")
    for name in ("results-PRSD.png", "results-S.png", "turnout.png"):
        data = (tmp_path / "charts" / name).read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
        assert len(data) > 5_000


def test_publish_results_writes_the_tally_anyone_reproduces(tmp_path: Path) -> None:
    led, key = _ledger(tmp_path, _manifest(tmp_path, MAYORS))
    ledger_cli("import", led, "--format", "aep-pv", "--key", key, MAYORS)
    ledger_cli("seal", led, "--key", key)
    site = tmp_path / "site"
    ledger_cli("publish", led, site, "--results")
    published = json.loads((site / "results.json").read_text(encoding="utf-8"))
    again = ledger_cli("tally", site, "--pub", key.with_suffix(".pub"))["tally"]
    assert {k: v for k, v in published.items() if k in again} == again
    assert "publisher" in published["computed_by"]
    assert published["tree_size"] == ledger_cli("status", led)["tree_size"]


def test_a_tally_resumed_from_its_state_reads_only_what_is_new_and_gives_the_same_totals(
    tmp_path: Path,
) -> None:
    led, key = _referendum(tmp_path)
    pub = key.with_suffix(".pub")
    state, trusted = tmp_path / "audit.state", tmp_path / "trusted"
    ledger_cli("import", led, "--format", "aep-turnout", "--key", key, SNAPSHOTS[0])
    ledger_cli("seal", led, "--key", key)
    first = ledger_cli("tally", led, "--pub", pub, "--state", state)
    assert first["resumed_from"] is None
    trusted.write_bytes(_checkpoint(led))
    ledger_cli("import", led, "--format", "aep-turnout", "--key", key, SNAPSHOTS[1],
               "--corrections", "lower counters republished")
    ledger_cli("seal", led, "--key", key)
    resumed = ledger_cli("tally", led, "--pub", pub, "--state", state, "--trusted", trusted)
    full = ledger_cli("tally", led, "--pub", pub)
    assert resumed["resumed_from"] == first["tally"]["tree_size"]
    assert resumed["tally"] == full["tally"]
    # A state a bare verify wrote has no tally in it: the tally then reads the whole log.
    bare = tmp_path / "bare.state"
    ledger_cli("verify", led, "--pub", pub, "--state", bare)
    assert ledger_cli("tally", led, "--pub", pub, "--state", bare)["resumed_from"] is None


def _checkpoint(led: Path) -> bytes:
    with Ledger.open(led) as lg:
        latest = lg.latest_checkpoint()
    assert latest is not None
    return latest.note_bytes


def test_a_tally_reads_from_a_mirror_when_the_first_source_does_not_answer(
    tmp_path: Path,
) -> None:
    pub = tmp_path / "publisher.pub"
    pub.write_text(str(PUBLISHER) + "\n", encoding="ascii")
    with socket.socket() as closed:  # a port nothing listens on: the first source is down
        closed.bind(("127.0.0.1", 0))
        down = f"http://127.0.0.1:{closed.getsockname()[1]}/log"
    done = ledger_cli("tally", down, "--source", VALID, "--pub", pub)
    assert done["ok"] is True
    assert done["tally"]["tree_size"] == EXPECTED["tree_size"]
