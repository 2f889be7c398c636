"""Publisher commands as transcripts: arguments, exit code, output (and one real subprocess)."""

from __future__ import annotations

import json
import os
import shlex
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from election_ledger_cli.app import cli

from ledger.formats.keys import parse_verifier_key
from ledger.formats.records import Registered, Station, Turnout, record_to_json
from ledger.publisher.ledger import Ledger
from tests.conftest import PV_2025, TURNOUT_2018

ORIGIN = "prezenta.example.ro/cli-test"
ROOT = Path(__file__).resolve().parent.parent


def run(*args: str | Path, ok: int = 0) -> Result:
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == ok, (result.exit_code, result.output)
    return result


def run_json(*args: str | Path, ok: int = 0) -> Any:
    return json.loads(run(*args, "--json", ok=ok).stdout)


def head(source: Path, target: Path, rows: int) -> Path:
    lines = source.read_bytes().split(b"\n")
    target.write_bytes(b"\n".join(lines[: rows + 1]) + b"\n")
    return target


@pytest.fixture
def pub(tmp_path: Path) -> dict[str, Path]:
    """A publisher key, a manifest and a fresh ledger from the first 12 rows of the real PV file."""
    keys = tmp_path / "keys"
    keys.mkdir()
    run("keygen", "publisher", "--key-name", ORIGIN, "-o", keys)
    csv = head(PV_2025, tmp_path / "pv.csv", 12)
    run("manifest", "--format", "aep-pv", csv, "--name", "Test", "--date", "2025-05-18",
        "--tz", "Europe/Bucharest", "-o", tmp_path / "manifest.json")
    run("init", tmp_path / "led", "--origin", ORIGIN, "--key", keys / "publisher.key",
        "--election", tmp_path / "manifest.json")
    return {"dir": tmp_path, "key": keys / "publisher.key", "pub": keys / "publisher.pub",
            "csv": csv, "led": tmp_path / "led"}


def test_keygen_writes_a_secret_key_0600_and_its_verifier_key(tmp_path: Path) -> None:
    out = run_json("keygen", "AB-1", "-o", tmp_path)
    key = tmp_path / "AB-1.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert key.read_text().startswith("PRIVATE+KEY+AB-1+")
    assert (tmp_path / "AB-1.pub").read_text() == out["vkey"] + "\n"
    again = run("keygen", "AB-1", "-o", tmp_path, ok=2)
    assert "exists" in again.stderr
    run("keygen", "a/b", "-o", tmp_path, ok=2)


def test_init_refuses_a_key_not_named_after_the_origin(
    tmp_path: Path, pub: dict[str, Path]
) -> None:
    run("keygen", "other", "-o", tmp_path)
    result = run("init", tmp_path / "l2", "--origin", ORIGIN, "--key", tmp_path / "other.key",
                 "--election", tmp_path / "manifest.json", ok=2)
    assert "must be the origin" in result.stderr
    assert not (tmp_path / "l2").exists()


def test_publisher_session_from_import_to_sealed_block(pub: dict[str, Path]) -> None:
    d, led, key = pub["dir"], pub["led"], pub["key"]
    (d / "st").mkdir()
    stations = run_json("station", "import", led, "--key", key, pub["csv"], "--keys-out", d / "st")
    assert (stations["stations"], stations["registered"]) == (12, 12)
    again = run_json("station", "import", led, "--key", key, pub["csv"], "--keys-out", d / "st")
    assert (again["registered"], again["unchanged"]) == (0, 12)
    report = run_json("import", led, "--format", "aep-pv", "--key", key, pub["csv"],
                      "--station-keys", d / "st")
    assert report["ok"]
    assert report["summary"]["station_signed"] == 12
    assert report["tree_size"] == 25
    sealed = run_json("seal", led, "--key", key)
    assert (sealed["height"], sealed["tree_size"], sealed["count"]) == (0, 26, 25)
    status = run_json("status", led)
    assert status["latest_checkpoint"]["tree_size"] == 26
    assert (status["unsealed"], status["stations"]) == (0, 12)
    shown = run_json("show", led, "--station", "AB-1")["entries"]
    assert [e["kind"] for e in shown] == ["station", "report"]
    assert shown[1]["signer"] == "station AB-1"
    text = run("show", led, "13").stdout
    assert "entry 13 (report, signed by station AB-1, block 0)" in text
    verified = run_json("verify", led, "--pub", pub["pub"])
    assert verified["ok"]


