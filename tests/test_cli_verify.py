"""`ledger verify`, `prove`, `check-proof` and `consistency` as transcripts: arguments, exit code,
output; plus one run of the real installed `ledger` command."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from election_ledger_cli.app import cli as ledger_cli

from tests.conftest import GOLDEN_DIR
from tests.verify_support import EXPECTED, KEYS, VALID, copy_log, embedded_checkpoint

LEDGER = Path(sys.executable).with_name("ledger")
RECEIPTS = VALID / "receipts"


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(ledger_cli, [str(a) for a in args])


def run_json(*args: str | Path) -> tuple[int, dict[str, Any]]:
    result = run(*args, "--json")
    return result.exit_code, json.loads(result.stdout)


@pytest.fixture
def pub(tmp_path: Path) -> Path:
    path = tmp_path / "publisher.pub"
    path.write_text(KEYS["publisher"]["vkey"] + "\n", encoding="ascii")
    return path


@pytest.fixture
def older(tmp_path: Path) -> Path:
    path = tmp_path / "older.checkpoint"
    path.write_bytes(embedded_checkpoint(VALID, 221))
    return path


# --- verify --------------------------------------------------------------------------------


def test_verify_valid_exits_0_and_prints_the_summary(pub: Path) -> None:
    result = run("verify", VALID, "--pub", pub)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("OK: ")
    assert f"tree size {EXPECTED['tree_size']}" in result.stdout
    assert "0 errors, 10 warnings" in result.stdout
    assert "PV-VERSION-GAP  1" in result.stdout


def test_verify_json_is_the_report_object_of_design_section_7(pub: Path) -> None:
    code, report = run_json("verify", VALID, "--pub", pub)
    assert code == 0
    assert list(report) == ["ok", "origin", "tree_size", "root", "errors", "warnings", "summary"]
    assert (report["ok"], report["tree_size"], report["root"]) == (
        True, EXPECTED["tree_size"], EXPECTED["root_hex"])
    for key in ("entries", "blocks", "stations", "records_by_kind", "warnings_by_rule",
                "seconds", "records_per_second"):
        assert key in report["summary"]
    assert set(report["warnings"][0]) == {"index", "block", "station", "kind", "file", "line",
                                          "log", "source", "category", "code", "message"}


def test_verify_verbose_lists_every_warning(pub: Path) -> None:
    result = run("verify", VALID, "--pub", pub, "-v")
    assert "entry 300, block 6, station CJ-6" in result.stdout


def test_verify_a_rejected_log_exits_1_with_the_root_cause_first(pub: Path) -> None:
    code, report = run_json("verify", GOLDEN_DIR / "reject/hash-tile-byte-flip", "--pub", pub)
    assert code == 1
    assert (report["errors"][0]["category"], report["errors"][0]["file"]) == (
        "tiles", "tile/0/000.p/68")
    text = run("verify", GOLDEN_DIR / "reject/entry-signature-flipped", "--pub", pub)
    assert text.exit_code == 1
    assert "[signature] entry 12, block 1, station AB-3" in text.stdout


def test_verify_rollback_against_trusted_exits_1(pub: Path, tmp_path: Path) -> None:
    log = copy_log(VALID, tmp_path / "log")
    (log / "checkpoint").write_bytes(embedded_checkpoint(VALID, 221))
    code, report = run_json("verify", log, "--pub", pub, "--trusted", VALID / "checkpoint")
    assert code == 1
    assert report["errors"][0]["category"] == "rollback"


def test_verify_with_state_resumes_from_the_trusted_checkpoint(pub: Path, older: Path,
                                                               tmp_path: Path) -> None:
    log = copy_log(VALID, tmp_path / "log")
    state = tmp_path / "auditor.state"
    (log / "checkpoint").write_bytes(older.read_bytes())
    assert run("verify", log, "--pub", pub, "--state", state).exit_code == 0
    (log / "checkpoint").write_bytes((VALID / "checkpoint").read_bytes())
    code, report = run_json("verify", log, "--pub", pub, "--trusted", older, "--state", state)
    assert code == 0
    assert report["summary"]["resumed_from"] == 221
    assert report["summary"]["entries"] == EXPECTED["tree_size"] - 221
    code, report = run_json("verify", log, "--pub", pub, "--trusted", older, "--state", state,
                            "--full")
    assert (code, report["summary"]["entries"]) == (0, EXPECTED["tree_size"])


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["verify", "no-such-dir", "--pub", "{pub}"], 2),
        (["verify", "{pub}", "--pub", "{pub}"], 2),  # a file, not a log
        (["verify", str(VALID), "--pub", str(VALID / "checkpoint")], 2),  # not a key
        (["verify", str(VALID)], 2),  # --pub is required
        (["verify", str(VALID), "--pub", "{pub}", "--trusted", "{pub}"], 2),  # not a checkpoint
        (["verify", "http://127.0.0.1:9/", "--pub", "{pub}"], 4),  # nothing listens there
    ],
)
def test_verify_bad_usage_unreadable_input_or_unavailable_source_has_its_exit(
    pub: Path, args: list[str], code: int
) -> None:
    result = run(*[a.format(pub=pub) for a in args])
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output


def test_verify_a_corrupt_ledger_directory_exits_3(pub: Path, tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    ledger.mkdir()
    (ledger / "data.mdb").write_bytes(b"\xff" * 16384)
    result = run("verify", ledger, "--pub", pub)
    assert result.exit_code == 3, result.output


# --- prove and check-proof -------------------------------------------------------------------


def test_prove_station_then_check_the_pair(pub: Path, tmp_path: Path) -> None:
    out = tmp_path / "receipts"
    result = run("prove", VALID, "--station", "AB-1", "-o", out)
    assert result.exit_code == 0, result.output
    for name in ("AB-1-report.tlog-proof", "AB-1-station.tlog-proof"):
        assert (out / name).read_bytes() == (RECEIPTS / name).read_bytes()
    checked = run("check-proof", out / "AB-1-report.tlog-proof", out / "AB-1-station.tlog-proof",
                  "--pub", pub)
    assert checked.exit_code == 0, checked.output
    assert "entry 303 (report of station AB-1)" in checked.stdout
    assert "not shown offline" in checked.stdout


def test_prove_index_defaults_to_index_named_file(pub: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert run("prove", VALID, "304").exit_code == 0
    code, checked = run_json("check-proof", tmp_path / "304.tlog-proof", "--pub", pub)
    assert (code, checked["index"], checked["signed_by"]) == (0, 304, "publisher")


def test_prove_at_an_earlier_block_size(pub: Path, tmp_path: Path) -> None:
    receipt = tmp_path / "r.tlog-proof"
    assert run("prove", VALID, "5", "--size", "221", "-o", receipt).exit_code == 0
    code, checked = run_json("check-proof", receipt, "--pub", pub)
    assert (code, checked["tree_size"]) == (0, 221)
    assert run("prove", VALID, "5", "--size", "217", "-o", receipt).exit_code == 2


def test_prove_turnout_of_a_station(pub: Path, tmp_path: Path) -> None:
    assert run("prove", VALID, "--station", "CJ-3", "--kind", "turnout", "-o",
               tmp_path).exit_code == 0
    code, checked = run_json("check-proof", tmp_path / "CJ-3-turnout.tlog-proof",
                             tmp_path / "CJ-3-station.tlog-proof", "--pub", pub)
    assert (code, checked["kind"], checked["station"]) == (0, "turnout", "CJ-3")


@pytest.mark.parametrize(
    "args",
    [
        ["prove", str(VALID)],  # neither INDEX nor --station
        ["prove", str(VALID), "3", "--station", "AB-1"],  # both
        ["prove", str(VALID), "--station", "XX-1"],  # no such station
        ["prove", str(VALID), "999"],  # not in the tree
        ["prove", str(VALID), "3", "--category", "PRSD"],  # --category goes with --station
    ],
)
def test_prove_bad_usage_exits_2(args: list[str]) -> None:
    result = run(*args)
    assert result.exit_code == 2, result.output


def test_check_proof_of_a_station_signed_record_alone_exits_1(pub: Path) -> None:
    result = run("check-proof", RECEIPTS / "AB-1-report.tlog-proof", "--pub", pub)
    assert result.exit_code == 1
    assert "station record" in result.output


def test_check_proof_of_a_damaged_receipt_exits_1(pub: Path, tmp_path: Path) -> None:
    data = bytearray((RECEIPTS / "SR-6-report-by-publisher.tlog-proof").read_bytes())
    data[data.index(b"index") - 20] ^= 1
    damaged = tmp_path / "damaged.tlog-proof"
    damaged.write_bytes(bytes(data))
    assert run("check-proof", damaged, "--pub", pub).exit_code == 1


def test_check_proof_of_something_else_exits_2(pub: Path) -> None:
    assert run("check-proof", VALID / "checkpoint", "--pub", pub).exit_code == 2


# --- consistency -----------------------------------------------------------------------------


def test_consistency_with_an_older_checkpoint(pub: Path, older: Path) -> None:
    code, result = run_json("consistency", VALID, "--trusted", older, "--pub", pub)
    assert code == 0
    assert (result["old"]["tree_size"], result["new"]["tree_size"]) == (221, 308)
    assert result["proof"]
    text = run("consistency", VALID, "--trusted", older, "--pub", pub)
    assert "consistency proof" in text.stdout


def test_consistency_when_the_log_went_back_exits_1(pub: Path, tmp_path: Path) -> None:
    log = copy_log(VALID, tmp_path / "log")
    (log / "checkpoint").write_bytes(embedded_checkpoint(VALID, 221))
    result = run("consistency", log, "--trusted", VALID / "checkpoint", "--pub", pub)
    assert result.exit_code == 1
    assert "rollback" in result.output


# --- the real command ----------------------------------------------------------------------


def test_the_installed_command_verifies_and_proves(pub: Path, tmp_path: Path) -> None:
    command = str(LEDGER) if LEDGER.exists() else shutil.which("ledger")
    assert command is not None
    done = subprocess.run([command, "verify", str(VALID), "--pub", str(pub), "--json"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["ok"] is True
    assert done.stderr == ""  # no progress bar when stderr is not a terminal
    bad = subprocess.run([command, "verify", str(GOLDEN_DIR / "reject/block-prev-broken"),
                          "--pub", str(pub)], capture_output=True, text=True, timeout=120,
                         check=False)
    assert bad.returncode == 1
    assert "[chain] entry 46, block 2" in bad.stdout


# --- the guides' examples run as written ------------------------------------------------------

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _transcripts(text: str) -> list[tuple[str, list[str]]]:
    """(command, expected output lines) of every `$ ` line in the guide's code blocks."""
    out: list[tuple[str, list[str]]] = []
    in_block = False
    for line in text.splitlines():
        if line.startswith("```"):
            in_block = not in_block
        elif in_block and line.startswith("$ "):
            out.append((line[2:], []))
        elif in_block and out:
            out[-1][1].append(line)
    return out


