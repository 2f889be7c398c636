"""AEP importers: the real files read exactly, every fixture format, and every malformed input
refused whole with its file, line and column."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.check.findings import AuditReport
from ledger.check.rules import RECORD_RULES, RULE_SETS
from ledger.errors import InputError
from ledger.formats.records import Category, Election, Station, record_from_json
from ledger.importers import AEP_CATEGORY_SCOPES
from ledger.importers.aep_pv import PvRow, import_pv, read_pv, read_pv_header
from ledger.importers.aep_turnout import TurnoutRow, import_turnout, read_turnout, turnout_time
from ledger.importers.csvfile import CsvFile, parse_uint, read_validated
from ledger.importers.manifest import (
    Manifest,
    election_from_pv,
    manifest_from_pv,
    manifest_json,
    read_manifest,
)
from ledger.importers.stations import NCE_CODES, StationInfo
from ledger.importers.validation import validate_pv, validate_turnout
from tests.conftest import DATA_DIR, GOLDEN_DIR, PV_2025, TURNOUT_2018, doc_section, load_json

FIXTURES = Path(__file__).resolve().parent / "fixtures"

TZ = "Europe/Bucharest"
TURNOUT_2024 = FIXTURES / "presence_2024-06-09_21-00.csv"
TURNOUT_2019 = FIXTURES / "presence_2019-05-26_21-00.csv"


# --- the real files ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pv_rows() -> list[PvRow]:
    return list(read_pv(PV_2025, tz=TZ))


@pytest.fixture(scope="module")
def turnout_rows() -> list[TurnoutRow]:
    return list(read_turnout(TURNOUT_2018, at=turnout_time(TURNOUT_2018, at=None, tz=TZ)))


@pytest.mark.slow
def test_real_pv_2025_validates_with_exactly_the_known_warnings() -> None:
    started = time.perf_counter()
    report = validate_pv(PV_2025, tz=TZ)
    seconds = time.perf_counter() - started
    print(f"\nPV 2025: {report.entries} rows in {seconds:.2f} s")
    assert report.entries == 19_944
    assert report.stations == 19_944
    assert report.errors == []
    assert report.warnings_by_rule() == {"PV-PRSD-CD-EQ-B": 43, "PV-PRSD-E-EQ-CDF": 59}
    assert all(w.where.line is not None and w.where.line >= 2 for w in report.warnings)
    # The worked example of docs/records-parts/20-rules.md is this file's line 447, verbatim.
    doc = doc_section("records.md", "Election rules")
    for finding in (w for w in report.warnings if w.where.line == 447):
        assert f"{finding.code:<17} {finding.message}" in doc


@pytest.mark.slow
def test_real_turnout_2018_validates_with_no_finding() -> None:
    started = time.perf_counter()
    report = validate_turnout(TURNOUT_2018, tz=TZ)
    seconds = time.perf_counter() - started
    print(f"\nturnout 2018: {report.entries} rows in {seconds:.2f} s")
    assert (report.entries, report.stations) == (18_662, 18_662)
    assert report.errors == []
    assert report.warnings == []


def test_real_pv_rows_are_read_exactly(pv_rows: list[PvRow]) -> None:
    first = pv_rows[0]
    assert first.line == 2
    assert first.station == StationInfo(
        id="AB-1", county="ALBA", number=1, name="CENTRUL DE ZI PENTRU PERSOANE VÂRSTNICE",
        siruta=1017, uat="MUNICIPIUL ALBA IULIA")
    r = first.report
    assert (r.station, r.category, r.version, r.stage) == ("AB-1", "PRSD", 1, "PART")
    # 2025-05-18 22:32:21 in Bucharest (EEST, UTC+3) is 19:32:21 UTC.
    assert r.at == 1_747_596_741_000
    assert dict(r.fields) == {"a": 1777, "b": 1144, "b1": 1061, "b2": 83, "b3": 0, "c": 1127,
                              "d": 17, "e": 1800, "f": 656}
    assert dict(r.votes) == {"GEORGE-NICOLAE SIMION": 356, "NICUȘOR-DANIEL DAN": 771}
    assert pv_rows[-1].line == 19_945


def test_real_pv_station_ids_are_unique_and_map_bucharest_and_abroad(
    pv_rows: list[PvRow],
) -> None:
    ids = [row.station.id for row in pv_rows]
    assert len(set(ids)) == 19_944
    by_id = {row.station.id: row.station for row in pv_rows}
    assert by_id["SR-1"].name == "PRETORIA"
    assert by_id["SR-1"].siruta == 9999
    assert by_id["SR-1"].county == "STRĂINĂTATE"
    assert by_id["B-1289"].uat == "BUCUREŞTI SECTORUL 6"
    assert sum(1 for i in ids if i.startswith("B-")) == 1289
    assert sum(1 for i in ids if i.startswith("SR-")) == 965


def test_real_turnout_2018_totals_match_the_sources(turnout_rows: list[TurnoutRow]) -> None:
    assert len(turnout_rows) == 18_662
    assert sum(r.turnout.counts["LT"] for r in turnout_rows) == 3_731_704
    assert sum(r.turnout.registered.permanent for r in turnout_rows) == 18_278_496
    first = turnout_rows[0]
    assert first.turnout.at == 1_538_935_200_000  # 2018-10-07 21:00 EEST = 18:00 UTC
    assert first.station == StationInfo(
        id="AB-1", county="AB", number=1, name="CENTRUL DE ZI PENTRU PERSOANE VÂRSTNICE",
        siruta=1026, uat="MUNICIPIUL ALBA IULIA", locality="ALBA IULIA", medium="U")
    assert dict(first.turnout.counts) == {"LP": 373, "LS": 22, "LT": 395, "UM": 0}
    assert first.turnout.buckets is None


def test_station_ids_are_stable_across_pv_and_turnout_files(
    pv_rows: list[PvRow], turnout_rows: list[TurnoutRow],
) -> None:
    pv_ids = {row.station.id: row.station for row in pv_rows}
    turnout_ids = {row.station.id for row in turnout_rows}
    assert len(turnout_ids & pv_ids.keys()) >= 18_600
    assert pv_ids["AB-1"].name == turnout_rows[0].station.name


def test_county_table_matches_the_sources_table() -> None:
    text = (DATA_DIR / "SOURCES.md").read_text(encoding="utf-8")
    table = {int(n): code for n, code in re.findall(r"^\| (\d+) \| ([A-Z]+) \|", text, re.M)}
    assert len(table) == 43
    assert {n: NCE_CODES[n] for n in table} == table
    assert {NCE_CODES[n] for n in range(44, 50)} == {"B"}


# --- fixtures of the other formats --------------------------------------------------------


@pytest.mark.parametrize(("name", "code", "rules", "competitors"), [
    ("pv_part_cntry_cl.csv", "CL", "local", ("PARTIDUL A", "PARTIDUL B", "PARTIDUL C")),
    ("pv_part_cntry_s.csv", "S", "parliamentary", ("PSD", "AUR", "PNL", "USR")),
    ("pv_part_cntry_eup.csv", "EUP", "european", ("ALIANȚA PSD-PNL", "AUR", "ADU")),
    ("pv_part_cntry_prsd_c.csv", "PRSD_C", "mail",
     ("GEORGE-NICOLAE SIMION", "NICUȘOR-DANIEL DAN")),
    ("pv_part_cntry_refl1.csv", "REFL1", "referendum", ("DA", "NU")),
])
def test_pv_fixture_derives_its_manifest(
    name: str, code: str, rules: str, competitors: tuple[str, ...],
) -> None:
    manifest = manifest_from_pv([FIXTURES / name], name="x", date="2024-06-09", tz=TZ)
    election = manifest.election
    assert list(election.categories) == [code]
    assert election.categories[code].rules == rules
    if code in AEP_CATEGORY_SCOPES:  # one ballot per constituency, from the rows
        assert election.categories[code].scope == AEP_CATEGORY_SCOPES[code]
        assert {b.competitors for b in manifest.ballots} == {competitors}
    else:
        assert election.categories[code].competitors == competitors
        assert manifest.ballots == ()
    assert validate_pv(FIXTURES / name, tz=TZ, manifest=manifest).errors == []


def test_pv_bucharest_sector_nce_maps_to_b() -> None:
    rows = list(read_pv(FIXTURES / "pv_part_cntry_cl.csv", tz=TZ))
    assert [r.station.id for r in rows] == ["AB-1", "B-1001", "CJ-5"]
    assert (rows[2].report.version, rows[2].report.stage) == (2, "FINAL")


def test_pv_fixture_warnings_are_the_soft_rules() -> None:
    assert validate_pv(FIXTURES / "pv_part_cntry_cl.csv", tz=TZ).warnings_by_rule() == {
        "PV-LOCAL-CD-EQ-B": 1, "PV-LOCAL-E-EQ-CDF": 1}
    mail = validate_pv(FIXTURES / "pv_part_cntry_prsd_c.csv", tz=TZ)
    assert mail.warnings_by_rule() == {"PV-MAIL-D1-SUM": 1}
    assert mail.warnings[0].where.line == 3


def test_turnout_2024_form_reads_lists_and_age_buckets() -> None:
    at = turnout_time(TURNOUT_2024, at=None, tz=TZ)
    assert at == 1_717_956_000_000  # 2024-06-09 21:00 EEST
    rows = list(read_turnout(TURNOUT_2024, at=at))
    assert [r.station.id for r in rows] == ["AB-1", "B-1001", "CJ-5"]
    t = rows[0].turnout
    assert (t.registered.permanent, t.registered.complementary) == (1200, 30)
    assert dict(t.counts) == {"LC": 5, "LP": 500, "LS": 20, "LSC": 3, "LT": 530, "UM": 2}
    assert t.buckets is not None
    assert list(t.buckets) == sorted(t.buckets)
    assert dict(t.buckets) == {
        "F-18-24": 31, "F-25-34": 41, "F-35-44": 51, "F-45-64": 61, "F-65+": 96,
        "M-18-24": 30, "M-25-34": 40, "M-35-44": 50, "M-45-64": 60, "M-65+": 70}
    assert validate_turnout(TURNOUT_2024, tz=TZ).errors == []


def test_turnout_age_detail_keeps_one_year_buckets() -> None:
    rows = list(read_turnout(TURNOUT_2024, at=0, age_detail=True))
    buckets = rows[0].turnout.buckets
    assert buckets is not None
    assert len(buckets) == 10 + 2 * 103
    assert (buckets["M-18"], buckets["F-120"], buckets["M-65"]) == (30, 0, 70)


def test_turnout_2019_form_reads_complementary_list() -> None:
    rows = list(read_turnout(TURNOUT_2019, at=0))
    t = rows[0].turnout
    assert (t.registered.permanent, t.registered.complementary) == (1200, 30)
    assert dict(t.counts) == {"LC": 5, "LP": 500, "LS": 20, "LT": 527, "UM": 2}
    assert validate_turnout(TURNOUT_2019, tz=TZ).errors == []


def test_station_info_with_key_is_a_station_record() -> None:
    row = next(read_turnout(TURNOUT_2018, at=0))
    station = row.station.with_key(bytes(32))
    assert isinstance(station, Station)
    assert (station.id, station.locality, station.medium) == ("AB-1", "ALBA IULIA", "U")


# --- time handling ------------------------------------------------------------------------


@pytest.mark.parametrize(("at", "ms"), [
    ("2024-06-09 21:00", 1_717_956_000_000),
    ("2024-06-09T21:00:00", 1_717_956_000_000),
    ("2024-06-09T18:00:00Z", 1_717_956_000_000),
    ("2024-06-09 20:00:00+02:00", 1_717_956_000_000),
    ("2024-01-15 09:00", 1_705_302_000_000),  # EET, UTC+2 in winter
])
def test_turnout_time_from_at(at: str, ms: int) -> None:
    assert turnout_time("whatever.csv", at=at, tz=TZ) == ms


@pytest.mark.parametrize("at", ["2024-06-09", "21:00", "2024-06-09 25:00", "2024-02-30 10:00",
                                "1717956000000", "2024-06-09 21:00 EEST",
                                "2025-03-30 03:30"])
def test_unreadable_or_nonexistent_at_is_refused(at: str) -> None:
    with pytest.raises(InputError):
        turnout_time("x.csv", at=at, tz=TZ)


def test_turnout_time_needs_at_or_a_time_in_the_name() -> None:
    with pytest.raises(InputError, match="snapshot time must be given"):
        turnout_time("presence.csv", at=None, tz=TZ)


def test_unknown_time_zone_is_refused() -> None:
    with pytest.raises(InputError, match="time zone"):
        turnout_time(TURNOUT_2018, at=None, tz="Europe/Atlantis")


def _pv_text(created_at: str = "2025-05-18 22:32:21") -> str:
    header = PV_2025.read_text(encoding="utf-8-sig").splitlines()[0]
    row = (f'1,ALBA,"X",1,"MUNICIPIUL ALBA IULIA",1017,1,PART,PRCNCT,PRSD,PRSD_SV,'
           f'"{created_at}",1777,1144,1061,83,0,1127,17,1800,656,356,771')
    return f"{header}\n{row}\n"


def test_created_at_in_the_repeated_autumn_hour_reads_as_its_first_occurrence(
    tmp_path: Path,
) -> None:
    path = tmp_path / "pv.csv"
    path.write_text(_pv_text("2024-10-27 03:30:00"), encoding="utf-8")
    [row] = read_pv(path, tz=TZ)
    assert row.report.at == 1_729_989_000_000  # 00:30 UTC (EEST, fold 0)


def test_created_at_in_the_skipped_spring_hour_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "pv.csv"
    path.write_text(_pv_text("2025-03-30 03:30:00"), encoding="utf-8")
    with pytest.raises(InputError, match="does not exist") as info:
        list(read_pv(path, tz=TZ))
    assert (info.value.where.line, info.value.where.column) == (2, "created_at")


# --- malformed input: refused whole, naming line and column --------------------------------


def _write(tmp_path: Path, text: str | bytes, name: str = "pv.csv") -> Path:
    path = tmp_path / name
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    return path


def _replace_cell(text: str, line: int, column: int, value: str) -> str:
    lines = text.splitlines()
    cells = lines[line - 1].split(",")
    cells[column] = value
    lines[line - 1] = ",".join(cells)
    return "\n".join(lines) + "\n"


def _fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8-sig")


@pytest.mark.parametrize(("value", "column"), [
    ("12a", "a"), ("-1", "a"), ("007", "a"), ("1.0", "a"), (" 5", "a"), ("", "a"),
    ("+3", "a"), ("1e3", "a"), ("١٢", "a"), ("9" * 16, "a"),
])
def test_bad_number_refuses_the_file_naming_line_and_column(
    tmp_path: Path, value: str, column: str,
) -> None:
    text = _replace_cell(_fixture_text("pv_part_cntry_s.csv"), 3, 12, value)
    with pytest.raises(InputError) as info:
        list(import_pv(_write(tmp_path, text), tz=TZ))
    assert (info.value.where.line, info.value.where.column) == (3, column)
    assert info.value.where.file is not None


@pytest.mark.parametrize(("line", "index", "value", "column", "message"), [
    (2, 0, "44x", "precinct_county_nce", "whole number"),
    (2, 0, "99", "precinct_county_nce", "unknown county"),
    (3, 3, "", "precinct_nr", "whole number"),
    (2, 6, "v1", "report_version", "whole number"),
    (2, 7, "DONE", "report_stage_code", "stage"),
    (2, 9, "PRSD", "report_type_category_code", "does not use"),
    (2, 9, "XYZ", "report_type_category_code", "does not use"),
    (4, 11, "2024-12-02T03:15:00", "created_at", "YYYY-MM-DD"),
    (4, 11, "2024-02-30 03:15:00", "created_at", "calendar"),
    (3, 25, "x", "PSD-voturi", "whole number"),
])
def test_bad_field_refuses_the_file_naming_line_and_column(
    tmp_path: Path, line: int, index: int, value: str, column: str, message: str,
) -> None:
    text = _fixture_text("pv_part_cntry_s.csv")
    text = text.replace('"COLEGIUL NAŢIONAL „SF. SAVA”"', "COLEGIUL")
    text = text.replace('"AMBASADA ROMÂNIEI, VIENA"', "AMBASADA")
    text = _replace_cell(text, line, index, value)
    with pytest.raises(InputError, match=message) as info:
        list(read_pv(_write(tmp_path, text), tz=TZ))
    assert (info.value.where.line, info.value.where.column) == (line, column)


def test_bad_utf8_names_line_and_column(tmp_path: Path) -> None:
    raw = (FIXTURES / "pv_part_cntry_s.csv").read_bytes()
    lines = raw.split(b"\n")
    lines[2] = lines[2].replace(b"COLEGIUL", b"COL\xffEGIUL")
    with pytest.raises(InputError, match="UTF-8") as info:
        list(import_pv(_write(tmp_path, b"\n".join(lines)), tz=TZ))
    assert (info.value.where.line, info.value.where.column) == (3, "precinct_name")


def test_latin1_file_is_refused(tmp_path: Path) -> None:
    text = _fixture_text("pv_part_cntry_eup.csv").replace("Ț", "T")
    with pytest.raises(InputError, match="UTF-8"):
        list(read_pv(_write(tmp_path, text.encode("cp1250")), tz=TZ))


@pytest.mark.parametrize(("edit", "column"), [
    (lambda h: h.replace("precinct_nr,", ""), "precinct_nr"),
    (lambda h: h.replace("created_at", "created"), "created_at"),
    (lambda h: h.replace(",g,", ",h,"), "h"),
    (lambda h: h.replace(",g,", ","), "a"),
    (lambda h: h.replace("PSD-voturi", "PSD"), "PSD"),
    (lambda h: h.replace("USR-voturi", "-voturi"), "-voturi"),
    (lambda h: h.replace("AUR-voturi", "PSD-voturi"), "PSD-voturi"),
])
def test_wrong_pv_header_is_refused(tmp_path: Path, edit: object, column: str) -> None:
    text = _fixture_text("pv_part_cntry_s.csv")
    header, rest = text.split("\n", 1)
    with pytest.raises(InputError) as info:
        list(read_pv(_write(tmp_path, edit(header) + "\n" + rest), tz=TZ))  # type: ignore[operator]
    assert (info.value.where.line, info.value.where.column) == (1, column)


def test_turnout_file_is_not_a_pv_file() -> None:
    with pytest.raises(InputError, match="not an AEP PV header") as info:
        list(read_pv(TURNOUT_2019, tz=TZ))
    assert info.value.where.line == 1


def test_pv_file_is_not_a_turnout_file() -> None:
    with pytest.raises(InputError, match="not a column of an AEP turnout file") as info:
        list(read_turnout(FIXTURES / "pv_part_cntry_s.csv", at=0))
    assert (info.value.where.line, info.value.where.column) == (1, "precinct_county_nce")


@pytest.mark.parametrize(("text", "line", "message"), [
    ("", 1, "empty file"),
    ("a,b\n1,2,3\n", 2, "expected 2 cells"),
    ("a,b\n1\n", 2, "expected 2 cells"),
    ("a,b\n1,2\n\n3,4\n", 3, "empty line"),
    ('a,b\n"1,2\n', 2, "not CSV"),
    ('a,b\n"1"x,2\n', 2, "not CSV"),
    ("a,a\n1,2\n", 1, "twice"),
    ("a,b\n1,\x002\n", 2, "NUL"),
])
def test_broken_csv_structure_is_refused(
    tmp_path: Path, text: str, line: int, message: str,
) -> None:
    file = CsvFile(_write(tmp_path, text, "x.csv"))
    with pytest.raises(InputError, match=message) as info:
        list(file.rows())
    assert info.value.where.line == line
    assert info.value.where.file == file.name


@pytest.mark.parametrize(("text", "column"), [
    ("a,b\n1,2,3\n", "#3"),
    ("a,b\n1,\x002\n", "b"),
    ("a,b\n1\n", "b"),
])
def test_row_faults_name_the_column(tmp_path: Path, text: str, column: str) -> None:
    with pytest.raises(InputError) as info:
        list(CsvFile(_write(tmp_path, text, "x.csv")).rows())
    assert info.value.where.column == column


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot open"):
        list(read_pv(tmp_path / "nope.csv", tz=TZ))


@pytest.mark.parametrize(("line", "index", "value", "column", "message"), [
    (2, 0, "XX", "Judet", "unknown county"),
    (3, 4, "1", "Nr sectie de votare", "already appears on line 2"),
    (2, 7, "many", "Votanti pe lista permanenta", "whole number"),
    (3, 12, "-4", "UM", "whole number"),
    (2, 19, "x", "Femei 18-24", "whole number"),
])
def test_bad_turnout_row_refuses_the_file(
    tmp_path: Path, line: int, index: int, value: str, column: str, message: str,
) -> None:
    text = _fixture_text("presence_2019-05-26_21-00.csv")
    text = text.replace('"COLEGIUL NAŢIONAL „GHEORGHE LAZĂR”"', "COLEGIUL")
    text = text.replace(",SB,", ",AB,") if index == 4 else text
    text = _replace_cell(text, line, index, value)
    if index == 4:
        text = _replace_cell(text, 3, 0, "AB")
    with pytest.raises(InputError, match=message) as info:
        list(import_turnout(_write(tmp_path, text, "t.csv"), at=0))
    assert (info.value.where.line, info.value.where.column) == (line, column)


@pytest.mark.parametrize(("old", "new", "column"), [
    ("LT,", "", "LT"),
    ("Mediu,", "", "Mediu"),
    ("Votanti pe lista permanenta,", "", "Votanti lista"),
    ("Femei 65+", "Copii 0-17", "Copii 0-17"),
])
def test_wrong_turnout_header_is_refused(
    tmp_path: Path, old: str, new: str, column: str,
) -> None:
    text = _fixture_text("presence_2019-05-26_21-00.csv")
    header, rest = text.split("\n", 1)
    if old.endswith(","):
        # Drop the column from the header and from every row, keeping the file rectangular.
        index = header.split(",").index(old[:-1])
        rows = [",".join(c for i, c in enumerate(r.split(",")) if i != index)
                for r in rest.replace('"COLEGIUL NAŢIONAL „GHEORGHE LAZĂR”"', "C").splitlines()]
        text = header.replace(old, new) + "\n" + "\n".join(rows) + "\n"
    else:
        text = header.replace(old, new) + "\n" + rest
    with pytest.raises(InputError) as info:
        list(read_turnout(_write(tmp_path, text, "t.csv"), at=0))
    assert (info.value.where.line, info.value.where.column) == (1, column)


def test_turnout_header_in_cedilla_spelling_is_read(tmp_path: Path) -> None:
    text = _fixture_text("presence_2024-06-09_21-00.csv").replace("Înscriși", "Înscrişi")
    rows = list(read_turnout(_write(tmp_path, text, "t.csv"), at=0))
    assert rows[0].turnout.registered.complementary == 30


# --- nothing half-imported -----------------------------------------------------------------


def test_import_yields_nothing_when_the_last_row_is_malformed(tmp_path: Path) -> None:
    text = _fixture_text("pv_part_cntry_cl.csv")
    text = text.rstrip("\n").rsplit(",", 1)[0] + ",9x\n"
    rows = import_pv(_write(tmp_path, text), tz=TZ)
    with pytest.raises(InputError) as info:
        next(rows)
    assert info.value.where.line == 4


def test_import_refuses_a_file_changed_between_passes(tmp_path: Path) -> None:
    path = _write(tmp_path, _fixture_text("pv_part_cntry_refl1.csv"))
    passes: list[int] = []

    def read(file: CsvFile) -> Iterator[int]:
        passes.append(1)
        for row in file.rows():
            yield row.line
        if len(passes) == 1:
            path.write_text(path.read_text(encoding="utf-8").replace("150", "151"),
                            encoding="utf-8")

    with pytest.raises(InputError, match="changed"):
        list(read_validated(path, read))


def test_import_streams_the_same_rows_as_one_pass() -> None:
    path = FIXTURES / "pv_part_cntry_s.csv"
    assert list(import_pv(path, tz=TZ)) == list(read_pv(path, tz=TZ))


# --- strict numbers ------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 10**15 - 1))
def test_every_canonical_count_is_read_back(n: int) -> None:
    assert parse_uint(CsvFile("x.csv"), str(n), 2, "a") == n


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=8))
def test_only_canonical_decimals_are_counts(text: str) -> None:
    canonical = re.fullmatch(r"0|[1-9][0-9]{0,14}", text) is not None
    try:
        parse_uint(CsvFile("x.csv"), text, 2, "a")
    except InputError:
        assert not canonical
    else:
        assert canonical


# --- manifests -----------------------------------------------------------------------------


def test_manifest_of_the_real_pv_file_is_the_golden_election() -> None:
    golden = next(r for r in load_json(GOLDEN_DIR / "records.json")["records"]
                  if r["name"] == "election-presidential")["record"]
    election = election_from_pv(PV_2025, name=golden["name"], date="2025-05-18", tz=TZ)
    # The golden election also holds the partial Senate elections of that day (category S),
    # which the presidential PV file does not show.
    presidential = dict(golden, categories={"PRSD": golden["categories"]["PRSD"]})
    assert manifest_json(election) == {"election": presidential, "ballots": []}


def test_manifest_round_trips_through_json(tmp_path: Path) -> None:
    for item in load_json(GOLDEN_DIR / "records.json")["records"]:
        if item["record"]["kind"] == "election":
            path = _write(tmp_path, json.dumps(item["record"]), "m.json")
            assert read_manifest(path).election == record_from_json(item["record"])


@pytest.mark.parametrize(("text", "message"), [
    ("{", "not an election manifest"),
    ('{"kind": "election", "kind": "election"}', "twice"),
    ('{"kind": "revoke", "key": {"$bin": "00"}, "reason": "x"}', "not a valid record"),
    ('{"kind": "revoke", "key": {"$bin": "' + "00" * 32 + '"}, "reason": "x"}',
     "expected an election record"),
    ('{"kind": "election", "name": "x", "date": "2025-05-18", "tz": "Europe/Bucharest", '
     '"categories": {}, "extra": 1}', "unknown field extra"),
    ('{"kind": "election", "name": "x", "date": "2025-05-18", "tz": "Mars/Olympus", '
     '"categories": {}}', "time zone"),
    ("[1.5]", "not a valid record"),
])
def test_bad_manifest_is_refused(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        read_manifest(_write(tmp_path, text, "m.json"))


def test_derived_manifest_refuses_a_bad_date() -> None:
    with pytest.raises(InputError, match="date"):
        election_from_pv(FIXTURES / "pv_part_cntry_s.csv", name="x", date="2024-13-01", tz=TZ)


def test_pv_against_a_manifest_with_other_competitors_fails_hard() -> None:
    election = Election(name="x", date="2024-12-01", tz=TZ, categories={
        "S": Category(rules="parliamentary", competitors=("PSD", "AUR", "PNL"))})
    report = validate_pv(FIXTURES / "pv_part_cntry_s.csv", tz=TZ, manifest=Manifest(election))
    assert {f.code for f in report.errors} == {"PV-COMPETITORS"}
    assert [f.where.line for f in report.errors] == [2, 3, 4]


def test_pv_header_lists_competitors_in_column_order() -> None:
    header = read_pv_header(FIXTURES / "pv_part_cntry_eup.csv")
    assert header.competitors == ("ALIANȚA PSD-PNL", "AUR", "ADU")
    assert header.rule_set == "european"
    assert header.categories() == ("EUP",)


# --- rule findings from well-formed rows ---------------------------------------------------


def test_hard_rule_rows_are_findings_with_their_line(tmp_path: Path) -> None:
    text = _fixture_text("pv_part_cntry_s.csv")
    text = text.replace("300,192,50,50", "300,193,50,50")  # votes no longer add up to e
    report: AuditReport = validate_pv(_write(tmp_path, text), tz=TZ)
    assert [(f.code, f.where.line, f.where.station) for f in report.errors] == [
        ("PV-PARL-E-SUM", 2, "AB-1")]


def test_turnout_rule_breaks_are_findings_with_their_line(tmp_path: Path) -> None:
    text = _fixture_text("presence_2019-05-26_21-00.csv").replace(",527,", ",528,")
    report = validate_turnout(_write(tmp_path, text, "presence_2019-05-26_21-00.csv"), tz=TZ)
    assert [(f.code, f.where.line) for f in report.errors] == [("TO-LT-SUM", 2)]


def test_header_only_file_is_checked_and_has_no_rows(tmp_path: Path) -> None:
    header = _fixture_text("pv_part_cntry_s.csv").split("\n", 1)[0]
    assert list(read_pv(_write(tmp_path, header + "\n"), tz=TZ)) == []
    with pytest.raises(InputError, match="not an AEP PV header"):
        list(read_pv(_write(tmp_path, "a,b\n"), tz=TZ))


# --- the docs say what the code does -------------------------------------------------------


def test_every_rule_code_is_documented() -> None:
    doc = doc_section("records.md", "Election rules")
    codes = {r.code for s in RULE_SETS.values() for r in s.rules}
    codes |= set(RECORD_RULES)
    assert sorted(c for c in codes if f"`{c}`" not in doc) == []
    for s in RULE_SETS.values():
        assert " ".join(s.letters) in doc


def test_importer_doc_time_examples_hold() -> None:
    doc = doc_section("records.md", "AEP importers")
    assert "`1747596741000`" in doc
    assert "`1538935200000`" in doc
    assert turnout_time("presence_RO_2018-10-07_21-00.csv", at=None, tz=TZ) == 1_538_935_200_000


def test_a_file_without_newlines_is_refused_at_the_line_limit_not_read_whole(
    tmp_path: Path,
) -> None:
    endless = tmp_path / "zeros.csv"
    endless.write_bytes(bytes(3 << 20))  # like /dev/zero: no newline anywhere
    with pytest.raises(InputError, match="line longer than"):
        list(read_pv(endless, tz="Europe/Bucharest"))


def test_a_quoted_newline_inside_a_field_is_read_and_lines_count_from_the_record_start(
    tmp_path: Path,
) -> None:
    from ledger.importers.csvfile import CsvFile

    path = tmp_path / "quoted.csv"
    path.write_bytes(b'a,b\n"x\ny",2\nz,3\n')
    rows = [(row.line, row.cells) for row in CsvFile(path).rows()]
    assert rows == [(2, ["x\ny", "2"]), (4, ["z", "3"])]