def test_reports_without_station_keys_are_publisher_signed(pub: dict[str, Path]) -> None:
    d, led, key = pub["dir"], pub["led"], pub["key"]
    (d / "st").mkdir()
    run("station", "import", led, "--key", key, pub["csv"], "--keys-out", d / "st")
    report = run_json("import", led, "--format", "aep-pv", "--key", key, pub["csv"])
    assert report["summary"]["publisher_signed"] == 12


def test_rows_of_unregistered_stations_are_refused_by_line(pub: dict[str, Path]) -> None:
    d, led, key = pub["dir"], pub["led"], pub["key"]
    few = head(pub["csv"], d / "few.csv", 3)
    (d / "st").mkdir()
    run("station", "import", led, "--key", key, few, "--keys-out", d / "st")
    result = run_json("import", led, "--format", "aep-pv", "--key", key, pub["csv"], ok=1)
    refused = result["errors"]
    assert [f["line"] for f in refused] == list(range(5, 14))
    assert refused[0]["station"] == "AB-4"
    assert refused[0]["code"] == "station-unregistered"
    assert result["tree_size"] == 4 + 3  # the registered stations' rows were written
    strict = run_json("import", led, "--format", "aep-pv", "--key", key, pub["csv"], "--strict",
                      ok=1)
    assert strict["summary"]["written"] is False


def test_malformed_csv_is_refused_whole_with_exit_2(pub: dict[str, Path]) -> None:
    bad = pub["dir"] / "bad.csv"
    lines = pub["csv"].read_bytes().split(b"\n")
    lines[3] = lines[3].rsplit(b",", 1)[0] + b",4x1"  # a vote count that is not a number
    bad.write_bytes(b"\n".join(lines))
    result = run("import", pub["led"], "--format", "aep-pv", "--key", pub["key"], bad, ok=2)
    assert "bad.csv:4" in result.stderr


def test_turnout_import_signs_with_station_keys_else_with_the_publisher_key(
    tmp_path: Path, pub: dict[str, Path],
) -> None:
    led, key = pub["led"], pub["key"]
    csv = head(TURNOUT_2018, tmp_path / "presence_RO_2018-10-07_21-00.csv", 6)
    later = head(TURNOUT_2018, tmp_path / "presence_RO_2018-10-07_21-30.csv", 6)
    (tmp_path / "st").mkdir()
    run("station", "import", led, "--key", key, csv, "--keys-out", tmp_path / "st")
    done = run_json("import", led, "--format", "aep-turnout", "--key", key, csv,
                    "--station-keys", tmp_path / "st")
    assert done["summary"]["records_by_kind"] == {"turnout": 6}
    assert done["summary"]["station_signed"] == 6
    # Already-published data without station keys: the publisher signs it (same counters, so
    # every row is unchanged here: nothing is written twice).
    again = run_json("import", led, "--format", "aep-turnout", "--key", key, later)
    assert again["summary"]["rows_by_kind"] == {
        "turnout": {"written": 0, "unchanged": 6, "stale": 0, "refused": 0}}


def test_sign_and_append_a_station_record_and_refuse_a_replay(pub: dict[str, Path]) -> None:
    d, led, key = pub["dir"], pub["led"], pub["key"]
    run("keygen", "AB-1", "-o", d)
    added = run_json("station", "add", led, "--key", key, "--station", "AB-1",
                     "--pub", d / "AB-1.pub", "--county", "ALBA", "--number", "1",
                     "--name", "School 1")
    assert added["index"] == 1
    record = Turnout(station="AB-1", at=1_747_540_800_000, registered=Registered(permanent=900),
                     counts={"LP": 10, "LS": 1, "UM": 0, "LT": 11})
    (d / "t.json").write_text(json.dumps(record_to_json(record)))
    run("sign", "--key", d / "AB-1.key", "--origin", ORIGIN, d / "t.json", "-o", d / "t.entry")
    run("sign", "--key", d / "AB-1.key", "--origin", "prezenta.example.ro/other", d / "t.json",
        "-o", d / "replay.entry")
    appended = run_json("append", led, d / "t.entry", d / "replay.entry", ok=1)
    assert [a["index"] for a in appended["appended"]] == [2]
    assert appended["errors"][0]["file"] == str(d / "replay.entry")
    assert appended["errors"][0]["category"] == "signature"
    revoked = run_json("station", "revoke", led, "--key", key, "--station", "AB-1",
                       "--reason", "lost")
    assert revoked["index"] == 3
    run("station", "revoke", led, "--key", key, "--station", "AB-1", "--reason", "x", ok=2)


