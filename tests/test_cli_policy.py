"""`--policy FILE` on verify, check-proof and consistency: a checkpoint the publisher signed
alone, or cosigned short of the quorum, is not trusted (exit 1, category `witness`)."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from election_ledger_cli.app import cli as ledger_cli

from ledger.formats.checkpoints import Checkpoint, format_checkpoint
from ledger.formats.keys import (
    SIG_COSIGNATURE_V1,
    NoteSigner,
    note_signer_for,
    parse_signer_key,
)
from ledger.formats.notes import (
    cosign,
    format_note,
    parse_signature_line,
    parse_unverified_note,
    sign_note,
)
from ledger.formats.signing import Signer
from tests.verify_support import KEYS, PUBLISHER, VALID, copy_log, embedded_checkpoint


def _witness(name: str) -> NoteSigner:
    return note_signer_for(name, Signer(hashlib.sha256(name.encode()).digest()),
                           SIG_COSIGNATURE_V1)


UNI, NGO = _witness("uni.example/witness"), _witness("ngo.example/witness")


def _cosigned(note: bytes, *witnesses: NoteSigner, when: int | None = None) -> bytes:
    parsed = parse_unverified_note(note)
    stamp = int(time.time()) if when is None else when
    lines = [parse_signature_line(cosign(parsed.text, w, stamp)) for w in witnesses]
    return format_note(parsed.text, [*parsed.signatures, *lines])


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(ledger_cli, [str(a) for a in args])


def run_json(*args: str | Path) -> tuple[int, dict[str, Any]]:
    result = run(*args, "--json")
    return result.exit_code, json.loads(result.stdout)


def _write_policy(path: Path, quorum: str, log_key: str = KEYS["publisher"]["vkey"]) -> Path:
    path.write_text(f"log {log_key}\nwitness uni {UNI.verifier_key}\n"
                    f"witness ngo {NGO.verifier_key}\ngroup both all uni ngo\n"
                    f"quorum {quorum}\n", encoding="utf-8")
    return path


@pytest.fixture
def cosigned_log(tmp_path: Path) -> Path:
    """The valid log with its checkpoint cosigned by both witnesses."""
    log = copy_log(VALID, tmp_path / "log")
    (log / "checkpoint").write_bytes(_cosigned((log / "checkpoint").read_bytes(), UNI, NGO))
    return log


@pytest.fixture
def both(tmp_path: Path) -> Path:
    return _write_policy(tmp_path / "both.policy", "both")


def test_verify_with_a_policy_met_by_both_witnesses_exits_0(cosigned_log: Path,
                                                           both: Path) -> None:
    code, report = run_json("verify", cosigned_log, "--policy", both, "--workers", "1")
    assert code == 0, report["errors"]
    assert report["summary"]["cosigned_by"] == {"checkpoint": ["uni", "ngo"]}
    text = run("verify", cosigned_log, "--policy", both, "--workers", "1")
    assert "checkpoint cosigned by uni, ngo" in text.stdout


def test_verify_refuses_a_checkpoint_signed_by_the_publisher_alone(both: Path) -> None:
    code, report = run_json("verify", VALID, "--policy", both, "--workers", "1")
    assert code == 1
    first = report["errors"][0]
    assert (first["category"], first["code"], first["file"]) == ("witness", "quorum",
                                                                 "checkpoint")
    assert "group both needs 2 of uni, ngo; cosigned by no listed witness" in first["message"]


def test_verify_refuses_a_checkpoint_one_witness_short(tmp_path: Path, both: Path) -> None:
    log = copy_log(VALID, tmp_path / "one")
    (log / "checkpoint").write_bytes(_cosigned((log / "checkpoint").read_bytes(), UNI))
    code, report = run_json("verify", log, "--policy", both, "--workers", "1")
    assert code == 1
    assert "cosigned by uni" in report["errors"][0]["message"]


def test_verify_refuses_a_cosignature_dated_past_the_clock_skew(tmp_path: Path,
                                                                both: Path) -> None:
    log = copy_log(VALID, tmp_path / "future")
    (log / "checkpoint").write_bytes(_cosigned((log / "checkpoint").read_bytes(), UNI, NGO,
                                               when=int(time.time()) + 3600))
    code, report = run_json("verify", log, "--policy", both, "--workers", "1")
    assert (code, report["errors"][0]["code"]) == (1, "cosignature-in-future")


def test_a_policy_without_the_logs_origin_exits_2(cosigned_log: Path, tmp_path: Path) -> None:
    other = note_signer_for("other.example/e", Signer(bytes(32))).verifier_key
    policy = _write_policy(tmp_path / "other.policy", "both", log_key=str(other))
    result = run("verify", cosigned_log, "--policy", policy)
    assert result.exit_code == 2
    assert "no log line for origin" in result.output


def test_a_pub_that_is_not_the_policys_log_key_exits_2(cosigned_log: Path, tmp_path: Path,
                                                       both: Path) -> None:
    impostor = note_signer_for(PUBLISHER.name, Signer(bytes(32))).verifier_key
    pub = tmp_path / "impostor.pub"
    pub.write_text(f"{impostor}\n", encoding="ascii")
    result = run("verify", cosigned_log, "--pub", pub, "--policy", both)
    assert result.exit_code == 2
    assert "not the policy's key" in result.output


def test_a_policy_naming_an_unknown_witness_exits_2_naming_the_line(cosigned_log: Path,
                                                                    tmp_path: Path) -> None:
    policy = tmp_path / "bad.policy"
    policy.write_text(f"log {KEYS['publisher']['vkey']}\nquorum nobody\n", encoding="utf-8")
    result = run("verify", cosigned_log, "--policy", policy)
    assert result.exit_code == 2
    assert "bad.policy:2" in result.output


def test_neither_pub_nor_policy_is_bad_usage() -> None:
    assert run("verify", VALID).exit_code == 2


def test_check_proof_with_a_policy_needs_the_receipts_checkpoint_cosigned(
        cosigned_log: Path, both: Path, tmp_path: Path) -> None:
    out = tmp_path / "receipts"
    assert run("prove", cosigned_log, "--station", "AB-1", "-o", out).exit_code == 0
    code, checked = run_json("check-proof", out / "AB-1-report.tlog-proof",
                             out / "AB-1-station.tlog-proof", "--policy", both)
    assert code == 0
    assert checked["cosigned_by"] == ["uni", "ngo"]
    code, refused = run_json("check-proof", VALID / "receipts" / "AB-1-report.tlog-proof",
                             VALID / "receipts" / "AB-1-station.tlog-proof", "--policy", both)
    assert code == 1
    assert "needs 2 of uni, ngo" in refused["error"]


def test_consistency_with_a_policy_checks_both_checkpoints(cosigned_log: Path, both: Path,
                                                           tmp_path: Path) -> None:
    old = tmp_path / "old.checkpoint"
    old.write_bytes(_cosigned(embedded_checkpoint(VALID, 221), UNI, NGO))
    code, result = run_json("consistency", cosigned_log, "--trusted", old, "--policy", both)
    assert code == 0
    assert result["cosigned_by"] == ["uni", "ngo"]
    old.write_bytes(embedded_checkpoint(VALID, 221))
    refused = run("consistency", cosigned_log, "--trusted", old, "--policy", both)
    assert refused.exit_code == 1
    assert "old checkpoint" in refused.output
    assert "quorum" in refused.output


# --- split views written as evidence ------------------------------------------------------------


@pytest.mark.parametrize("size", [221, 256])
def test_consistency_with_a_forked_old_checkpoint_writes_evidence_that_checks(
        size: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    publisher = parse_signer_key(KEYS["publisher"]["skey"])
    forged = sign_note(format_checkpoint(Checkpoint(origin=PUBLISHER.name, size=size,
                                                    root=bytes(32))), [publisher])
    (tmp_path / "forked.checkpoint").write_bytes(forged)
    (tmp_path / "publisher.pub").write_text(KEYS["publisher"]["vkey"] + "\n", encoding="ascii")
    monkeypatch.chdir(tmp_path)
    result = run("consistency", VALID, "--trusted", "forked.checkpoint", "--pub", "publisher.pub")
    assert result.exit_code == 1
    assert "[equivocation]" not in result.output  # one line on stderr, not a report
    [evidence] = tmp_path.glob(f"evidence-*-{size}-308.txt")
    assert f"written to {evidence.name}" in result.output
    checked = run("check-evidence", evidence, "--pub", "publisher.pub")
    assert checked.exit_code == 1, checked.output
    assert checked.output.startswith("PROVED: ")
    again = run("consistency", VALID, "--trusted", "forked.checkpoint", "--pub", "publisher.pub",
                "--evidence-out", "named.txt")
    assert again.exit_code == 1
    assert (tmp_path / "named.txt").read_bytes() == evidence.read_bytes()


def test_verify_with_a_forked_trusted_checkpoint_reports_equivocation_and_writes_evidence(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    publisher = parse_signer_key(KEYS["publisher"]["skey"])
    forged = sign_note(format_checkpoint(Checkpoint(origin=PUBLISHER.name, size=221,
                                                    root=bytes(32))), [publisher])
    (tmp_path / "trusted.checkpoint").write_bytes(forged)
    (tmp_path / "publisher.pub").write_text(KEYS["publisher"]["vkey"] + "\n", encoding="ascii")
    monkeypatch.chdir(tmp_path)
    code, report = run_json("verify", VALID, "--pub", "publisher.pub", "--trusted",
                            "trusted.checkpoint", "--workers", "1", "--evidence-out", "ev.txt")
    assert code == 1
    assert [(e["category"], e["code"]) for e in report["errors"]] == [("equivocation",
                                                                      "split-view")]
    assert run("check-evidence", "ev.txt", "--pub", "publisher.pub").exit_code == 1
