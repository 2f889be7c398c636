"""Election rules of docs/records.md, "Election rules": per-record checks and a streaming
cross-record checker.

Each rule has a stable code (``PV-PRSD-C-SUM``), the specification's own wording as its ``rule``
text, and is hard (an error) or soft (a warning); the rule sets themselves are data in
:mod:`ledger.check.rule_sets`. The :class:`RuleChecker` holds only per-station state, which
round-trips through a plain value (:mod:`ledger.check.rule_state`) for an auditor's incremental
state file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from operator import ge
from typing import Any

from ledger.check.findings import Finding
from ledger.check.rule_sets import RULE_SETS, Rule, RuleSet, compile_rule
from ledger.check.rule_state import parse_state
from ledger.core.hashing import sha256
from ledger.errors import RuleError, Where
from ledger.formats.codec import encode_value
from ledger.formats.records.ids import COUNTY_CODES, county_of, is_siruta_constituency
from ledger.formats.records.kinds import (
    STAGES,
    Ballot,
    Category,
    Election,
    Record,
    Report,
    Turnout,
)

# Rule texts of the rules that span records or all rule sets (docs/records.md, "Election rules",
# "all" and turnout).
FIELDS_RULE = "fields are non-negative integers, exactly the letters the rule set names"
COMPETITORS_RULE = "the votes keys are exactly the competitors of the station's ballot"
NO_BALLOT_RULE = "the ballot of the station's constituency, which must exist"
CATEGORY_RULE = "the report's category is in the manifest"
ORDER_RULE = (
    "per (station, category) (version, stage) strictly increases, version first, then "
    "PROV < PART < FINAL"
)
SAME_VERSION_RULE = (
    "a report with the same version as the one before has the same fields, votes and "
    "attachments (only stage and at change)"
)
VERSION_GAP_RULE = "a version gap"
STAGE_EARLIER_RULE = "a higher version at an earlier stage"
AFTER_FINAL_RULE = "a report after a FINAL one"
OVERRIDE_RULE = "the authority overriding a station"
LT_SUM_RULE = "LT = LP + LS + UM + LSC + LC"
LP_RULE = "LP <= registered permanent"
DECREASE_RULE = (
    "every counts and buckets value non-decreasing per station, and none dropped once "
    "present, except in a publisher-signed correction"
)
CORRECTION_RULE = "a correction"
REGISTERED_RULE = "registered changes during the day"
FINAL_LT_RULE = "final turnout LT differs from report b"
BALLOT_CATEGORY_RULE = "category str (a code whose scope is set)"
BALLOT_COUNTY_RULE = "for scope county: the county code of its stations"
BALLOT_UAT_RULE = "for uat: the decimal siruta of its stations"
BALLOT_TWICE_RULE = "one (category, constituency) has one ballot"

#: The stable code of every rule that is not a rule set's arithmetic -> (its words, hard?).
#: Together with each rule set's rules, every code a finding of category ``rules`` can carry
#: (documented in docs/records.md, "Election rules").
RECORD_RULES: Mapping[str, tuple[str, bool]] = {
    "PV-FIELDS": (FIELDS_RULE, True),
    "PV-COMPETITORS": (COMPETITORS_RULE, True),
    "PV-NO-BALLOT": (NO_BALLOT_RULE, True),
    "PV-CATEGORY": (CATEGORY_RULE, True),
    "PV-VERSION": (ORDER_RULE, True),
    "PV-SAME-VERSION": (SAME_VERSION_RULE, True),
    "PV-VERSION-GAP": (VERSION_GAP_RULE, False),
    "PV-STAGE-EARLIER": (STAGE_EARLIER_RULE, False),
    "PV-AFTER-FINAL": (AFTER_FINAL_RULE, False),
    "PV-OVERRIDE": (OVERRIDE_RULE, False),
    "TO-LT-SUM": (LT_SUM_RULE, True),
    "TO-LP-REGISTERED": (LP_RULE, True),
    "TO-DECREASE": (DECREASE_RULE, True),
    "TO-DROPPED": (DECREASE_RULE, True),
    "TO-CORRECTION": (CORRECTION_RULE, False),
    "TO-REGISTERED": (REGISTERED_RULE, False),
    "TO-OVERRIDE": (OVERRIDE_RULE, False),
    "TO-LT-PV-B": (FINAL_LT_RULE, False),
    "BALLOT-CATEGORY": (BALLOT_CATEGORY_RULE, True),
    "BALLOT-CONSTITUENCY": (BALLOT_UAT_RULE, True),
    "BALLOT-TWICE": (BALLOT_TWICE_RULE, True),
}

#: Each stage's place in the order PROV < PART < FINAL.
STAGE_RANK: Mapping[str, int] = {stage: rank for rank, stage in enumerate(STAGES)}


@dataclass(frozen=True, slots=True, kw_only=True)
class Violation:
    """One broken rule: stable ``code``, a message naming station, fields and values.

    ``category`` is the report category concerned (None for turnout rules), so a caller can
    point an end-of-log finding at that category's latest report.
    """

    code: str
    message: str
    hard: bool
    station: str | None
    rule: str
    kind: str | None = None
    category: str | None = None
    #: The entry an end-of-log violation points at (the station's latest report), if known.
    index: int | None = None

    def to_finding(self, **where: Any) -> Finding:
        """The report finding (category ``rules``), with location fields such as index or line."""
        return Finding(category="rules", code=self.code, message=self.message,
                       where=Where(station=self.station, kind=self.kind, **where))

    def to_error(self, **where: Any) -> RuleError:
        """The :class:`RuleError` for a hard violation, for callers that raise."""
        return RuleError(
            self.message, code=self.code,
            where=Where(station=self.station, kind=self.kind, **where),
        )


# --- checks of one record -------------------------------------------------------------------


def _report_label(report: Report) -> str:
    return f"station {report.station}, {report.category} version {report.version}"


def check_report(
    report: Report, category: Category, competitors: tuple[str, ...] | None = None
) -> list[Violation]:
    """The per-report rules of the category's rule set: letters, competitors (the category's,
    or those of the station's ``ballot`` for a scoped category), arithmetic."""
    rule_set = RULE_SETS[category.rules]
    fields = report.fields
    out: list[Violation] = []
    if len(fields) != len(rule_set.letters) or any(k not in fields for k in rule_set.letters):
        missing = [k for k in rule_set.letters if k not in fields]
        extra = sorted(k for k in fields if k not in rule_set.letters)
        out.append(_report_violation(
            report, "PV-FIELDS", FIELDS_RULE, True,
            f"fields are not the {rule_set.name} letters: missing {missing}, unknown {extra}",
        ))
    votes = report.votes
    if competitors is None:
        competitors = category.competitors or ()
    if len(votes) != len(competitors) or any(name not in votes for name in competitors):
        missing = [n for n in competitors if n not in votes]
        unknown = sorted(n for n in votes if n not in competitors)
        out.append(_report_violation(
            report, "PV-COMPETITORS", COMPETITORS_RULE, True,
            f"votes are not the competitors of the station's {report.category} ballot: "
            f"missing {missing}, unknown {unknown}",
        ))
    if out and out[0].code == "PV-FIELDS":
        return out
    votes_total = sum(votes.values())
    for rule in rule_set.rules:
        if not rule.holds(fields, votes_total):
            out.append(_report_violation(
                report, rule.code, rule.text, rule.hard,
                f"{rule.text} does not hold: {rule.describe(fields, votes_total)}",
            ))
    return out


