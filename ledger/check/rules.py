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
from ledger.errors import RuleError, Where
from ledger.formats.records.kinds import STAGES, Category, Election, Record, Report, Turnout

# Rule texts of the rules that span records or all rule sets (docs/records.md, "Election rules",
# "all" and turnout).
FIELDS_RULE = "fields are non-negative integers, exactly the letters the rule set names"
COMPETITORS_RULE = "competitors are those of the manifest's category"
CATEGORY_RULE = "the report's category is in the manifest"
VERSION_RULE = "per (station, category) versions strictly increase"
VERSION_GAP_RULE = "a version gap"
STAGE_RULE = "the stage never goes backwards (PROV < PART < FINAL)"
LT_SUM_RULE = "LT = LP + LS + UM + LSC + LC"
LP_RULE = "LP <= registered permanent"
DECREASE_RULE = "every counts and buckets value non-decreasing per station"
DROPPED_RULE = "no counts or buckets value dropped once present"
REGISTERED_RULE = "registered changes during the day"
FINAL_LT_RULE = "final turnout LT differs from report b"

_STAGE_RANK = {stage: rank for rank, stage in enumerate(STAGES)}


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


def check_report(report: Report, category: Category) -> list[Violation]:
    """The per-report rules of the category's rule set: letters, competitors, arithmetic."""
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
    competitors = category.competitors
    if len(votes) != len(competitors) or any(name not in votes for name in competitors):
        missing = [n for n in competitors if n not in votes]
        unknown = sorted(n for n in votes if n not in competitors)
        out.append(_report_violation(
            report, "PV-COMPETITORS", COMPETITORS_RULE, True,
            f"votes are not the competitors of {report.category}: missing {missing}, "
            f"unknown {unknown}",
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


@dataclass(slots=True)
class _TurnoutState:
    registered: tuple[int, int | None]
    counts: Mapping[str, int]
    buckets: Mapping[str, int] | None


@dataclass(slots=True)
class _ReportState:
    version: int
    stage: str
    b: int | None


class RuleChecker:
    """Cross-record rules over a stream of records in log order, per-station state only.

    State advances only for a record with no hard violation, so a refused record (publisher)
    or a reported one (auditor) does not become the reference for the next.
    """

    __slots__ = ("_reports", "_turnout", "election")

    def __init__(self, election: Election) -> None:
        self.election = election
        self._turnout: dict[str, _TurnoutState] = {}
        self._reports: dict[str, dict[str, _ReportState]] = {}

    def check(self, record: Record) -> list[Violation]:
        """Violations of ``record`` given everything accepted before it (other kinds: none)."""
        if type(record) is Turnout:
            return self._check_turnout(record)
        if type(record) is Report:
            return self._check_report(record)
        return []

    def _check_turnout(self, t: Turnout) -> list[Violation]:
        out = check_turnout(t)
        reg = t.registered
        registered = (reg.permanent, reg.complementary)
        prev = self._turnout.get(t.station)
        if prev is not None:
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
        if out and any(v.hard for v in out):
            return out
        if prev is None:
            self._turnout[t.station] = _TurnoutState(registered, t.counts, t.buckets)
        else:  # the station's state, moved on in place
            prev.registered, prev.counts, prev.buckets = registered, t.counts, t.buckets
        return out

    def _check_report(self, r: Report) -> list[Violation]:
        category = self.election.categories.get(r.category)
        if category is None:
            known = sorted(self.election.categories)
            return [_report_violation(
                r, "PV-CATEGORY", CATEGORY_RULE, True,
                f"category {r.category!r} is not in the manifest (it has {known})",
            )]
        out = check_report(r, category)
        if r.version < 1:
            out.append(_report_violation(
                r, "PV-VERSION", VERSION_RULE, True,
                f"version {r.version}: versions start at 1 or above",
            ))
        by_category = self._reports.get(r.station)
        prev = by_category.get(r.category) if by_category is not None else None
        if prev is not None:
            if r.version <= prev.version:
                out.append(_report_violation(
                    r, "PV-VERSION", VERSION_RULE, True,
                    f"version {r.version} does not follow version {prev.version}",
                ))
            elif r.version > prev.version + 1:
                out.append(_report_violation(
                    r, "PV-VERSION-GAP", VERSION_GAP_RULE, False,
                    f"version {r.version} follows version {prev.version}",
                ))
            if _STAGE_RANK[r.stage] < _STAGE_RANK[prev.stage]:
                out.append(_report_violation(
                    r, "PV-STAGE", STAGE_RULE, True,
                    f"stage {r.stage} comes after stage {prev.stage}",
                ))
        if not any(v.hard for v in out):
            b = r.fields["b"] if RULE_SETS[category.rules].has_b else None
            if by_category is None:
                by_category = self._reports[r.station] = {}
            by_category[r.category] = _ReportState(r.version, r.stage, b)
        return out

    def finish(self) -> list[Violation]:
        """End-of-log soft rules: a station's last turnout LT against its latest reports' b."""
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
                        kind="report", category=code,
                        message=f"station {station}: last turnout LT = {lt} but b = {state.b} "
                                f"in {code} version {state.version}",
                    ))
        return out

    def to_value(self) -> dict[str, Any]:
        """The per-station state as a canonical-ready value (sorted keys, no None)."""
        turnout = {}
        for station, t in sorted(self._turnout.items()):
            reg = {"permanent": t.registered[0]}
            if t.registered[1] is not None:
                reg = {"complementary": t.registered[1], "permanent": t.registered[0]}
            value: dict[str, Any] = {}
            if t.buckets is not None:
                value["buckets"] = dict(sorted(t.buckets.items()))
            value["counts"] = dict(sorted(t.counts.items()))
            value["registered"] = reg
            turnout[station] = value
        reports = {}
        for station, by_category in sorted(self._reports.items()):
            reports[station] = {
                code: ({"b": s.b} if s.b is not None else {}) | {"stage": s.stage,
                                                                  "version": s.version}
                for code, s in sorted(by_category.items())
            }
        return {"reports": reports, "turnout": turnout, "v": 1}

    @classmethod
    def from_value(cls, election: Election, value: Any) -> RuleChecker:
        """A checker restored from :meth:`to_value`.

        Raises:
            MalformedError: the value is not exactly the shape :meth:`to_value` writes.
        """
        checker = cls(election)
        turnout, reports = parse_state(value)
        for station, (registered, counts, buckets) in turnout.items():
            checker._turnout[station] = _TurnoutState(registered, counts, buckets)
        for station, by_category in reports.items():
            checker._reports[station] = {
                code: _ReportState(version, stage, b)
                for code, (version, stage, b) in by_category.items()
            }
        return checker


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
            t, "TO-DECREASE", DECREASE_RULE, True, f"{field} went down: {', '.join(down)}",
        ))
    if dropped:
        out.append(_turnout_violation(
            t, "TO-DROPPED", DROPPED_RULE, True, f"{field} missing: {', '.join(dropped)}",
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
    "RULE_SETS",
    "Rule",
    "RuleChecker",
    "RuleSet",
    "Violation",
    "check_report",
    "check_turnout",
    "compile_rule",
]
