"""Election rules: every rule of docs/records.md, "Election rules" both ways, from the golden
rules.json cases."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.check.rules import (
    RULE_SETS,
    RuleChecker,
    Violation,
    check_report,
    check_turnout,
    compile_rule,
)
from ledger.errors import MalformedError, RuleError
from ledger.formats.codec import decode_value, encode_value
from ledger.formats.records import (
    Category,
    Election,
    Registered,
    Report,
    Station,
    Turnout,
    record_from_json,
)
from ledger.importers import AEP_CATEGORY_RULES
from tests.conftest import GOLDEN_DIR, load_json

PUBLISHER_KEY_ID = bytes.fromhex(load_json(GOLDEN_DIR / "keys.json")["publisher"]["key_id_hex"])

GOLDEN = load_json(GOLDEN_DIR / "rules.json")
CODE_FOR_RULES = {"presidential": "PRSD", "local": "P", "parliamentary": "S", "european": "EUP",
                  "mail": "PRSD_C", "referendum": "REFL1"}
PRSD = Election(name="test", date="2025-05-18", tz="Europe/Bucharest",
                categories={"PRSD": Category(rules="presidential", competitors=("A", "B"))})


def _report(fields: dict[str, int], votes: dict[str, int], *, category: str = "PRSD",
            version: int = 1, stage: str = "PROV", station: str = "AB-1") -> Report:
    return Report(station=station, category=category, version=version, stage=stage,
                  at=1747594800000, fields=fields, votes=votes)


def _turnout(lp: int, ls: int = 5, um: int = 1, *, lt: int | None = None, permanent: int = 500,
             buckets: dict[str, int] | None = None, **extra: int) -> Turnout:
    counts = {"LP": lp, "LS": ls, "UM": um, **extra}
    counts["LT"] = lt if lt is not None else sum(counts.values())
    return Turnout(station="AB-1", at=1747562400000, registered=Registered(permanent=permanent),
                   counts=counts, buckets=buckets)


def _split(violations: list[Violation]) -> tuple[list[str], list[str]]:
    hard = sorted(v.rule for v in violations if v.hard)
    soft = sorted(v.rule for v in violations if not v.hard)
    return hard, soft


# --- the rule sets are the specification's, as golden rules.json writes them
# ---------------------------


def test_rule_sets_match_golden_letters_and_wording() -> None:
    for name, golden in GOLDEN["rule_sets"].items():
        ours = RULE_SETS[name]
        assert list(ours.letters) == golden["letters"]
        assert [r.text for r in ours.rules if r.hard] == golden["hard"]
        assert [r.text for r in ours.rules if not r.hard] == golden["soft"]


def test_aep_category_codes_map_to_the_golden_rule_sets() -> None:
    assert dict(AEP_CATEGORY_RULES) == GOLDEN["aep_category_rules"]


def test_rule_codes_are_unique_and_stable() -> None:
    codes = [r.code for s in RULE_SETS.values() for r in s.rules]
    assert len(codes) == len(set(codes))
    assert "PV-PRSD-C-SUM" in codes


# --- per-report rules both ways ------------------------------------------------------------


@pytest.mark.parametrize("case", GOLDEN["report_cases"], ids=lambda c: c["name"])
def test_report_case_breaks_exactly_the_golden_rules(case: dict[str, Any]) -> None:
    category = Category(rules=case["rules"], competitors=tuple(case["votes"]))
    report = _report(case["fields"], case["votes"], category=CODE_FOR_RULES[case["rules"]])
    violations = check_report(report, category)
    if not case["letters_ok"]:
        assert [v.code for v in violations] == ["PV-FIELDS"]
        assert violations[0].hard
        return
    assert _split(violations) == (sorted(case["hard"]), sorted(case["soft"]))


def test_report_message_names_station_fields_and_values() -> None:
    report = _report({"a": 1000, "b": 600, "b1": 590, "b2": 10, "b3": 0, "c": 590, "d": 10,
                      "e": 1000, "f": 400}, {"A": 301, "B": 290})
    [v] = check_report(report, PRSD.categories["PRSD"])
    assert v.code == "PV-PRSD-C-SUM"
    assert "AB-1" in v.message
    assert "c = 590" in v.message
    assert "sum(votes) = 591" in v.message


def test_unknown_competitor_is_refused() -> None:
    case = GOLDEN["report_cases"][0]
    report = _report(case["fields"], {"A": 300, "X": 290})
    codes = [v.code for v in check_report(report, PRSD.categories["PRSD"])]
    assert "PV-COMPETITORS" in codes


def test_missing_competitor_is_refused() -> None:
    case = GOLDEN["report_cases"][0]
    report = _report(case["fields"], {"A": 590})
    violations = check_report(report, PRSD.categories["PRSD"])
    assert [v.code for v in violations if v.hard] == ["PV-COMPETITORS"]


_PRESIDENTIAL = st.tuples(*(st.integers(0, 5000) for _ in range(6))).map(
    lambda t: {"b1": t[0], "b2": t[1], "b3": t[2], "extra": t[3], "d": min(t[4], 100),
               "f": t[5], "split": t[4]})


@settings(max_examples=150, deadline=None)
@given(_PRESIDENTIAL)
def test_consistent_presidential_reports_pass_every_rule(p: dict[str, int]) -> None:
    b = p["b1"] + p["b2"] + p["b3"]
    d = min(p["d"], b)
    c = b - d
    a_votes = min(p["split"], c)
    fields = {"a": p["b1"] + p["extra"], "b": b, "b1": p["b1"], "b2": p["b2"], "b3": p["b3"],
              "c": c, "d": d, "e": c + d + p["f"], "f": p["f"]}
    report = _report(fields, {"A": a_votes, "B": c - a_votes})
    assert check_report(report, PRSD.categories["PRSD"]) == []


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(["b", "b1", "b2", "b3", "c", "d", "e", "f"]), st.integers(1, 50))
def test_any_single_field_change_breaks_some_presidential_rule(letter: str, delta: int) -> None:
    fields = dict(GOLDEN["report_cases"][0]["fields"])
    fields[letter] += delta
    report = _report(fields, {"A": 300, "B": 290})
    assert check_report(report, PRSD.categories["PRSD"]) != []


def test_compile_rule_refuses_text_it_cannot_read() -> None:
    for text in ("a >= ", "a b", "a = (b + c", "a ? b", "a = b)", "= b"):
        with pytest.raises(ValueError, match="rule"):
            compile_rule("X", text, hard=True)


# --- per-turnout rules both ways -----------------------------------------------------------


@pytest.mark.parametrize("case", GOLDEN["turnout_cases"], ids=lambda c: c["name"])
def test_turnout_case_breaks_exactly_the_golden_rules(case: dict[str, Any]) -> None:
    record = record_from_json(case["record"])
    assert isinstance(record, Turnout)
    assert _split(check_turnout(record)) == (sorted(case["hard"]), [])


def test_turnout_lt_leaving_out_lc_is_refused() -> None:
    [v] = check_turnout(_turnout(100, lt=106, LC=3))
    assert v.code == "TO-LT-SUM"
    assert "LT = 106" in v.message
    assert "LC = 3" in v.message


# --- cross-record rules over a stream ------------------------------------------------------


@pytest.mark.parametrize("case", GOLDEN["sequence_cases"], ids=lambda c: c["name"])
def test_sequence_case_breaks_exactly_the_golden_rules(case: dict[str, Any]) -> None:
    checker = RuleChecker(PRSD)
    got = []
    for position, (obj, signed_by) in enumerate(zip(case["records"], case["signed_by"],
                                                    strict=True)):
        signer = PUBLISHER_KEY_ID if signed_by == "publisher" else bytes(32)
        got += [(position, v) for v in checker.check(
            record_from_json(obj), index=position, signer=signer,
            by_publisher=signed_by == "publisher")]
    last = len(case["records"]) - 1
    got += [(last, v) for v in checker.finish()]
    found = sorted((p, "hard" if v.hard else "soft", v.rule) for p, v in got)
    expected = sorted((e["position"], e["level"], e["rule"]) for e in case["expect"])
    assert found == expected


def test_turnout_counter_dropped_once_present_is_refused() -> None:
    checker = RuleChecker(PRSD)
    assert checker.check(_turnout(100, LSC=2)) == []
    [v] = checker.check(_turnout(150))
    assert (v.code, v.hard) == ("TO-DROPPED", True)
    assert "LSC" in v.message


def test_turnout_bucket_dropped_once_present_is_refused() -> None:
    checker = RuleChecker(PRSD)
    assert checker.check(_turnout(100, buckets={"M-18-24": 3})) == []
    [v] = checker.check(_turnout(150))
    assert v.code == "TO-DROPPED"


def test_refused_turnout_does_not_become_the_reference() -> None:
    # A forged high count is refused; the next honest count must be compared with the last
    # accepted one, not with the forgery.
    checker = RuleChecker(PRSD)
    assert checker.check(_turnout(100)) == []
    assert [v.code for v in checker.check(_turnout(450, lt=9999))] == ["TO-LT-SUM"]
    assert checker.check(_turnout(120)) == []
    assert [v.code for v in checker.check(_turnout(110))] == ["TO-DECREASE"]


def test_stations_are_checked_independently() -> None:
    checker = RuleChecker(PRSD)
    assert checker.check(_turnout(100)) == []
    other = Turnout(station="AB-2", at=1, registered=Registered(permanent=500),
                    counts={"LP": 5, "LS": 0, "UM": 0, "LT": 5})
    assert checker.check(other) == []


def test_report_category_not_in_manifest_is_refused() -> None:
    checker = RuleChecker(PRSD)
    case = GOLDEN["report_cases"][0]
    [v] = checker.check(_report(case["fields"], case["votes"], category="CD"))
    assert (v.code, v.hard) == ("PV-CATEGORY", True)


def test_report_version_zero_is_refused() -> None:
    checker = RuleChecker(PRSD)
    case = GOLDEN["report_cases"][0]
    [v] = checker.check(_report(case["fields"], case["votes"], version=0))
    assert (v.code, v.hard) == ("PV-VERSION", True)


def test_first_report_version_may_be_any_positive_int() -> None:
    checker = RuleChecker(PRSD)
    case = GOLDEN["report_cases"][0]
    assert checker.check(_report(case["fields"], case["votes"], version=4)) == []


def test_versions_are_per_category() -> None:
    election = Election(name="t", date="2025-05-18", tz="Europe/Bucharest", categories={
        "PRSD": Category(rules="presidential", competitors=("A", "B")),
        "PRSD_C": Category(rules="mail", competitors=("A", "B"))})
    checker = RuleChecker(election)
    prsd = GOLDEN["report_cases"][0]
    mail = GOLDEN["report_cases"][4]
    assert checker.check(_report(prsd["fields"], prsd["votes"], version=2)) == []
    assert checker.check(_report(mail["fields"], {"A": 90, "B": 60}, category="PRSD_C")) == []


def test_finish_ignores_categories_without_b() -> None:
    election = Election(name="t", date="2018-10-06", tz="Europe/Bucharest", categories={
        "REFL1": Category(rules="referendum", competitors=("DA", "NU"))})
    checker = RuleChecker(election)
    ref = GOLDEN["report_cases"][5]
    assert checker.check(_turnout(100)) == []
    assert checker.check(_report(ref["fields"], ref["votes"], category="REFL1")) == []
    assert checker.finish() == []


def test_violation_becomes_a_rules_finding_and_error() -> None:
    [v] = check_turnout(_turnout(100, lt=107))
    finding = v.to_finding(index=7, line=3)
    assert (finding.category, finding.code, finding.where.index, finding.where.line) == (
        "rules", "TO-LT-SUM", 7, 3)
    error = v.to_error(index=7)
    assert isinstance(error, RuleError)
    assert (error.code, error.where.station, error.where.index) == ("TO-LT-SUM", "AB-1", 7)


# --- state round trip (the auditor's incremental state file) --------------------------------


def _fed_checker() -> RuleChecker:
    checker = RuleChecker(PRSD)
    checker.check(_turnout(100, buckets={"M-18-24": 4}, LSC=1))
    comp = Turnout(station="B-1", at=1, registered=Registered(permanent=50, complementary=9),
                   counts={"LC": 2, "LP": 5, "LS": 0, "UM": 0, "LT": 7})
    checker.check(comp)
    case = GOLDEN["report_cases"][0]
    checker.check(_report(case["fields"], case["votes"], version=2, stage="PART"))
    return checker


def test_state_round_trips_through_canonical_bytes() -> None:
    checker = _fed_checker()
    value = checker.to_value()
    restored = RuleChecker.from_value(PRSD, decode_value(encode_value(value)))
    assert restored.to_value() == value
    case = GOLDEN["report_cases"][0]
    # The restored checker remembers versions, stages, counters and b.
    assert [v.code for v in restored.check(_report(case["fields"], case["votes"], version=2,
                                                   stage="PROV"))] == ["PV-VERSION"]
    assert [v.code for v in restored.check(_turnout(99, buckets={"M-18-24": 4}, LSC=1))] == [
        "TO-DECREASE"]
    [final] = restored.finish()
    assert (final.code, final.station, final.category) == ("TO-LT-PV-B", "AB-1", "PRSD")


@pytest.mark.parametrize("mutate", [
    lambda v: v.pop("v"),
    lambda v: v.update(v=1),
    lambda v: v.update(extra=1),
    lambda v: v["turnout"]["AB-1"]["counts"].pop("LT"),
    lambda v: v["turnout"]["AB-1"]["counts"].update(LP=-1),
    lambda v: v["turnout"]["AB-1"]["registered"].update(permanent="5"),
    lambda v: v["turnout"]["AB-1"].update(at=5),
    lambda v: v["reports"]["AB-1"]["PRSD"].update(stage="DONE"),
    lambda v: v["reports"]["AB-1"]["PRSD"].update(version=True),
    lambda v: v["reports"].update({"AB-2": []}),
], ids=["no-v", "v1", "extra-key", "no-LT", "negative", "str-count", "unknown-field",
        "bad-stage", "bool-version", "not-a-map"])
def test_malformed_state_is_refused(mutate: Any) -> None:
    value = decode_value(encode_value(_fed_checker().to_value()))
    mutate(value)
    with pytest.raises(MalformedError):
        RuleChecker.from_value(PRSD, value)


# --- golden logs: the rules alone find exactly the golden rule findings ----------------------


def _log_violations(directory: str, size: int) -> tuple[list[tuple[int, Violation]],
                                                        list[Violation]]:
    from ledger.formats.records import decode_entry_record
    from ledger.sources.open import open_source

    source = open_source(str(GOLDEN_DIR / directory))
    checker: RuleChecker | None = None
    found: list[tuple[int, Violation]] = []
    for index, data in enumerate(source.iter_entries(0, size)):
        entry, record = decode_entry_record(data)
        if isinstance(record, Election):
            checker = RuleChecker(record)
        elif checker is not None:
            found += [(index, v) for v in checker.check(
                record, index=index, signer=entry.key, by_publisher=entry.key == PUBLISHER_KEY_ID)]
            if isinstance(record, Station):
                checker.learn_station(record.id, record.siruta)
    assert checker is not None
    return found, checker.finish()


def test_golden_valid_log_has_exactly_the_ten_golden_warnings() -> None:
    expected = load_json(GOLDEN_DIR / "valid" / "expected.json")
    found, final = _log_violations("valid", expected["tree_size"])
    # The end-of-log rule has no entry of its own (the golden file names the latest report's).
    got: set[tuple[int | None, str | None, str, bool]]
    got = {(i, v.station, v.rule, v.hard) for i, v in found}
    got |= {(None, v.station, v.rule, v.hard) for v in final}
    want: set[tuple[int | None, str | None, str, bool]] = set()
    for w in expected["warnings"]:
        rule = w["rule"].split(" (")[0]
        index = None if rule == "final turnout LT differs from report b" else w["index"]
        want.add((index, w["station"], rule, False))
    assert got == want


def test_golden_valid_small_log_breaks_only_its_two_override_rules() -> None:
    found, final = _log_violations("valid-small", 68)
    assert sorted((i, v.code) for i, v in found) == [(58, "PV-OVERRIDE"), (66, "TO-OVERRIDE")]
    assert final == []


@pytest.mark.parametrize("case", [c for c in load_json(GOLDEN_DIR / "reject" / "cases.json")
                                  ["cases"] if c["category"] == "rules"],
                         ids=lambda c: c["name"])
def test_golden_reject_rule_case_breaks_one_hard_rule_at_its_index(case: dict[str, Any]) -> None:
    found, _ = _log_violations(case["dir"], case["tree_size"])
    assert [i for i, v in found if v.hard] == [case["index"]]


# --- ballots: one per (category, constituency), and the report follows its station's --------


@pytest.mark.parametrize("case", GOLDEN["ballot_cases"], ids=lambda c: c["name"])
def test_ballot_case_refuses_exactly_the_golden_ballots_and_report(case: dict[str, Any]) -> None:
    election = record_from_json({"kind": "election", "name": "t", "date": "2024-06-09",
                                 "tz": "Europe/Bucharest", "categories": case["categories"]})
    assert isinstance(election, Election)
    checker = RuleChecker(election)
    refused = []
    for position, obj in enumerate(case["ballots"]):
        ballot = record_from_json({"kind": "ballot", **obj} if "kind" not in obj else obj)
        refused += [{"position": position, "rule": v.rule} for v in checker.check(ballot)]
    assert refused == case["refused_ballots"]
    station = record_from_json(case["station"])
    assert isinstance(station, Station)
    checker.learn_station(station.id, station.siruta)
    category = election.categories[case["report"]["category"]]
    fields = next(c["fields"] for c in GOLDEN["report_cases"]
                  if c["rules"] == category.rules and not c["hard"] and not c["soft"])
    votes = case["report"]["votes"]
    scaled = _fields_for(category.rules, fields, sum(votes.values()))
    report = Report(station=station.id, category=case["report"]["category"], version=1,
                    stage="PROV", at=1, fields=scaled, votes=votes)
    broken = [v.rule for v in checker.check(report) if v.hard]
    assert broken == ([] if case["report_breaks"] is None else [case["report_breaks"]])


def _fields_for(rules: str, fields: dict[str, int], valid: int) -> dict[str, int]:
    """A golden valid report's fields with the valid votes set to ``valid`` (the arithmetic
    kept), so that only the ballot decides."""
    f = dict(fields)
    letter = {"presidential": "c", "local": "c", "parliamentary": "e", "european": "e"}[rules]
    delta = valid - f[letter]
    f[letter] = valid
    if rules in ("presidential", "local"):
        # b = c + d, e = c + d + f: more valid votes mean more voters and more ballots.
        f["b"] += delta
        f["b1"] += delta
        f["e"] += delta
        f["a"] += max(delta, 0)
        if rules == "local":
            f["a1"] += max(delta, 0)
    else:
        f["b"] += delta
        f["b1"] += delta
        f["c"] += delta
        f["a"] += max(delta, 0)
        f["a1"] += max(delta, 0)
    return f