def _report_violation(report: Report, code: str, rule: str, hard: bool, what: str) -> Violation:
    return Violation(code=code, rule=rule, hard=hard, station=report.station, kind="report",
                     category=report.category, message=f"{_report_label(report)}: {what}")


def check_turnout(turnout: Turnout) -> list[Violation]:
    """The per-record turnout rules: LT is the sum of the lists, LP within the permanent list."""
    counts = turnout.counts
    out: list[Violation] = []
    lt = counts["LT"]
    total = counts["LP"] + counts["LS"] + counts["UM"] + counts.get("LSC", 0) + counts.get("LC", 0)
    if lt != total:
        parts = ", ".join(f"{k} = {counts[k]}" for k in ("LP", "LS", "UM", "LSC", "LC")
                          if k in counts)
        out.append(_turnout_violation(
            turnout, "TO-LT-SUM", LT_SUM_RULE, True,
            f"LT = {lt} but the lists add up to {total} ({parts})",
        ))
    if counts["LP"] > turnout.registered.permanent:
        out.append(_turnout_violation(
            turnout, "TO-LP-REGISTERED", LP_RULE, True,
            f"LP = {counts['LP']} is above registered permanent = "
            f"{turnout.registered.permanent}",
        ))
    return out


def _turnout_violation(t: Turnout, code: str, rule: str, hard: bool, what: str) -> Violation:
    return Violation(code=code, rule=rule, hard=hard, station=t.station, kind="turnout",
                     message=f"station {t.station}, turnout at {t.at}: {what}")


