"""An election night, file by file, on slices of the real AEP files (tests/data/slices): files
republished with every row, validation at the same version, turnout corrections, and files that
are not this election's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from election_ledger_cli.app import cli

from ledger.formats.records import Report, Turnout
from ledger.publisher.ledger import Ledger

SLICES = Path(__file__).resolve().parent / "data" / "slices"
ROUND1 = SLICES / "prezidentiale04052025"
SNAPSHOT = ROUND1 / "pv_part_cntry_prsd.2025-05-05T0341.csv"
FINAL = ROUND1 / "pv_part_cntry_prsd.csv"
REFERENDUM = SLICES / "referendum07102018"
SNAPSHOTS = [REFERENDUM / f"presence_RO_2018-10-06_{hour}-00.csv" for hour in (10, 13, 16, 19, 21)]
SENATE_ABROAD = SLICES / "parlamentare06122020" / "pv_prov_cnty_s_sr.csv"


def ledger_cli(*args: str | Path, ok: int = 0) -> Any:
    """One command with --json: its exit code must be ``ok``; its JSON object."""
    result = CliRunner().invoke(cli, [str(a) for a in (*args, "--json")],
                                catch_exceptions=False)
    assert result.exit_code == ok, result.output
    return json.loads(result.stdout)


def _new_ledger(tmp_path: Path, origin: str, manifest: dict[str, Any]) -> tuple[Path, Path]:
    keys = tmp_path / "keys"
    ledger_cli("keygen", "publisher", "--key-name", origin, "-o", keys)
    (tmp_path / "m.json").write_text(json.dumps(manifest), encoding="utf-8")
    led = tmp_path / "led"
    ledger_cli("init", led, "--origin", origin, "--key", keys / "publisher.key",
               "--election", tmp_path / "m.json")
    return led, keys / "publisher.key"


@pytest.fixture
def round1(tmp_path: Path) -> tuple[Path, Path]:
    """A 2025 first-round ledger with the final file's stations registered."""
    manifest = ledger_cli("manifest", "--format", "aep-pv", FINAL, "--name", "round 1",
                          "--date", "2025-05-04", "--tz", "Europe/Bucharest")
    led, key = _new_ledger(tmp_path, "prezenta.example.ro/prezidentiale04052025", manifest)
    ledger_cli("station", "import", led, "--key", key, FINAL, "--keys-out", tmp_path / "st")
    return led, key


def _rows(report: Any) -> dict[str, int]:
    rows: dict[str, int] = next(iter(report["summary"]["rows_by_kind"].values()))
    return rows


def test_the_final_file_after_the_night_snapshot_writes_only_promotions_and_changes(
    round1: tuple[Path, Path],
) -> None:
    led, key = round1
    night = ledger_cli("import", led, "--format", "aep-pv", "--key", key, SNAPSHOT)
    assert _rows(night) == {"written": 205, "unchanged": 0, "stale": 0, "refused": 0}
    final = ledger_cli("import", led, "--format", "aep-pv", "--key", key, FINAL)
    # 22 of these 205 stations were PROV in the snapshot and PART in the final file, at the same
    # version: each promotion is written, every other row is counted unchanged.
    assert _rows(final) == {"written": 22, "unchanged": 183, "stale": 0, "refused": 0}
    ledger_cli("seal", led, "--key", key)
    audit = ledger_cli("verify", led, "--pub", key.with_suffix(".pub"))
    assert audit["errors"] == []
    with Ledger.open(led) as lg:
        latest: dict[str, str] = {}
        for index in range(lg.size):
            record = lg.record(index)
            if isinstance(record, Report):
                latest[record.station] = record.stage
    assert len(latest) == 205
    assert set(latest.values()) == {"PART"}


def test_an_older_copy_of_the_file_is_stale_and_writes_nothing(
    round1: tuple[Path, Path],
) -> None:
    led, key = round1
    ledger_cli("import", led, "--format", "aep-pv", "--key", key, SNAPSHOT)
    ledger_cli("import", led, "--format", "aep-pv", "--key", key, FINAL)
    again = ledger_cli("import", led, "--format", "aep-pv", "--key", key, SNAPSHOT)
    assert _rows(again) == {"written": 0, "unchanged": 183, "stale": 22, "refused": 0}
    assert {w["code"] for w in again["warnings"]} == {"IMPORT-STALE"}
    assert all(w["line"] for w in again["warnings"])


