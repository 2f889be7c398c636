"""A local-election ledger with one ballot per UAT (category P, mayors), from a manifest derived
from the PV file: ballots, reports that follow them, and every refusal of the ballot rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from election_ledger_cli.app import cli

from ledger.formats.records import Ballot, Report
from ledger.importers.manifest import manifest_from_pv, read_manifest
from ledger.publisher.ledger import Ledger

FIXTURES = Path(__file__).resolve().parent / "fixtures"
MAYORS = FIXTURES / "pv_part_cntry_p.csv"
ORIGIN = "prezenta.example.ro/locale09062024"


def ledger_cli(*args: str | Path, ok: int = 0) -> Any:
    result = CliRunner().invoke(cli, [str(a) for a in (*args, "--json")],
                                catch_exceptions=False)
    assert result.exit_code == ok, result.output
    return json.loads(result.stdout)


def _manifest(tmp_path: Path, *files: Path) -> Path:
    out = tmp_path / "manifest.json"
    ledger_cli("manifest", "--format", "aep-pv", *files, "--name", "Locale 2024", "--date",
               "2024-06-09", "--tz", "Europe/Bucharest", "-o", out)
    return out


def _ledger(tmp_path: Path, manifest: Path) -> tuple[Path, Path]:
    keys = tmp_path / "keys"
    ledger_cli("keygen", "publisher", "--key-name", ORIGIN, "-o", keys)
    led = tmp_path / "led"
    created = ledger_cli("init", led, "--origin", ORIGIN, "--key", keys / "publisher.key",
                         "--election", manifest)
    assert created["tree_size"] == 1 + created["ballots"]
    ledger_cli("station", "import", led, "--key", keys / "publisher.key", MAYORS, "--keys-out",
               tmp_path / "st")
    return led, keys / "publisher.key"


def test_the_manifest_has_one_ballot_per_uat_from_the_non_empty_vote_cells() -> None:
    manifest = manifest_from_pv([MAYORS], name="x", date="2024-06-09", tz="Europe/Bucharest")
    assert manifest.election.categories["P"].scope == "uat"
    assert manifest.ballots == (
        Ballot(category="P", constituency="1017",
               competitors=("CANDIDAT A", "CANDIDAT B", "CANDIDAT C")),
        Ballot(category="P", constituency="1213", competitors=("CANDIDAT A", "CANDIDAT D")),
    )


def test_reports_follow_their_uats_ballot_and_the_log_verifies(tmp_path: Path) -> None:
    led, key = _ledger(tmp_path, _manifest(tmp_path, MAYORS))
    done = ledger_cli("import", led, "--format", "aep-pv", "--key", key, MAYORS)
    assert done["summary"]["rows_by_kind"]["report"]["written"] == 3
    ledger_cli("seal", led, "--key", key)
    audit = ledger_cli("verify", led, "--pub", key.with_suffix(".pub"))
    assert audit["errors"] == []
    assert audit["summary"]["records_by_kind"]["ballot"] == 2
    with Ledger.open(led) as lg:
        ciugud = [lg.record(i) for i in range(lg.size)]
    [report] = [r for r in ciugud if isinstance(r, Report) and r.station == "AB-7"]
    assert set(report.votes) == {"CANDIDAT A", "CANDIDAT D"}  # the empty cells: not on it


def test_rows_of_one_uat_that_disagree_on_its_ballot_refuse_the_file_naming_both_lines(
    tmp_path: Path,
) -> None:
    lines = MAYORS.read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2] + "0"  # AB-2 (UAT 1017) now lists CANDIDAT D, with 0 votes
    bad = tmp_path / "p.csv"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["manifest", "--format", "aep-pv", str(bad), "--name", "x",
                                      "--date", "2024-06-09", "--tz", "Europe/Bucharest"])
    assert result.exit_code == 2
    assert f"{bad}:2" in result.output  # the earlier row of the UAT
    assert f"{bad}:3" in result.output  # the row that disagrees


def test_a_report_for_a_uat_without_a_ballot_is_refused_naming_its_line(tmp_path: Path) -> None:
    manifest = _manifest(tmp_path, MAYORS)
    obj = json.loads(manifest.read_text(encoding="utf-8"))
    obj["ballots"] = [b for b in obj["ballots"] if b["constituency"] != "1213"]
    manifest.write_text(json.dumps(obj), encoding="utf-8")
    led, key = _ledger(tmp_path, manifest)
    done = ledger_cli("import", led, "--format", "aep-pv", "--key", key, MAYORS, ok=1)
    [refused] = done["errors"]
    assert (refused["code"], refused["station"], refused["line"]) == ("PV-NO-BALLOT", "AB-7", 4)
    # The ballot comes later, and the report goes in.
    ledger_cli("ballot", "add", led, "--key", key, "--category", "P", "--constituency", "1213",
               "--competitor", "CANDIDAT A", "--competitor", "CANDIDAT D")
    again = ledger_cli("import", led, "--format", "aep-pv", "--key", key, MAYORS)
    assert again["summary"]["rows_by_kind"]["report"] == {
        "written": 1, "unchanged": 2, "stale": 0, "refused": 0}


@pytest.mark.parametrize(("category", "constituency", "code"), [
    ("P", "1017", "BALLOT-TWICE"),
    ("CL", "1017", "BALLOT-CATEGORY"),  # not in the election record
    ("P", "01017", "BALLOT-CONSTITUENCY"),  # a siruta has no leading zeros
])
def test_ballot_add_refuses_what_the_rules_refuse_and_changes_nothing(
    tmp_path: Path, category: str, constituency: str, code: str,
) -> None:
    led, key = _ledger(tmp_path, _manifest(tmp_path, MAYORS))
    before = ledger_cli("status", led)["tree_size"]
    refused = ledger_cli("ballot", "add", led, "--key", key, "--category", category,
                         "--constituency", constituency, "--competitor", "X", ok=1)
    assert refused["code"] == code
    assert ledger_cli("status", led)["tree_size"] == before


def test_a_manifest_with_a_ballot_the_rules_refuse_creates_no_ledger(tmp_path: Path) -> None:
    manifest = _manifest(tmp_path, MAYORS)
    obj = json.loads(manifest.read_text(encoding="utf-8"))
    obj["ballots"].append(obj["ballots"][0])  # two ballots for UAT 1017
    manifest.write_text(json.dumps(obj), encoding="utf-8")
    keys = tmp_path / "keys"
    ledger_cli("keygen", "publisher", "--key-name", ORIGIN, "-o", keys)
    result = CliRunner().invoke(cli, ["init", str(tmp_path / "led"), "--origin", ORIGIN,
                                      "--key", str(keys / "publisher.key"), "--election",
                                      str(manifest)])
    assert result.exit_code == 2
    assert "ballots[2]" in result.output
    assert not (tmp_path / "led").exists()


def test_init_still_reads_a_manifest_that_is_the_election_record_alone(tmp_path: Path) -> None:
    record = json.loads(_manifest(tmp_path, FIXTURES / "pv_part_cntry_refl1.csv")
                        .read_text(encoding="utf-8"))["election"]
    old = tmp_path / "old.json"
    old.write_text(json.dumps(record), encoding="utf-8")
    assert read_manifest(old).election.categories.keys() == {"REFL1"}