# --- the streaming checker ------------------------------------------------------------------

#: The signer of a record given without one (a station key whose id the caller does not know).
UNKNOWN_SIGNER = b""


@dataclass(slots=True)
class _TurnoutState:
    registered: tuple[int, int | None]
    counts: Mapping[str, int]
    buckets: Mapping[str, int] | None
    signer: bytes
    by_publisher: bool
    index: int | None


@dataclass(slots=True)
class _ReportState:
    version: int
    stage: str
    b: int | None
    content: bytes
    signer: bytes
    by_publisher: bool
    index: int | None


def report_content(report: Report) -> bytes:
    """A digest of what a same-version report must repeat: fields, votes and attachments."""
    value: dict[str, Any] = {"fields": dict(report.fields), "votes": dict(report.votes)}
    if report.attachments is not None:
        value["attachments"] = list(report.attachments)
    return sha256(encode_value(value))[:16]


def _signer_text(signer: bytes, by_publisher: bool) -> str:
    who = "the publisher" if by_publisher else "the station"
    return f"{who} (key id {signer.hex()[:16]})" if signer else who


class RuleChecker:
    """Cross-record rules over a stream of records in log order, per-station state only.

    State advances only for a record with no hard violation, so a refused record (publisher)
    or a reported one (auditor) does not become the reference for the next. Besides turnout
    and reports it reads ``station`` records (a uat-scoped category finds a station's
    constituency by its ``siruta``) and ``ballot`` records (docs/records.md, "Record kinds").
    """

    __slots__ = ("_ballots", "_reports", "_siruta", "_turnout", "election")

    def __init__(self, election: Election) -> None:
        self.election = election
        self._turnout: dict[str, _TurnoutState] = {}
        self._reports: dict[str, dict[str, _ReportState]] = {}
        self._ballots: dict[tuple[str, str], tuple[str, ...]] = {}
        self._siruta: dict[str, int] = {}

    def check(
        self, record: Record, *, index: int | None = None, signer: bytes = UNKNOWN_SIGNER,
        by_publisher: bool = False,
    ) -> list[Violation]:
        """Violations of ``record`` (entry ``index``, signed by key id ``signer``, the
        publisher's when ``by_publisher``) given everything accepted before it.

        A station record is learnt only when it has no violation, which it never has here:
        call :meth:`learn_station` once the whole entry is accepted.
        """
        if type(record) is Turnout:
            return self._check_turnout(record, index, signer, by_publisher)
        if type(record) is Report:
            return self._check_report(record, index, signer, by_publisher)
        if type(record) is Ballot:
            return self._check_ballot(record)
        return []

    def learn_station(self, station: str, siruta: int | None) -> None:
        """Remember an accepted station record's ``siruta`` (its uat constituency)."""
        if siruta is None:
            self._siruta.pop(station, None)
        else:
            self._siruta[station] = siruta

    # --- what the importers ask ---------------------------------------------------------------

    def latest_turnout(self, station: str) -> tuple[tuple[int, int | None], Mapping[str, int],
                                                    Mapping[str, int] | None] | None:
        """The station's latest accepted turnout: (registered, counts, buckets), or None."""
        t = self._turnout.get(station)
        return None if t is None else (t.registered, t.counts, t.buckets)

    def latest_report(self, station: str, category: str) -> tuple[int, str, bytes] | None:
        """The latest accepted report of (station, category): (version, stage, content)."""
        r = self._reports.get(station, {}).get(category)
        return None if r is None else (r.version, r.stage, r.content)

    def constituency(self, station: str, category: Category) -> str | None:
        """The constituency of ``station`` for a scoped category, or None when it has none."""
        if category.scope == "county":
            return county_of(station)
        siruta = self._siruta.get(station)
        return None if siruta is None else str(siruta)

    def ballot(self, category: str, constituency: str) -> tuple[str, ...] | None:
        """The competitors of a recorded ballot, or None."""
        return self._ballots.get((category, constituency))

    # --- turnout ------------------------------------------------------------------------------

    def _check_turnout(
        self, t: Turnout, index: int | None, signer: bytes, by_publisher: bool
    ) -> list[Violation]:
        out = check_turnout(t)
        reg = t.registered
        registered = (reg.permanent, reg.complementary)
        prev = self._turnout.get(t.station)
        correcting = t.correction is not None and by_publisher
        if correcting:
            out.append(_correction(t, prev))
        if prev is not None:
            if not correcting:
                if not _none_lower(prev.counts, t.counts):
                    _compare_counters(t, "counts", prev.counts, t.counts, out)
                if prev.buckets is not None and not _none_lower(prev.buckets, t.buckets or {}):
                    _compare_counters(t, "buckets", prev.buckets, t.buckets or {}, out)
            if prev.registered != registered:
                out.append(_turnout_violation(
                    t, "TO-REGISTERED", REGISTERED_RULE, False,
                    f"registered {_registered_text(registered)} differs from "
                    f"{_registered_text(prev.registered)} in the station's previous turnout",
                ))
            # A refused record overrides nothing: the override is named only for one accepted.
            if (by_publisher and t.correction is None and not prev.by_publisher
                    and not any(v.hard for v in out)):
                out.append(_turnout_violation(
                    t, "TO-OVERRIDE", OVERRIDE_RULE, False,
                    f"a publisher-signed turnout over the station-signed one of entry "
                    f"{prev.index}: signed by {_signer_text(signer, True)}, the one it "
                    f"replaces by {_signer_text(prev.signer, False)}",
                ))
        if out and any(v.hard for v in out):
            return out
        if prev is None:
            self._turnout[t.station] = _TurnoutState(
                registered, t.counts, t.buckets, signer, by_publisher, index
            )
        else:  # the station's state, moved on in place
            prev.registered, prev.counts, prev.buckets = registered, t.counts, t.buckets
            prev.signer, prev.by_publisher, prev.index = signer, by_publisher, index
        return out

    # --- reports ------------------------------------------------------------------------------

    def _check_report(
        self, r: Report, index: int | None, signer: bytes, by_publisher: bool
    ) -> list[Violation]:
        category = self.election.categories.get(r.category)
        if category is None:
            known = sorted(self.election.categories)
            return [_report_violation(
                r, "PV-CATEGORY", CATEGORY_RULE, True,
                f"category {r.category!r} is not in the manifest (it has {known})",
            )]
        competitors = category.competitors
        if category.scope is not None:
            constituency = self.constituency(r.station, category)
            competitors = (None if constituency is None
                           else self._ballots.get((r.category, constituency)))
            if competitors is None:
                where = ("the station has no siruta" if constituency is None
                         else f"no ballot of {r.category} for constituency {constituency}")
                return [_report_violation(
                    r, "PV-NO-BALLOT", NO_BALLOT_RULE, True,
                    f"{r.category} has one ballot per {category.scope}, and {where}",
                )]
        out = check_report(r, category, competitors)
        if r.version < 1:
            out.append(_report_violation(
                r, "PV-VERSION", ORDER_RULE, True,
                f"version {r.version}: versions start at 1 or above",
            ))
        by_category = self._reports.get(r.station)
        prev = by_category.get(r.category) if by_category is not None else None
        content = report_content(r)
        if prev is not None:
            _check_order(r, prev, content, out)
            if (by_publisher and not prev.by_publisher and r.version > prev.version
                    and not any(v.hard for v in out)):
                out.append(_report_violation(
                    r, "PV-OVERRIDE", OVERRIDE_RULE, False,
                    f"a publisher-signed version {r.version} {r.stage} over the station-signed "
                    f"version {prev.version} {prev.stage} of entry {prev.index}: signed by "
                    f"{_signer_text(signer, True)}, the one it replaces by "
                    f"{_signer_text(prev.signer, False)}",
                ))
        if not any(v.hard for v in out):
            b = r.fields["b"] if RULE_SETS[category.rules].has_b else None
            if by_category is None:
                by_category = self._reports[r.station] = {}
            by_category[r.category] = _ReportState(
                r.version, r.stage, b, content, signer, by_publisher, index
            )
        return out

    # --- ballots ------------------------------------------------------------------------------

    def _check_ballot(self, ballot: Ballot) -> list[Violation]:
        category = self.election.categories.get(ballot.category)
        label = f"ballot of {ballot.category} for {ballot.constituency!r}"
        if category is None or category.scope is None:
            why = "is not in the election record" if category is None else "has no scope"
            return [_ballot_violation(ballot, "BALLOT-CATEGORY", BALLOT_CATEGORY_RULE,
                                      f"{label}: category {ballot.category} {why}")]
        if category.scope == "county" and ballot.constituency not in COUNTY_CODES:
            return [_ballot_violation(ballot, "BALLOT-CONSTITUENCY", BALLOT_COUNTY_RULE,
                                      f"{label}: not one of the 43 county codes")]
        if category.scope == "uat" and not is_siruta_constituency(ballot.constituency):
            return [_ballot_violation(
                ballot, "BALLOT-CONSTITUENCY", BALLOT_UAT_RULE,
                f"{label}: not a decimal siruta (no sign or leading zeros)",
            )]
        key = (ballot.category, ballot.constituency)
        if key in self._ballots:
            return [_ballot_violation(ballot, "BALLOT-TWICE", BALLOT_TWICE_RULE,
                                      f"{label}: that constituency has a ballot already")]
        self._ballots[key] = ballot.competitors
        return []

    # --- end of log ---------------------------------------------------------------------------

    def finish(self) -> list[Violation]:
        """End-of-log soft rules: a station's last turnout LT against its latest reports' b.

        Each violation's ``index`` is that report's entry index (when the caller gave it).
        """
        out: list[Violation] = []
        for station, by_category in self._reports.items():
            turnout = self._turnout.get(station)
            if turnout is None:
                continue
            lt = turnout.counts["LT"]
            for code, state in by_category.items():
                if state.b is not None and state.b != lt:
                    out.append(Violation(
                        code="TO-LT-PV-B", rule=FINAL_LT_RULE, hard=False, station=station,
                        kind="report", category=code, index=state.index,
                        message=f"station {station}: last turnout LT = {lt} but b = {state.b} "
                                f"in {code} version {state.version}",
                    ))
        return out

    # --- state --------------------------------------------------------------------------------

    def to_value(self) -> dict[str, Any]:
        """The per-station state as a canonical-ready value (sorted keys, no None)."""
        turnout: dict[str, Any] = {}
        for station, t in sorted(self._turnout.items()):
            reg = {"permanent": t.registered[0]}
            if t.registered[1] is not None:
                reg = {"complementary": t.registered[1], "permanent": t.registered[0]}
            value: dict[str, Any] = {}
            if t.buckets is not None:
                value["buckets"] = dict(sorted(t.buckets.items()))
            value["by_publisher"] = t.by_publisher
            value["counts"] = dict(sorted(t.counts.items()))
            if t.index is not None:
                value["index"] = t.index
            value["registered"] = reg
            value["signer"] = t.signer
            turnout[station] = value
        reports: dict[str, Any] = {}
        for station, by_category in sorted(self._reports.items()):
            reports[station] = {code: _report_state_value(s)
                                for code, s in sorted(by_category.items())}
        ballots: dict[str, dict[str, list[str]]] = {}
        for (code, constituency), competitors in sorted(self._ballots.items()):
            ballots.setdefault(code, {})[constituency] = list(competitors)
        siruta = dict(sorted(self._siruta.items()))
        return {"ballots": ballots, "reports": reports, "siruta": siruta, "turnout": turnout,
                "v": 2}

    @classmethod
    def from_value(cls, election: Election, value: Any) -> RuleChecker:
        """A checker restored from :meth:`to_value`.

        Raises:
            MalformedError: the value is not exactly the shape :meth:`to_value` writes.
        """
        checker = cls(election)
        state = parse_state(value)
        for station, t in state.turnout.items():
            checker._turnout[station] = _TurnoutState(
                t.registered, t.counts, t.buckets, t.signer, t.by_publisher, t.index
            )
        for station, by_category in state.reports.items():
            checker._reports[station] = {
                code: _ReportState(r.version, r.stage, r.b, r.content, r.signer,
                                   r.by_publisher, r.index)
                for code, r in by_category.items()
            }
        checker._ballots = dict(state.ballots)
        checker._siruta = dict(state.siruta)
        return checker