@pytest.mark.parametrize("guide", ["auditor.md", "observer.md"])
def test_the_guides_examples_run_as_written(guide: str, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "golden").symlink_to(GOLDEN_DIR)
    (tmp_path / "publisher.pub").write_text(KEYS["publisher"]["vkey"] + "\n", encoding="ascii")
    monkeypatch.chdir(tmp_path)
    steps = _transcripts((DOCS / guide).read_text(encoding="utf-8"))
    assert steps
    for command, expected in steps:
        line, _, note = command.partition("  # exit ")
        if not line.startswith("ledger "):
            subprocess.run(line, shell=True, check=True, cwd=tmp_path)
            continue
        result = run(*shlex.split(line)[1:])
        assert result.exit_code == int(note or 0), (command, result.output)
        for want in expected:
            if "..." not in want and "records/s" not in want:
                assert want.strip() in result.output, (command, want, result.output)


def test_state_without_trusted_trusts_its_own_checkpoint_and_catches_a_rollback(
        tmp_path: Path) -> None:
    site = copy_log(VALID, tmp_path / "site")
    pub = tmp_path / "publisher.pub"
    pub.write_text(KEYS["publisher"]["vkey"] + "\n", encoding="ascii")
    state, seen = tmp_path / "audit.state", tmp_path / "seen.checkpoint"
    first = run("verify", str(site), "--pub", str(pub), "--state", str(state),
                "--save-checkpoint", str(seen))
    assert first.exit_code == 0, first.output
    assert seen.read_bytes() == (VALID / "checkpoint").read_bytes()
    again = run("verify", str(site), "--pub", str(pub), "--state", str(state))
    assert again.exit_code == 0, again.output
    size = EXPECTED["tree_size"]
    assert f"trusted the state file's own checkpoint (size {size:,})" in again.output
    assert f"resumed from the state file at size {size:,}" in again.output
    (site / "checkpoint").write_bytes(embedded_checkpoint(VALID, EXPECTED["block_indices"][1] + 1))
    rolled = run("verify", str(site), "--pub", str(pub), "--state", str(state), "--json")
    assert rolled.exit_code == 1, rolled.output
    assert [e["category"] for e in json.loads(rolled.stdout)["errors"]] == ["rollback"]
