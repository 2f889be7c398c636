"""One log per county under a national log (docs/spec.md, "One log per county under a national
log"): the golden national/ vectors of an independent implementation, rules 1-3 in the one
checker, and its state kept across an audit.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from ledger.auditor.national import COUNTY_RULES, verify_national
from ledger.auditor.national_proof import check_national, prove_national
from ledger.auditor.prove import make_receipt
from ledger.auditor.receipts import Receipt, format_receipt, parse_receipt
from ledger.auditor.verify import verify
from ledger.check.checker import EntryChecker
from ledger.check.national import LOG_RULES
from ledger.errors import InputError, VerificationError
from ledger.formats.keys import parse_verifier_key
from ledger.formats.records import Log, encode_entry, sign_record
from ledger.formats.signing import Signer
from ledger.formats.tiles import parse_entry_bundle
from ledger.sources.open import open_source
from tests.conftest import GOLDEN_DIR, doc_section, load_json

NATIONAL = GOLDEN_DIR / "national"
CASES = load_json(NATIONAL / "reject" / "cases.json")
EXPECTED = load_json(NATIONAL / "expected.json")
NATIONAL_KEY = parse_verifier_key(CASES["national_vkey"])
COUNTY_KEYS = {code: parse_verifier_key(v) for code, v in CASES["county_vkeys"].items()}
KEYS = load_json(GOLDEN_DIR / "keys.json")["national"]
#: The codes ``check_national`` refuses four receipts with (ledger.auditor.national_proof).
RECEIPT_CODES = ("national-receipt-kind", "national-receipt-checkpoint", "national-receipt-log",
                 "national-receipt-county-checkpoint")
NATIONAL_ONLY = [c for c in CASES["cases"] if not c["needs_county_logs"]]


def _entries(path: Path) -> list[bytes]:
    """Every entry of a published log's first bundle (the golden logs fit in one)."""
    bundle = next((path / "tile" / "entries").iterdir())
    if bundle.is_dir():  # a partial bundle: 000.p/<width>, the widest
        bundle = max(bundle.iterdir(), key=lambda p: int(p.name))
    return parse_entry_bundle(bundle.read_bytes(), int(bundle.name))


def test_golden_national_log_verifies_alone_with_no_finding() -> None:
    report = verify(open_source(str(NATIONAL / "log")), NATIONAL_KEY, workers=1)
    assert (report.errors, report.warnings) == ([], [])
    assert report.tree_size == EXPECTED["national"]["tree_size"]
    assert report.root is not None
    assert report.root.hex() == EXPECTED["national"]["root_hex"]
    assert dict(report.records_by_kind) == EXPECTED["national"]["records_by_kind"]


@pytest.mark.parametrize("code", sorted(COUNTY_KEYS))
def test_golden_county_log_verifies_alone_as_an_ordinary_log(code: str) -> None:
    report = verify(open_source(str(NATIONAL / "county" / code)), COUNTY_KEYS[code], workers=1)
    assert (report.errors, report.warnings) == ([], [])
    assert report.root is not None
    assert report.root.hex() == EXPECTED["county_logs"][code]["root_hex"]


@pytest.mark.parametrize("case", NATIONAL_ONLY, ids=[c["name"] for c in NATIONAL_ONLY])
def test_golden_national_log_fault_found_without_the_county_logs(case: dict[str, Any]) -> None:
    report = verify(open_source(str(GOLDEN_DIR / case["log"])), NATIONAL_KEY, workers=1)
    got = [(f.category, f.where.index, f.where.block) for f in report.errors]
    assert got == [(case["category"], case["index"], case["block"])]
    assert report.errors[0].code in LOG_RULES


def test_checker_state_of_a_national_log_resumes_mid_log_to_the_same_verdicts() -> None:
    entries = _entries(NATIONAL / "reject" / "checkpoint-two-roots-one-size" / "log")
    whole = EntryChecker(origin=NATIONAL_KEY.name, publisher=NATIONAL_KEY)
    verdicts = [whole.check(i, e, in_log=True).errors for i, e in enumerate(entries)]
    half = EntryChecker(origin=NATIONAL_KEY.name, publisher=NATIONAL_KEY)
    for i, e in enumerate(entries[:8]):
        half.check(i, e, in_log=True)
    resumed = EntryChecker.from_value(half.to_value(), NATIONAL_KEY)
    again = [resumed.check(i, e, in_log=True).errors for i, e in enumerate(entries[8:], 8)]
    assert [[x.code for x in v] for v in again] == [[x.code for x in v] for v in verdicts[8:]]
    assert any(again)
    assert resumed.root() == whole.root()
    assert resumed.logs.to_value() == whole.logs.to_value()


def test_log_record_in_an_ordinary_log_refused_by_the_publisher_checker() -> None:
    county = Signer(bytes.fromhex(KEYS["county_publishers"]["AB"]["seed_hex"]))
    key = COUNTY_KEYS["AB"]
    entries = _entries(NATIONAL / "county" / "AB")
    checker = EntryChecker(origin=key.name, publisher=key)
    for i, e in enumerate(entries):
        assert checker.check(i, e).ok
    record = Log(id="CJ", origin=f"{key.name}/CJ", vkey=CASES["county_vkeys"]["CJ"])
    data = encode_entry(sign_record(county, key.name, record))
    checked = checker.check(len(entries), data)
    assert [(e.category, e.code) for e in checked.errors] == [("log", "log-in-ordinary-log")]
    assert checker.size == len(entries)  # refused: not in the tree