def test_a_pv_file_of_another_election_is_refused_whole_naming_line_and_column(
    round1: tuple[Path, Path], tmp_path: Path,
) -> None:
    led, key = round1
    text = FINAL.read_text(encoding="utf-8").splitlines()
    text[3] = text[3].replace("2025-05-0", "2024-05-0", 1)  # created_at of line 4, a year off
    other = tmp_path / "other.csv"
    other.write_text("\n".join(text) + "\n", encoding="utf-8")
    before = ledger_cli("status", led)["tree_size"]
    refused = ledger_cli("import", led, "--format", "aep-pv", "--key", key, other, ok=2)
    assert (refused["where"]["line"], refused["where"]["column"]) == (4, "created_at")
    assert ledger_cli("status", led)["tree_size"] == before


def _referendum(tmp_path: Path) -> tuple[Path, Path]:
    manifest = {"kind": "election", "name": "referendum 2018", "date": "2018-10-06",
                "tz": "Europe/Bucharest",
                "categories": {"REFL1": {"rules": "referendum", "competitors": ["DA", "NU"]}}}
    led, key = _new_ledger(tmp_path, "prezenta.example.ro/referendum07102018", manifest)
    ledger_cli("station", "import", led, "--key", key, SNAPSHOTS[0], "--keys-out",
               tmp_path / "st")
    return led, key


def test_turnout_snapshots_with_corrections_end_at_the_real_counters(tmp_path: Path) -> None:
    led, key = _referendum(tmp_path)
    corrections = 0
    for snapshot in SNAPSHOTS:
        done = ledger_cli("import", led, "--format", "aep-turnout", "--key", key, snapshot,
                          "--corrections", "AEP republished the station's counters lower")
        assert _rows(done)["refused"] == 0
        corrections += done["summary"]["corrections"]
    ledger_cli("seal", led, "--key", key)
    audit = ledger_cli("verify", led, "--pub", key.with_suffix(".pub"))
    assert audit["errors"] == []
    warned = [w for w in audit["warnings"] if w["code"] == "TO-CORRECTION"]
    assert len(warned) == corrections >= 1  # one warning per correction written
    bh189 = [w for w in warned if w["station"] == "BH-189"]
    assert len(bh189) == 1
    assert "LP 932 -> 1" in bh189[0]["message"]
    with Ledger.open(led) as lg:
        last = [lg.record(i) for i in range(lg.size)]
    final = [r for r in last if isinstance(r, Turnout) and r.station == "BH-189"][-1]
    assert final.counts["LT"] == 5
    assert final.correction is None  # the later snapshots counted up from the correction


def test_without_corrections_a_lowered_counter_stays_a_refusal_naming_its_line(
    tmp_path: Path,
) -> None:
    led, key = _referendum(tmp_path)
    ledger_cli("import", led, "--format", "aep-turnout", "--key", key, SNAPSHOTS[0])
    later = ledger_cli("import", led, "--format", "aep-turnout", "--key", key, SNAPSHOTS[1],
                       ok=1)
    [refused] = later["errors"]
    assert (refused["code"], refused["station"]) == ("TO-DECREASE", "BH-189")
    assert refused["line"] == 1 + next(
        n for n, line in enumerate(SNAPSHOTS[1].read_text(encoding="utf-8-sig").splitlines())
        if line.startswith("BH,") and ",189," in line)


def test_senate_abroad_file_shows_its_soft_rule_warnings_by_code() -> None:
    report = ledger_cli("validate", "--format", "aep-pv", "--tz", "Europe/Bucharest",
                        SENATE_ABROAD)
    assert report["errors"] == []
    assert report["summary"]["warnings_by_rule"] == {"PV-PARL-B-EQ-EFG": 8,
                                                     "PV-PARL-C-EQ-DEFG": 21}