def test_seal_refuses_an_empty_block_unless_asked(pub: dict[str, Path]) -> None:
    run("seal", pub["led"], "--key", pub["key"])
    refused = run("seal", pub["led"], "--key", pub["key"], ok=2)
    assert "--empty" in refused.stderr
    assert run_json("seal", pub["led"], "--key", pub["key"], "--empty")["count"] == 0


def test_a_second_writer_gets_exit_3_naming_the_holder(pub: dict[str, Path]) -> None:
    with Ledger.open(pub["led"]):
        result = run("seal", pub["led"], "--key", pub["key"], ok=3)
        assert f"pid {os.getpid()}" in result.stderr
        assert run_json("status", pub["led"])["tree_size"] == 1  # readers are not blocked


def test_not_a_ledger_is_exit_3_and_a_bad_index_exit_2(pub: dict[str, Path]) -> None:
    run("status", pub["dir"], ok=3)
    run("show", pub["led"], "7", ok=2)
    run("show", pub["led"], ok=2)


def test_wrong_publisher_key_is_refused(pub: dict[str, Path]) -> None:
    run("keygen", "impostor", "--key-name", ORIGIN, "-o", pub["dir"])
    result = run("seal", pub["led"], "--key", pub["dir"] / "impostor.key", ok=2)
    assert "not this ledger's publisher key" in result.stderr


def test_the_installed_command_runs_a_session(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "ledger"
    csv = head(PV_2025, tmp_path / "pv.csv", 5)

    def ledger(*args: str | Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(exe), *map(str, args)], cwd=tmp_path, capture_output=True,
                              text=True, timeout=120, check=False)

    assert ledger("keygen", "pub", "--key-name", ORIGIN).returncode == 0
    assert ledger("manifest", "--format", "aep-pv", csv, "--name", "T", "--date", "2025-05-18",
                  "--tz", "Europe/Bucharest", "-o", "m.json").returncode == 0
    assert ledger("init", "led", "--origin", ORIGIN, "--key", "pub.key",
                  "--election", "m.json").returncode == 0
    (tmp_path / "st").mkdir()
    assert ledger("station", "import", "led", "--key", "pub.key", csv,
                  "--keys-out", "st").returncode == 0
    imported = ledger("import", "led", "--format", "aep-pv", "--key", "pub.key", csv,
                      "--station-keys", "st")
    assert imported.returncode == 0, imported.stderr
    assert imported.stderr == ""  # no progress when stderr is not a terminal
    sealed = ledger("seal", "led", "--key", "pub.key", "--json")
    assert json.loads(sealed.stdout)["tree_size"] == 12
    locked_probe = ledger("status", "led", "--json")
    assert json.loads(locked_probe.stdout)["unsealed"] == 0


def console_commands(doc: Path) -> list[list[str]]:
    """The `$ ...` lines of the console blocks of a doc page, split like a shell would."""
    return [shlex.split(line[2:]) for line in doc.read_text().splitlines()
            if line.startswith("$ ")]


def test_publisher_guide_session_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    head(PV_2025, tmp_path / "pv.csv", 8)
    record = Turnout(station="AB-1", at=1_747_548_000_000, registered=Registered(permanent=900),
                     counts={"LP": 10, "LS": 1, "UM": 0, "LT": 11})
    (tmp_path / "turnout.json").write_text(json.dumps(record_to_json(record)))
    commands = console_commands(ROOT / "docs" / "publisher.md")
    assert len(commands) >= 10
    for argv in commands:
        if argv[0] == "mkdir":
            (tmp_path / argv[1]).mkdir()
            continue
        assert argv[0] == "ledger"
        run(*argv[1:])
    assert run_json("status", "led")["tree_size"] == 8 + 8 + 1 + 1 + 1