def _report_state_value(s: _ReportState) -> dict[str, Any]:
    value: dict[str, Any] = {} if s.b is None else {"b": s.b}
    value["by_publisher"] = s.by_publisher
    value["content"] = s.content
    if s.index is not None:
        value["index"] = s.index
    value["signer"] = s.signer
    value["stage"] = s.stage
    value["version"] = s.version
    return value


def _check_order(r: Report, prev: _ReportState, content: bytes, out: list[Violation]) -> None:
    """docs/records.md, "Election rules", all: the (version, stage) order of one
    (station, category), hard and soft."""
    rank, prev_rank = STAGE_RANK[r.stage], STAGE_RANK[prev.stage]
    if (r.version, rank) <= (prev.version, prev_rank):
        out.append(_report_violation(
            r, "PV-VERSION", ORDER_RULE, True,
            f"version {r.version} {r.stage} does not follow version {prev.version} "
            f"{prev.stage}",
        ))
        return
    if r.version == prev.version:
        if content != prev.content:
            out.append(_report_violation(
                r, "PV-SAME-VERSION", SAME_VERSION_RULE, True,
                f"version {r.version} {r.stage} changes the fields, votes or attachments of "
                f"version {prev.version} {prev.stage}",
            ))
        return
    if r.version > prev.version + 1:
        out.append(_report_violation(
            r, "PV-VERSION-GAP", VERSION_GAP_RULE, False,
            f"version {r.version} follows version {prev.version}",
        ))
    if prev.stage == "FINAL":
        out.append(_report_violation(
            r, "PV-AFTER-FINAL", AFTER_FINAL_RULE, False,
            f"version {r.version} {r.stage} after version {prev.version} FINAL (a recount)",
        ))
    elif rank < prev_rank:
        out.append(_report_violation(
            r, "PV-STAGE-EARLIER", STAGE_EARLIER_RULE, False,
            f"version {r.version} {r.stage} after version {prev.version} {prev.stage} "
            "(a corrected PV sent again)",
        ))


