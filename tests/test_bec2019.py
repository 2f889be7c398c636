"""The BEC 2019 PV form (docs/records.md, "The BEC 2019 PV form"), on slices of the 2019
presidential round 1 and its whole mail file (tests/data/slices/SOURCES.md), and on a European
2019 file built from its documented header."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from election_ledger_cli.app import cli

from benchmarks.bec2019 import csv_sums, ledger_totals, legend_of
from ledger.errors import InputError
from ledger.formats.times import parse_time
from ledger.importers.bec2019_pv import (
    BEC_CODES,
    category_from_name,
    read_bec2019,
    read_legend,
)
from ledger.importers.manifest import manifest_from_pv
from ledger.importers.pv_forms import PvOptions, pv_rows
from ledger.importers.validation import validate_file
from ledger.publisher.ingest import detect_format

SLICE = Path(__file__).resolve().parent / "data" / "slices" / "prezidentiale10112019"
ROUND1 = SLICE / "pv_PRSD_FINAL_tur1.csv"
MAIL = SLICE / "pv_SR_PRSD-C_FINAL_tur1.csv"
LEGEND = SLICE / "Legenda.txt"
TZ = "Europe/Bucharest"
AT = "2019-11-10 21:00"


def ledger_cli(*args: str | Path, ok: int = 0) -> Any:
    result = CliRunner().invoke(cli, [str(a) for a in (*args, "--json")],
                                catch_exceptions=False)
    assert result.exit_code == ok, result.output
    return json.loads(result.stdout) if result.stdout.strip() else {}


def test_the_form_is_detected_from_its_header() -> None:
    assert detect_format(ROUND1) == "bec2019-pv"
    assert detect_format(MAIL) == "bec2019-pv"


def test_category_comes_from_the_file_name() -> None:
    assert category_from_name(ROUND1) == "PRSD"
    assert category_from_name(MAIL) == "PRSD_C"
    assert category_from_name("pv_EUP_FINAL.csv") == "EUP"
    assert category_from_name("results.csv") is None


def test_bureau_codes_are_the_forms_own() -> None:
    assert (BEC_CODES[1], BEC_CODES[41]) == ("AB", "VN")
    assert {BEC_CODES[n] for n in range(42, 48)} == {"B"}
    assert (BEC_CODES[48], len(BEC_CODES)) == ("SR", 48)


def test_the_legend_names_each_files_columns() -> None:
    legend = read_legend(LEGEND)
    assert set(legend.sections) >= {ROUND1.name, MAIL.name}
    assert legend.competitors(ROUND1.name, ("g1", "g14")) == (
        "Klaus-Werner Iohannis", "Alexandru Cumpănașu")
    assert legend.competitors(MAIL.name, ("e2",)) == ("Theodor Paleologu",)
    with pytest.raises(InputError, match="no section"):
        legend.competitors("pv_other.csv", ("g1",))


def test_round1_rows_are_final_reports_with_the_given_time_and_version() -> None:
    at = parse_time(AT, TZ)
    rows = list(read_bec2019(ROUND1, at=at, legend=read_legend(LEGEND)))
    assert len(rows) == 206
    first = rows[0]
    assert (first.station.id, first.line) == ("B-1", 2)
    assert (first.report.stage, first.report.at) == ("FINAL", at)
    assert first.report.category == "PRSD"
    assert next(iter(first.report.votes)) == "Klaus-Werner Iohannis"
    assert {r.station.id.split("-")[0] for r in rows} == {"B", "SR"}
    assert max(r.report.version for r in rows) > 1
    assert all(r.repeats is None for r in rows)


def test_mail_bureaus_get_ids_of_their_own_and_the_repeated_one_is_marked() -> None:
    rows = list(read_bec2019(MAIL, at=0, legend=read_legend(LEGEND)))
    assert len(rows) == 98
    assert all(r.station.id.startswith("SR-C") for r in rows)
    repeated = [r for r in rows if r.repeats is not None]
    assert [(r.line, r.repeats, r.station.id) for r in repeated] == [(5, 4, "SR-C3")]


def test_validate_refuses_the_repeated_row_with_its_line() -> None:
    report = ledger_cli("validate", MAIL, "--legend", LEGEND, "--at", AT, ok=1)
    assert [(e["code"], e["line"]) for e in report["errors"]] == [("IMPORT-REPEATED", 5)]
    assert report["summary"]["rows"] == 98
    clean = ledger_cli("validate", "--format", "bec2019-pv", ROUND1, "--legend", LEGEND,
                       "--at", AT)
    assert clean["errors"] == []


@pytest.mark.parametrize(("args", "message"), [
    (["--at", AT], "legend file"),
    (["--legend", LEGEND], "carries no time"),
    (["--legend", LEGEND, "--at", AT, "--category", "S"], "does not use"),
])
def test_what_the_form_needs_must_be_given(args: list[Any], message: str) -> None:
    with pytest.raises(InputError, match=message):
        validate_file(ROUND1, fmt="bec2019-pv", tz=TZ, at=next(
            (args[i + 1] for i, a in enumerate(args) if a == "--at"), None),
            legend=next((args[i + 1] for i, a in enumerate(args) if a == "--legend"), None),
            category=next((args[i + 1] for i, a in enumerate(args) if a == "--category"),
                          None))


def test_a_legend_does_not_apply_to_the_aep_form(tmp_path: Path) -> None:
    fixture = Path(__file__).resolve().parent / "fixtures" / "pv_part_cntry_prsd_c.csv"
    result = CliRunner().invoke(cli, ["validate", "--format", "aep-pv", str(fixture),
                                      "--legend", str(LEGEND)])
    assert result.exit_code == 2
    assert "a legend file" in result.output


def test_a_file_name_without_category_needs_one(tmp_path: Path) -> None:
    renamed = tmp_path / "results.csv"
    renamed.write_bytes(ROUND1.read_bytes())
    legend = tmp_path / "Legenda.txt"
    legend.write_text(LEGEND.read_text(encoding="utf-8").replace(ROUND1.name, renamed.name),
                      encoding="utf-8")
    with pytest.raises(InputError, match="category must be given"):
        list(pv_rows(renamed, fmt="bec2019-pv", tz=TZ,
                     options=PvOptions(legend=legend, at=AT)))
    rows = list(pv_rows(renamed, fmt="bec2019-pv", tz=TZ,
                        options=PvOptions(legend=legend, at=AT, category="PRSD")))
    assert len(rows) == 206


def test_round1_and_mail_imported_and_verified_with_the_column_sums(tmp_path: Path) -> None:
    manifest = tmp_path / "m.json"
    ledger_cli("manifest", "--format", "bec2019-pv", ROUND1, MAIL, "--legend", LEGEND,
               "--name", "Presidential 2019, round 1", "--date", "2019-11-10", "--tz", TZ,
               "-o", manifest)
    origin = "prezenta.example.ro/prezidentiale10112019"
    ledger_cli("keygen", "publisher", "--key-name", origin, "-o", tmp_path / "keys")
    key = tmp_path / "keys" / "publisher.key"
    led = tmp_path / "led"
    ledger_cli("init", led, "--origin", origin, "--key", key, "--election", manifest)
    refused: dict[Path, set[int]] = {}
    for path in (ROUND1, MAIL):
        ledger_cli("station", "import", led, "--key", key, path, "--keys-out",
                   tmp_path / "stations")
        result = ledger_cli("import", led, "--key", key, path, "--legend", LEGEND, "--at", AT,
                            ok=1 if path == MAIL else 0)
        refused[path] = {e["line"] for e in result["errors"]}
        rows = next(iter(result["summary"]["rows_by_kind"].values()))
        expected = {"written": 206, "refused": 0} if path == ROUND1 else {
            "written": 97, "refused": 1}
        assert {k: rows[k] for k in expected} == expected
    assert refused[MAIL] == {5}
    ledger_cli("seal", led, "--key", key)
    audit = ledger_cli("verify", led, "--pub", key.with_suffix(".pub"))
    assert audit["errors"] == []
    totals = ledger_totals(led)
    assert totals["PRSD"] == csv_sums(ROUND1, refused[ROUND1], legend_of(LEGEND, ROUND1.name))
    assert totals["PRSD_C"] == csv_sums(MAIL, refused[MAIL], legend_of(LEGEND, MAIL.name))
    assert totals["PRSD_C"]["Klaus-Werner Iohannis"] > 0
    # The tally gives the precincts, the mail vote, and both combined (the official result).
    tally = ledger_cli("tally", led, "--pub", key.with_suffix(".pub"))["tally"]
    assert tally["categories"]["PRSD"]["national"]["votes"] == dict(totals["PRSD"])
    assert tally["categories"]["PRSD_C"]["national"]["votes"] == dict(totals["PRSD_C"])
    combined = tally["combined"]["PRSD+PRSD_C"]["votes"]
    assert combined == dict(totals["PRSD"] + totals["PRSD_C"])
    # Imported again, nothing changes: every row unchanged, the repeated one refused again.
    again = ledger_cli("import", led, "--key", key, MAIL, "--legend", LEGEND, "--at", AT, ok=1)
    rows = next(iter(again["summary"]["rows_by_kind"].values()))
    assert rows == {"written": 0, "unchanged": 97, "stale": 0, "refused": 1}


EUP_HEADER = ('"Cod birou electoral",Județ,Uat,Localitate,Secție,Nr,Tip,'
              "a,a1,a2,b,b1,b2,b3,c,d,e,f,h,i,g1,g2,g3")


def test_european_2019_layout_leaves_the_free_text_columns_out(tmp_path: Path) -> None:
    csv_file = tmp_path / "pv_EUP_FINAL.csv"
    csv_file.write_text(
        EUP_HEADER + "\n"
        '1,ALBA,"MUNICIPIUL ALBA IULIA","ALBA IULIA","ŞCOALA NR. 1",1,"Alegeri Europarlamentare",'
        "1000,980,20,500,480,15,5,600,100,490,10,INTACTE,INTACTE,300,150,40\n"
        '48,STRĂINĂTATE,ITALIA,ROMA,ROMA,7,"Alegeri Europarlamentare",'
        "0,0,0,200,0,0,200,300,100,198,2,INTACTE,INTACTE,100,90,8\n",
        encoding="utf-8")
    legend = tmp_path / "Legenda.txt"
    legend.write_text("Fișierul pv_EUP_FINAL.csv\n\na = alegători\ng1 = PARTIDUL A\n"
                      "g2 = PARTIDUL B\ng3 = CANDIDAT INDEPENDENT C\n", encoding="utf-8")
    rows = list(pv_rows(csv_file, fmt="bec2019-pv", tz=TZ,
                        options=PvOptions(legend=legend, at="2019-05-26 21:00")))
    assert [r.station.id for r in rows] == ["AB-1", "SR-7"]
    first = rows[0].report
    assert (first.category, first.version, first.stage) == ("EUP", 1, "FINAL")
    assert set(first.fields) == {"a", "a1", "a2", "b", "b1", "b2", "b3", "c", "d", "e", "f"}
    assert dict(first.votes) == {"PARTIDUL A": 300, "PARTIDUL B": 150,
                                 "CANDIDAT INDEPENDENT C": 40}
    assert rows[0].station.siruta is None
    report = validate_file(csv_file, fmt="bec2019-pv", tz=TZ, at="2019-05-26 21:00",
                           legend=legend)
    assert report.errors == []
    manifest = manifest_from_pv([csv_file], name="EP 2019", date="2019-05-26", tz=TZ,
                                fmt="bec2019-pv", options=PvOptions(legend=legend))
    assert manifest.election.categories["EUP"].rules == "european"


def test_free_text_columns_belong_to_the_european_form(tmp_path: Path) -> None:
    csv_file = tmp_path / "pv_PRSD_FINAL_tur1.csv"
    lines = ROUND1.read_text(encoding="utf-8-sig").splitlines()[:2]
    header = lines[0].replace(",g1,", ",h,g1,")
    row = lines[1]
    cells = row.rsplit(",", 14)
    csv_file.write_text(header + "\n" + cells[0] + ",INTACTE," + ",".join(cells[1:]) + "\n",
                        encoding="utf-8")
    with pytest.raises(InputError, match="European form only"):
        list(read_bec2019(csv_file, at=0, legend=read_legend(LEGEND)))


@pytest.mark.parametrize(("text", "message"), [
    ("g1 = X\n", "expected 'Fișierul"),
    ("Fișierul pv_PRSD_FINAL_tur1.csv\nnot a legend line\n", "expected 'Fișierul"),
])
def test_a_malformed_legend_is_refused_with_its_line(tmp_path: Path, text: str,
                                                    message: str) -> None:
    legend = tmp_path / "Legenda.txt"
    legend.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=message) as caught:
        read_legend(legend)
    assert caught.value.where.line == text.count("\n")


def test_a_legend_without_a_column_of_the_file_refuses_it(tmp_path: Path) -> None:
    legend = tmp_path / "Legenda.txt"
    legend.write_text(f"Fișierul {ROUND1.name}\ng1 = A\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["validate", str(ROUND1), "--legend", str(legend),
                                      "--at", AT])
    assert result.exit_code == 2
    assert "g2" in result.output