def test_station_import_reads_public_keys_and_add_takes_a_record(pub: dict[str, Path]) -> None:
    d, led, key = pub["dir"], pub["led"], pub["key"]
    few = head(pub["csv"], d / "few.csv", 3)
    pubs = d / "pubs"
    pubs.mkdir()
    for station in ("AB-1", "AB-2"):
        run("keygen", station, "-o", pubs)
    missing = run("station", "import", led, "--key", key, few, "--pubs", pubs, ok=2)
    assert "AB-3.pub" in missing.stderr
    run("keygen", "AB-3", "-o", pubs)
    done = run_json("station", "import", led, "--key", key, few, "--pubs", pubs)
    assert done["registered"] == 3
    run("station", "import", led, "--key", key, few, ok=2)  # neither --keys-out nor --pubs
    run("keygen", "CJ-7", "-o", d)
    vkey = (d / "CJ-7.pub").read_text().strip()
    record = Station(id="CJ-7", county="CLUJ", number=7, name="Liceul 7",
                     pubkey=parse_verifier_key(vkey).public_key)
    (d / "cj7.json").write_text(json.dumps(record_to_json(record)))
    added = run_json("station", "add", led, "--key", key, "--record", d / "cj7.json")
    assert added["index"] == 4
    assert run_json("show", led, "4")["entries"][0]["record"]["id"] == "CJ-7"


def test_output_directories_are_made_and_input_directories_named_when_missing(
    pub: dict[str, Path],
) -> None:
    d, led, key = pub["dir"], pub["led"], pub["key"]
    run("keygen", "AB-1", "-o", d / "new" / "keys")
    assert stat.S_IMODE((d / "new" / "keys").stat().st_mode) == 0o700
    assert (d / "new" / "keys" / "AB-1.key").is_file()
    missing = run("import", led, "--format", "aep-pv", "--key", key, pub["csv"],
                  "--station-keys", d / "nowhere", ok=2)
    assert "no such directory" in missing.stderr
    assert "nowhere" in missing.stderr
    no_pubs = run("station", "import", led, "--key", key, pub["csv"], "--pubs", d / "nope", ok=2)
    assert "no such directory" in no_pubs.stderr
    made = run_json("station", "import", led, "--key", key, pub["csv"], "--keys-out",
                    d / "made" / "st")
    assert made["registered"] == 12
    assert stat.S_IMODE((d / "made" / "st").stat().st_mode) == 0o700
    done = run_json("import", led, "--format", "aep-pv", "--key", key, pub["csv"],
                    "--station-keys", d / "made" / "st")
    assert done["summary"]["station_signed"] == 12
    (d / "t.json").write_text(json.dumps(record_to_json(
        Turnout(station="AB-1", at=1_747_540_800_000, registered=Registered(permanent=900),
                counts={"LP": 10, "LS": 1, "UM": 0, "LT": 11}))))
    run("sign", "--key", d / "made" / "st" / "AB-1.key", "--origin", ORIGIN, d / "t.json",
        "-o", d / "out" / "entries" / "t.entry")
    assert (d / "out" / "entries" / "t.entry").is_file()
    run("keygen", "x", "-o", pub["csv"], ok=2)  # a file is not a directory


def test_a_reimported_file_writes_nothing_counts_every_row_unchanged_and_exits_0(
    pub: dict[str, Path],
) -> None:
    d, led, key = pub["dir"], pub["led"], pub["key"]
    run("station", "import", led, "--key", key, pub["csv"], "--keys-out", d / "st")
    run("import", led, "--format", "aep-pv", "--key", key, pub["csv"], "--station-keys", d / "st")
    size = run_json("status", led)["tree_size"]
    again = run_json("import", led, "--format", "aep-pv", "--key", key, pub["csv"],
                     "--station-keys", d / "st")
    assert again["errors"] == []
    assert again["summary"]["rows_by_kind"] == {
        "report": {"written": 0, "unchanged": 12, "stale": 0, "refused": 0}}
    assert run_json("status", led)["tree_size"] == size