def _county_case_finding(case: dict[str, Any], finding: Any) -> tuple[Any, ...]:
    """A finding in the coordinates cases.json gives: the county log's own entry when the
    fault is only in it (the county audit's finding names its source), else the national's."""
    if case["index"] is None:
        assert finding.where.source is not None
        return finding.category, finding.where.index, finding.where.log
    assert finding.where.source is None
    return finding.category, finding.where.index, finding.where.block, finding.where.log


@pytest.mark.parametrize("case", CASES["cases"], ids=[c["name"] for c in CASES["cases"]])
def test_golden_national_case_found_with_the_county_logs(case: dict[str, Any]) -> None:
    report = verify_national(open_source(str(GOLDEN_DIR / case["log"])), NATIONAL_KEY,
                             str(GOLDEN_DIR / case["county_logs"]), workers=1)
    assert len(report.errors) == 1
    want: tuple[Any, ...] = (case["category"], case["index"], case["block"],
                             report.errors[0].where.log)
    if case["index"] is None:
        want = (case["category"], case["county_index"], "AB")
    assert _county_case_finding(case, report.errors[0]) == want
    codes = LOG_RULES | COUNTY_RULES
    assert report.errors[0].code in codes


def test_golden_national_log_with_its_county_logs_side_by_side_has_no_finding() -> None:
    report = verify_national(open_source(str(NATIONAL / "log")), NATIONAL_KEY,
                             str(NATIONAL / "county"), workers=2)
    assert (report.errors, report.warnings) == ([], [])
    counties = report.extra["county_logs"]
    assert sorted(counties) == ["AB", "CJ"]
    for code, county in counties.items():
        assert county["ok"]
        assert county["root"] == EXPECTED["county_logs"][code]["root_hex"]
        assert county["recorded"] == 3


def test_county_not_registered_by_the_national_log_is_refused() -> None:
    with pytest.raises(InputError, match="not registered"):
        verify_national(open_source(str(NATIONAL / "log")), NATIONAL_KEY,
                        str(NATIONAL / "county"), county="BV", workers=1)


RECEIPTS = NATIONAL / "receipts"
CHAIN = ("AB-1-report", "AB-1-station", "national-log-AB", "national-checkpoint-AB")


def _receipt(name: str) -> Receipt:
    return parse_receipt((RECEIPTS / f"{name}.tlog-proof").read_bytes())


def test_golden_four_receipts_check_offline_with_the_national_key_alone() -> None:
    checked = check_national(*(_receipt(n) for n in CHAIN), NATIONAL_KEY)
    assert checked.code == "AB"
    assert checked.county.signed_by == "station"
    assert checked.county.station == "AB-1"
    assert checked.county_key == COUNTY_KEYS["AB"]


def test_prove_national_writes_the_golden_four_receipts_byte_for_byte() -> None:
    proof = prove_national(open_source(str(NATIONAL / "county" / "AB")),
                           open_source(str(NATIONAL / "log")), "AB-1", category="S")
    made = (proof.record, proof.registration, proof.log, proof.checkpoint)
    for receipt, name in zip(made, CHAIN, strict=True):
        assert receipt is not None
        assert format_receipt(receipt) == (RECEIPTS / f"{name}.tlog-proof").read_bytes(), name


def test_county_receipt_under_a_checkpoint_the_national_log_did_not_record_is_refused() -> None:
    record, station, log, checkpoint = (_receipt(n) for n in CHAIN)
    earlier = (NATIONAL / "reject" / "county-log-rolled-back" / "county" / "AB" / "checkpoint")
    moved = replace(record, checkpoint=earlier.read_bytes())
    with pytest.raises(VerificationError) as info:
        check_national(moved, station, log, checkpoint, NATIONAL_KEY)
    assert (info.value.category, info.value.code) == ("log", "national-receipt-county-checkpoint")


def test_county_receipt_with_other_cosignatures_still_checks() -> None:
    record, station, log, checkpoint = (_receipt(n) for n in CHAIN)
    note = record.checkpoint.decode()
    bare = note[: note.index("\u2014 witness.example.org")].encode()  # the county line only
    checked = check_national(replace(record, checkpoint=bare), replace(station, checkpoint=bare),
                             log, checkpoint, NATIONAL_KEY)
    assert checked.county.index == record.index


def test_national_receipts_of_another_county_log_are_refused() -> None:
    record, station, log, checkpoint = (_receipt(n) for n in CHAIN)
    other_log = make_receipt(open_source(str(NATIONAL / "log")), 2,
                             checkpoint=log.checkpoint)  # CJ's log record
    with pytest.raises(VerificationError) as info:
        check_national(record, station, other_log, checkpoint, NATIONAL_KEY)
    assert info.value.code == "national-receipt-log"


def test_every_finding_code_of_the_national_rules_is_in_docs_records() -> None:
    doc = doc_section("records.md", "One log per county under a national log")
    codes = set(LOG_RULES) | set(COUNTY_RULES) | set(RECEIPT_CODES)
    assert sorted(c for c in codes if f"`{c}`" not in doc) == []


def test_an_ordinary_log_given_as_the_national_log_is_refused_as_input() -> None:
    county = NATIONAL / "county" / "AB"
    with pytest.raises(InputError, match="not a national log"):
        verify_national(open_source(str(county)), COUNTY_KEYS["AB"], str(NATIONAL / "county"),
                        workers=1)
