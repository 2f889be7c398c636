"""`ledger verify` against the golden vectors of an independent implementation.

valid/ must verify with exactly the five warnings of expected.json; every case of reject/ must be
rejected for the reason cases.json gives (category, entry index, sealing block, damaged file).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ledger.auditor.prove import make_receipt, prove_station
from ledger.auditor.receipts import check_receipt, format_receipt, parse_receipt
from ledger.check.rule_sets import RULE_SETS
from ledger.check.rules import RECORD_RULES
from ledger.formats.keys import parse_verifier_key
from ledger.sources.published import PublishedDirSource
from tests.conftest import GOLDEN_DIR, run_doc_examples
from tests.verify_support import CASES, EXPECTED, PUBLISHER, VALID, WITNESSED, audit

#: Each rule code's text, in the specification's words (what expected.json names).
RULE_TEXT = {r.code: r.text for rule_set in RULE_SETS.values() for r in rule_set.rules} | {
    code: text for code, (text, _) in RECORD_RULES.items()
}

#: A signature made over another origin's message cannot be told from a damaged signature: both
#: are "does not verify over this origin". The replay case is reported in category signature,
#: with a message that names both causes.
SAME_EVIDENCE = {"entry-signed-for-another-origin": {"origin", "signature"}}


def _rule_words(expected_rule: str) -> str:
    """expected.json's rule without its "(presidential, soft)" note."""
    return expected_rule.split(" (")[0]


def test_valid_log_verifies_with_exactly_the_expected_warnings() -> None:
    report = audit(VALID, policy=WITNESSED)
    assert report.errors == []
    got = sorted((w.where.index, w.where.station, w.where.kind, RULE_TEXT[w.code])
                 for w in report.warnings)
    want = sorted(
        (w["index"], w["station"], w["kind"], _rule_words(w["rule"])) for w in EXPECTED["warnings"]
    )
    assert got == want


def test_valid_log_summary_matches_expected() -> None:
    report = audit(VALID)
    assert report.origin == EXPECTED["origin"]
    assert report.tree_size == EXPECTED["tree_size"]
    assert report.root is not None
    assert report.root.hex() == EXPECTED["root_hex"]
    assert report.blocks == EXPECTED["blocks"]
    assert report.stations == EXPECTED["stations"]
    assert dict(report.records_by_kind) == EXPECTED["records_by_kind"]
    assert report.entries == EXPECTED["tree_size"]
    summary = report.to_json()["summary"]
    assert sum(summary["warnings_by_rule"].values()) == len(EXPECTED["warnings"])


def test_warnings_name_the_block_that_seals_them() -> None:
    blocks = EXPECTED["block_indices"]
    for warning in audit(VALID).warnings:
        assert warning.where.index is not None
        index = warning.where.index
        assert warning.where.block == next(h for h, i in enumerate(blocks) if i >= index)


@pytest.mark.parametrize("case", CASES["cases"], ids=[c["name"] for c in CASES["cases"]])
def test_reject_case_is_rejected_for_its_reason(case: dict[str, Any]) -> None:
    publisher = parse_verifier_key(case["vkey"]) if "vkey" in case else PUBLISHER
    # With the witness key at quorum 1, as the vectors say (the origin cases have another key).
    policy = WITNESSED if "vkey" not in case else None
    report = audit(GOLDEN_DIR / case["dir"], publisher, policy=policy)
    assert report.errors, f"{case['name']} verified: {case['fault']}"
    first = report.errors[0]
    assert first.category in SAME_EVIDENCE.get(case["name"], {case["category"]}), first
    for field in ("index", "block", "file"):
        if case[field] is not None:
            assert getattr(first.where, field) == case[field], (field, first)


@pytest.mark.parametrize("case", CASES["cases"], ids=[c["name"] for c in CASES["cases"]])
def test_reject_case_fault_is_reported_once(case: dict[str, Any]) -> None:
    publisher = parse_verifier_key(case["vkey"]) if "vkey" in case else PUBLISHER
    report = audit(GOLDEN_DIR / case["dir"], publisher)
    causes = [(e.category, e.where.index, e.where.file) for e in report.errors]
    assert len(causes) == len(set(causes))


@pytest.mark.parametrize("receipt", EXPECTED["receipts"], ids=lambda r: r["file"])
def test_golden_receipts_check(receipt: dict[str, Any]) -> None:
    main = parse_receipt((VALID / receipt["file"]).read_bytes())
    station = None
    if "check_with" in receipt:
        station = parse_receipt((VALID / receipt["check_with"]).read_bytes())
    checked = check_receipt(main, PUBLISHER, station)
    assert (checked.index, checked.checkpoint.size) == (receipt["index"], receipt["tree_size"])
    assert (checked.record.KIND, checked.station) == (receipt["kind"], receipt["station"])


def test_prove_station_writes_the_golden_receipt_pair() -> None:
    proof = prove_station(PublishedDirSource(VALID), "AB-1")
    assert format_receipt(proof.record) == (VALID / "receipts/AB-1-report.tlog-proof").read_bytes()
    assert proof.registration is not None
    assert format_receipt(proof.registration) == (
        VALID / "receipts/AB-1-station.tlog-proof"
    ).read_bytes()


def test_prove_index_writes_the_golden_publisher_signed_receipt() -> None:
    source = PublishedDirSource(VALID)
    [sr6] = [r for r in EXPECTED["receipts"] if r["file"].endswith("SR-6-report-by-publisher"
                                                                     ".tlog-proof")]
    receipt = make_receipt(source, sr6["index"], checkpoint=source.read_checkpoint())
    golden = (VALID / "receipts/SR-6-report-by-publisher.tlog-proof").read_bytes()
    assert format_receipt(receipt) == golden


def test_the_publisher_overriding_a_station_is_a_warning_naming_both_signers(
    tmp_path: Path,
) -> None:
    report = audit(GOLDEN_DIR / CASES["base"])
    assert report.errors == []
    assert sorted((w.code, w.where.station) for w in report.warnings) == [
        ("PV-OVERRIDE", "AB-4"), ("TO-OVERRIDE", "AB-3")]
    for warning in report.warnings:  # both signers' key ids, and the record overridden
        assert warning.message.count("key id") == 2
        assert "of entry " in warning.message
    assert report.tree_size == CASES["base_tree_size"]


def test_api_doc_examples_run(monkeypatch: pytest.MonkeyPatch) -> None:

    root = Path(__file__).resolve().parent.parent
    monkeypatch.chdir(root)
    failures, tried = run_doc_examples("api.md", "`ledger.check.checker`")
    assert tried >= 15
    assert failures == 0