def _correction(t: Turnout, prev: _TurnoutState | None) -> Violation:
    """The warning every publisher-signed correction gets, naming what went down or out."""
    changes: list[str] = []
    if prev is not None:
        for before_map, after_map in ((prev.counts, t.counts),
                                      (prev.buckets or {}, t.buckets or {})):
            for name, before in before_map.items():
                after = after_map.get(name)
                if after is None:
                    changes.append(f"{name} {before} -> left out")
                elif after < before:
                    changes.append(f"{name} {before} -> {after}")
    what = ", ".join(changes) if changes else (
        "nothing goes down" if prev is not None else "on the station's first turnout")
    return _turnout_violation(
        t, "TO-CORRECTION", CORRECTION_RULE, False,
        f"publisher-signed correction ({what}); reason: {t.correction}",
    )


def _ballot_violation(ballot: Ballot, code: str, rule: str, message: str) -> Violation:
    return Violation(code=code, rule=rule, hard=True, station=None, kind="ballot",
                     category=ballot.category, message=message)


def _compare_counters(
    t: Turnout, field: str, prev: Mapping[str, int], now: Mapping[str, int],
    out: list[Violation],
) -> None:
    # One violation per record and kind of fault, naming every counter concerned.
    dropped: list[str] = []
    down: list[str] = []
    for name, before in prev.items():
        after = now.get(name)
        if after is None:
            dropped.append(f"{name} (was {before})")
        elif after < before:
            down.append(f"{name} from {before} to {after}")
    if down:
        out.append(_turnout_violation(
            t, "TO-DECREASE", DECREASE_RULE, True,
            f"{field} went down: {', '.join(down)} (only a publisher-signed correction may)",
        ))
    if dropped:
        out.append(_turnout_violation(
            t, "TO-DROPPED", DECREASE_RULE, True,
            f"{field} missing: {', '.join(dropped)} (only a publisher-signed correction may)",
        ))


def _none_lower(prev: Mapping[str, int], now: Mapping[str, int]) -> bool:
    """The usual case, decided in one pass: the same counters in the same order, none lower."""
    return tuple(prev) == tuple(now) and all(map(ge, now.values(), prev.values()))


def _registered_text(registered: tuple[int, int | None]) -> str:
    permanent, complementary = registered
    if complementary is None:
        return f"permanent = {permanent}"
    return f"permanent = {permanent}, complementary = {complementary}"


__all__ = [
    "RECORD_RULES",
    "RULE_SETS",
    "Rule",
    "RuleChecker",
    "RuleSet",
    "Violation",
    "check_report",
    "check_turnout",
    "compile_rule",
]
