"""`ledger validate` and `ledger manifest` as transcripts: arguments, exit code, output."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from election_ledger_cli.app import cli as ledger_cli

from tests.conftest import GOLDEN_DIR, PV_2025, TURNOUT_2018, load_json

FIXTURES = Path(__file__).resolve().parent / "fixtures"
PV_S = FIXTURES / "pv_part_cntry_s.csv"
TURNOUT_2019 = FIXTURES / "presence_2019-05-26_21-00.csv"


def run(*args: str) -> Result:
    return CliRunner().invoke(ledger_cli, list(args))


def _bad_copy(tmp_path: Path, source: Path, old: str, new: str, name: str | None = None) -> Path:
    text = source.read_text(encoding="utf-8-sig")
    assert old in text
    path = tmp_path / (name or source.name)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


# --- the real files ------------------------------------------------------------------------


@pytest.mark.slow
def test_real_pv_2025_exits_0_with_the_warnings_by_rule() -> None:
    started = time.perf_counter()
    result = run("validate", "--format", "aep-pv", str(PV_2025))
    print(f"\nledger validate PV 2025: {time.perf_counter() - started:.2f} s")
    assert result.exit_code == 0, result.output
    first = result.stdout.splitlines()[0]
    assert "19944 rows, 19944 stations, 0 errors, 102 warnings" in first
    assert "PV-PRSD-CD-EQ-B   43" in result.stdout
    assert "PV-PRSD-E-EQ-CDF  59" in result.stdout


@pytest.mark.slow
def test_real_pv_2025_json_is_the_report_object_with_lines() -> None:
    result = run("validate", "--format", "aep-pv", str(PV_2025), "--json")
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert set(report) == {"ok", "origin", "tree_size", "root", "errors", "warnings", "summary"}
    assert report["ok"] is True
    assert report["errors"] == []
    assert report["summary"]["warnings_by_rule"] == {"PV-PRSD-CD-EQ-B": 43,
                                                     "PV-PRSD-E-EQ-CDF": 59}
    assert report["summary"]["entries"] == 19_944
    first = report["warnings"][0]
    assert set(first) == {"index", "block", "station", "kind", "file", "line", "log", "source",
                          "category", "code", "message"}
    assert (first["line"], first["station"], first["category"]) == (447, "AR-6", "rules")


@pytest.mark.slow
def test_real_turnout_2018_exits_0() -> None:
    started = time.perf_counter()
    result = run("validate", "--format", "aep-turnout", str(TURNOUT_2018))
    print(f"\nledger validate turnout 2018: {time.perf_counter() - started:.2f} s")
    assert result.exit_code == 0, result.output
    assert "18662 rows, 18662 stations, 0 errors, 0 warnings" in result.stdout


# --- hard rules: exit 1, every error with its line ------------------------------------------


def test_hard_rule_break_exits_1_naming_each_line(tmp_path: Path) -> None:
    path = _bad_copy(tmp_path, PV_S, "300,192,50,50", "300,193,50,50")
    result = run("validate", "--format", "aep-pv", str(path))
    assert result.exit_code == 1
    assert "1 errors" in result.stdout
    assert f"{path}:2: station AB-1, S version 1: e = sum(votes) does not hold" in result.stdout
    assert "[PV-PARL-E-SUM]" in result.stdout


def test_hard_rule_break_json_has_line_and_code(tmp_path: Path) -> None:
    path = _bad_copy(tmp_path, TURNOUT_2019, ",527,", ",520,")
    result = run("validate", "--format", "aep-turnout", str(path), "--json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False
    [error] = report["errors"]
    assert (error["line"], error["code"], error["station"], error["kind"]) == (
        2, "TO-LT-SUM", "AB-1", "turnout")


def test_warnings_alone_exit_0_and_verbose_lists_them() -> None:
    result = run("validate", "--format", "aep-pv", str(FIXTURES / "pv_part_cntry_cl.csv"), "-v")
    assert result.exit_code == 0
    assert "PV-LOCAL-CD-EQ-B" in result.stdout
    assert "pv_part_cntry_cl.csv:3: station B-1001" in result.stdout


@pytest.mark.parametrize("name", ["pv_part_cntry_cl.csv", "pv_part_cntry_s.csv",
                                  "pv_part_cntry_eup.csv", "pv_part_cntry_prsd_c.csv",
                                  "pv_part_cntry_refl1.csv"])
def test_every_pv_fixture_validates(name: str) -> None:
    result = run("validate", "--format", "aep-pv", str(FIXTURES / name))
    assert result.exit_code == 0, result.output


def test_turnout_2024_fixture_validates_with_at_override() -> None:
    result = run("validate", "--format", "aep-turnout",
                 str(FIXTURES / "presence_2024-06-09_21-00.csv"),
                 "--at", "2024-06-09 20:00", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["summary"]["at"] == 1_717_952_400_000


# --- malformed files: exit 2 naming line and column -----------------------------------------


@pytest.mark.parametrize(("old", "new", "where"), [
    (",1015,", ",10x5,", ":2, column a:"),  # bad number
    ("created_at,", "", ":1, column created_at:"),  # missing column
    ("precinct_county_nce", "county", ":1, column precinct_county_nce:"),  # wrong header
])
def test_malformed_pv_exits_2_naming_line_and_column(
    tmp_path: Path, old: str, new: str, where: str,
) -> None:
    path = _bad_copy(tmp_path, PV_S, old, new)
    result = run("validate", "--format", "aep-pv", str(path))
    assert result.exit_code == 2
    assert f"{path}{where}" in result.stderr
    assert "Traceback" not in result.output


def test_bad_utf8_exits_2_naming_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(TURNOUT_2019.read_bytes().replace(b"SIBIU", b"SIB\xe9U", 1))
    result = run("validate", "--format", "aep-turnout", str(path), "--at", "2019-05-26 21:00")
    assert result.exit_code == 2
    assert f"{path}:3, column UAT: not UTF-8" in result.stderr


def test_malformed_json_output_says_why(tmp_path: Path) -> None:
    path = _bad_copy(tmp_path, PV_S, ",1015,", ",-1015,")
    result = run("validate", "--format", "aep-pv", str(path), "--json")
    assert result.exit_code == 2
    body = json.loads(result.stdout)
    assert body["ok"] is False
    assert ":2, column a:" in body["error"]


def test_wrong_format_for_the_file_exits_2() -> None:
    result = run("validate", "--format", "aep-turnout", str(PV_S), "--at", "2024-12-01 21:00")
    assert result.exit_code == 2
    assert "column precinct_county_nce" in result.stderr


@pytest.mark.parametrize("args", [
    ["validate", "--format", "aep-pv", "missing.csv"],
    ["validate", "--format", "csv", str(PV_S)],
    ["validate", str(FIXTURES / "README.md")],  # no --format: detected, no known header
    ["validate", "--format", "aep-pv", str(PV_S), "--at", "2024-12-01 21:00"],
    ["validate", "--format", "aep-turnout", str(TURNOUT_2019), "--manifest", "m.json"],
    ["validate", "--format", "aep-turnout", str(FIXTURES / "README.md")],
    ["validate", "--format", "aep-pv", str(PV_S), "--tz", "Nowhere/Land"],
])
def test_bad_usage_exits_2_without_traceback(args: list[str]) -> None:
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output


# --- ledger manifest ------------------------------------------------------------------------


def test_manifest_of_the_pv_file_is_the_golden_election_record() -> None:
    golden = next(r for r in load_json(GOLDEN_DIR / "records.json")["records"]
                  if r["name"] == "election-presidential")["record"]
    result = run("manifest", "--format", "aep-pv", str(PV_2025), "--name", golden["name"],
                 "--date", "2025-05-18", "--tz", "Europe/Bucharest")
    assert result.exit_code == 0, result.output
    # The golden election also holds the Senate category S, which the PV file does not show.
    presidential = dict(golden, categories={"PRSD": golden["categories"]["PRSD"]})
    assert json.loads(result.stdout) == {"election": presidential, "ballots": []}


def test_manifest_written_then_used_by_validate(tmp_path: Path) -> None:
    out = tmp_path / "manifest.json"
    made = run("manifest", "--format", "aep-pv", str(PV_S), "--name", "Parlamentare 2024",
               "--date", "2024-12-01", "--tz", "Europe/Bucharest", "-o", str(out))
    assert made.exit_code == 0, made.output
    assert "S" in made.stdout
    checked = run("validate", "--format", "aep-pv", str(PV_S), "--manifest", str(out))
    assert checked.exit_code == 0, checked.output
    # Another election's manifest does not have this file's category: every row fails hard.
    other = run("manifest", "--format", "aep-pv", str(FIXTURES / "pv_part_cntry_eup.csv"),
                "--name", "x", "--date", "2024-06-09", "--tz", "Europe/Bucharest",
                "-o", str(out))
    assert other.exit_code == 0
    failed = run("validate", "--format", "aep-pv", str(PV_S), "--manifest", str(out), "--json")
    assert failed.exit_code == 1
    assert {e["code"] for e in json.loads(failed.stdout)["errors"]} == {"PV-CATEGORY"}


def test_manifest_of_a_malformed_file_exits_2(tmp_path: Path) -> None:
    path = _bad_copy(tmp_path, PV_S, ",1015,", ",x,")
    result = run("manifest", "--format", "aep-pv", str(path), "--name", "x",
                 "--date", "2024-12-01", "--tz", "Europe/Bucharest")
    assert result.exit_code == 2
    assert ":2, column a:" in result.stderr


def test_installed_command_validates_a_fixture() -> None:
    ledger = Path(sys.executable).with_name("ledger")
    done = subprocess.run(
        [str(ledger), "validate", "--format", "aep-pv", str(FIXTURES / "pv_part_cntry_prsd_c.csv")],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "PV-MAIL-D1-SUM  1" in done.stdout
