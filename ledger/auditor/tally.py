"""The tally: results and turnout computed from the audited log, in the same run that verified it
(docs/auditor.md, "From records to results").

:class:`TallyBuilder` is fed every accepted entry of the checkpointed tree in log order (the
auditor's observer) and keeps only per-station state: each (station, category)'s latest report
and each station's turnout per 15-minute bin, so memory grows with stations and competitors,
never with entries. :meth:`TallyBuilder.result` sums it into a :class:`Tally`.

Choices: each station's latest report per category in the (version, stage) order of
docs/records.md, "Election rules" (with ``stage="FINAL"``, its latest FINAL report); shares of
the valid votes as each rule set names them (c presidential and local, e parliamentary and
European, d1 mail, 5 + 6 referendum); per UAT by ``siruta``; mail and precinct votes of a
presidential election combined by identical competitor name.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ledger.check.checker import CheckedEntry
from ledger.check.rule_sets import FIELD_MEANINGS, RULE_SETS
from ledger.errors import MalformedError, VerificationError
from ledger.formats.records import (
    Election,
    Report,
    Station,
    Turnout,
    record_from_value,
    record_to_value,
)
from ledger.formats.records.ids import county_of

#: Turnout bins: 15 minutes, by the turnout records' own ``at``.
BIN_MS = 15 * 60 * 1000
#: The letters that count the valid votes, per rule set (their sum is the share's base).
VALID_VOTES: Mapping[str, tuple[str, ...]] = {
    "presidential": ("c",), "local": ("c",), "parliamentary": ("e",), "european": ("e",),
    "mail": ("d1",), "referendum": ("5", "6"),
}
#: The version of the tally's part of the auditor's state file.
TALLY_STATE_VERSION = 1
#: Mail categories and the precinct category they combine with (presidential elections).
COMBINED = {"PRSD_C": "PRSD"}


@dataclass(slots=True)
class _Counted:
    """A (station, category)'s latest counted report."""

    fields: Mapping[str, int]
    votes: Mapping[str, int]
    by_publisher: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Totals:
    """Votes per competitor and field totals over a set of stations."""

    votes: Mapping[str, int]
    fields: Mapping[str, int]
    stations: int
    valid: int

    def shares(self) -> dict[str, float]:
        """Each competitor's share of the valid votes, in percent (0 when there are none)."""
        return {name: (100.0 * n / self.valid if self.valid else 0.0)
                for name, n in self.votes.items()}

    def winner(self) -> str | None:
        """The competitor with the most votes (None without votes; ties: the first listed)."""
        if not self.votes or not any(self.votes.values()):
            return None
        return max(self.votes, key=lambda name: self.votes[name])

    def to_json(self, meanings: Mapping[str, str]) -> dict[str, Any]:
        """The totals as JSON: votes, shares (percent, 3 decimals), fields with their names."""
        return {
            "stations": self.stations,
            "valid_votes": self.valid,
            "votes": dict(self.votes),
            "shares": {k: round(v, 3) for k, v in self.shares().items()},
            "fields": {k: {"total": v, "name": meanings.get(k)} for k, v in self.fields.items()},
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class CategoryTally:
    """One category's results: national, per county, per UAT, per constituency."""

    code: str
    rules: str
    scope: str | None
    national: Totals
    by_county: Mapping[str, Totals]
    by_uat: Mapping[str, Totals]
    by_constituency: Mapping[str, Totals]
    reported: int
    #: The stations whose counted report the publisher signed (the others signed their own).
    publisher_signed_stations: tuple[str, ...] = ()

    @property
    def publisher_signed(self) -> int:
        """Counted reports signed by the publisher."""
        return len(self.publisher_signed_stations)

    @property
    def station_signed(self) -> int:
        """Counted reports signed by their own station."""
        return self.reported - self.publisher_signed

    def to_json(self) -> dict[str, Any]:
        meanings = FIELD_MEANINGS.get(self.rules, {})
        return {
            "rules": self.rules,
            "scope": self.scope,
            "valid_votes_are": list(VALID_VOTES[self.rules]),
            "reported": self.reported,
            "counted_signed_by": {"station": self.station_signed,
                                  "publisher": self.publisher_signed,
                                  "publisher_signed_stations":
                                      list(self.publisher_signed_stations)},
            "national": self.national.to_json(meanings),
            "by_county": {k: v.to_json(meanings) for k, v in self.by_county.items()},
            "by_uat": {k: v.to_json(meanings) | {"winner": v.winner()}
                       for k, v in self.by_uat.items()},
            "by_constituency": {k: v.to_json(meanings) | {"winner": v.winner()}
                                for k, v in self.by_constituency.items()},
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class TurnoutCurve:
    """A county's (or the country's) turnout through the day: LT at the end of each bin."""

    points: tuple[tuple[int, int], ...]
    final_lt: int
    registered: int | None

    def to_json(self) -> dict[str, Any]:
        share = (None if not self.registered else
                 round(100.0 * self.final_lt / self.registered, 3))
        return {
            "points": [{"at": _iso(at), "at_ms": at, "LT": lt} for at, lt in self.points],
            "final_LT": self.final_lt,
            "registered": self.registered,
            "share": share,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Tally:
    """Everything the tally computed, with the tree it was computed from."""

    origin: str
    tree_size: int
    stage: str | None
    stations: int
    categories: Mapping[str, CategoryTally]
    combined: Mapping[str, Totals]
    not_reported: Mapping[str, tuple[str, ...]]
    turnout_national: TurnoutCurve
    turnout_by_county: Mapping[str, TurnoutCurve]
    lt_differs_from_b: tuple[str, ...]
    errors: int = 0

    def to_json(self) -> dict[str, Any]:
        """The documented JSON object (docs/auditor.md, "From records to results")."""
        return {
            "format": "election-ledger/v1 tally",
            "origin": self.origin,
            "tree_size": self.tree_size,
            "stage": self.stage or "latest",
            "log_errors": self.errors,
            "stations_registered": self.stations,
            "categories": {k: v.to_json() for k, v in self.categories.items()},
            "combined": {k: v.to_json({}) for k, v in self.combined.items()},
            "not_reported": {k: list(v) for k, v in self.not_reported.items()},
            "turnout": {
                "national": self.turnout_national.to_json(),
                "by_county": {k: v.to_json() for k, v in self.turnout_by_county.items()},
                "lt_differs_from_b": list(self.lt_differs_from_b),
            },
        }


@dataclass(slots=True)
class TallyBuilder:
    """Streaming accumulator over accepted entries in log order (the auditor's observer)."""

    stage: str | None = None
    election: Election | None = None
    _siruta: dict[str, int | None] = field(default_factory=dict)
    _reports: dict[str, dict[str, _Counted]] = field(default_factory=dict)
    _turnout: dict[str, dict[int, int]] = field(default_factory=dict)
    _registered: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.stage not in (None, "FINAL"):
            raise ValueError(f"stage is None (latest) or FINAL, got {self.stage!r}")

    def add(self, checked: CheckedEntry) -> None:
        """Count one accepted entry (a refused one is never given: it counts nothing)."""
        record = checked.record
        if type(record) is Report:
            if self.stage is not None and record.stage != self.stage:
                return
            # The checker accepted it, so it follows the one before in (version, stage) order.
            self._reports.setdefault(record.station, {})[record.category] = _Counted(
                record.fields, record.votes, checked.by_publisher)
        elif type(record) is Turnout:
            bins = self._turnout.setdefault(record.station, {})
            bins[record.at // BIN_MS] = record.counts["LT"]
            reg = record.registered
            self._registered[record.station] = reg.permanent + (reg.complementary or 0)
        elif type(record) is Station:
            self._siruta[record.id] = record.siruta
        elif type(record) is Election:
            self.election = record

    # --- the auditor's state file (a tally resumed with what is new) --------------------------

    def to_value(self) -> dict[str, Any]:
        """Everything added so far, as a canonical-ready value (docs/spec.md, "The auditor's
        state file")."""
        stations = {sid: ({} if siruta is None else {"siruta": siruta})
                    for sid, siruta in sorted(self._siruta.items())}
        reports = {
            sid: {code: {"by_publisher": r.by_publisher, "fields": dict(sorted(r.fields.items())),
                         "votes": dict(sorted(r.votes.items()))}
                  for code, r in sorted(by.items())}
            for sid, by in sorted(self._reports.items())
        }
        turnout = {sid: [[b, lt] for b, lt in sorted(bins.items())]
                   for sid, bins in sorted(self._turnout.items())}
        value: dict[str, Any] = {
            "registered": dict(sorted(self._registered.items())),
            "reports": reports,
            "stage": self.stage or "latest",
            "stations": stations,
            "turnout": turnout,
            "v": TALLY_STATE_VERSION,
        }
        if self.election is not None:
            value["election"] = record_to_value(self.election)
        return dict(sorted(value.items()))

    def restore(self, value: Any) -> None:
        """Take back what :meth:`to_value` wrote (the builder must be fresh, of the same stage).

        Raises:
            MalformedError: the value is not exactly that, or of another stage.
        """
        keys = {"registered", "reports", "stage", "stations", "turnout", "v"}
        if type(value) is not dict or not keys <= value.keys() <= keys | {"election"}:
            raise _bad("expected the map TallyBuilder.to_value writes")
        if value["v"] != TALLY_STATE_VERSION or value["stage"] != (self.stage or "latest"):
            raise _bad(f"version {value['v']!r}, stage {value['stage']!r}")
        try:
            if "election" in value:
                election = record_from_value(value["election"])
                if type(election) is not Election:
                    raise _bad("election is not an election record")
                self.election = election
            self._siruta = {sid: item.get("siruta") for sid, item in value["stations"].items()}
            self._registered = {sid: _int(n) for sid, n in value["registered"].items()}
            self._reports = {
                sid: {code: _Counted(_counts(r["fields"]), _counts(r["votes"]),
                                     bool(r["by_publisher"]))
                      for code, r in by.items()}
                for sid, by in value["reports"].items()
            }
            self._turnout = {sid: {_int(b): _int(lt) for b, lt in bins}
                             for sid, bins in value["turnout"].items()}
        except (AttributeError, KeyError, TypeError, ValueError) as e:
            raise _bad(f"malformed ({e})") from e

    def result(self, *, origin: str, tree_size: int, errors: int = 0) -> Tally:
        """The tally of everything added so far.

        Raises:
            VerificationError: a presidential mail category names a competitor that the precinct
                category does not (they combine by identical name).
        """
        election = self.election
        codes = {} if election is None else election.categories
        categories = {code: self._category(code, c.rules, c.scope, c.competitors or ())
                      for code, c in codes.items()}
        combined = {}
        for mail, precincts in COMBINED.items():
            if mail in categories and precincts in categories:
                combined[f"{precincts}+{mail}"] = _combine(categories[precincts].national,
                                                           categories[mail].national)
        not_reported = {code: tuple(sorted(s for s in self._siruta
                                           if code not in self._reports.get(s, {})))
                        for code in codes}
        by_county, national = self._curves()
        return Tally(
            origin=origin, tree_size=tree_size, stage=self.stage, stations=len(self._siruta),
            categories=categories, combined=combined, not_reported=not_reported,
            turnout_national=national, turnout_by_county=by_county,
            lt_differs_from_b=self._lt_differs(), errors=errors,
        )

    def _category(self, code: str, rules: str, scope: str | None,
                  order: tuple[str, ...]) -> CategoryTally:
        counted = [(station, by[code]) for station, by in self._reports.items() if code in by]
        by_county: dict[str, list[_Counted]] = defaultdict(list)
        by_uat: dict[str, list[_Counted]] = defaultdict(list)
        by_constituency: dict[str, list[_Counted]] = defaultdict(list)
        for station, report in counted:
            by_county[county_of(station)].append(report)
            siruta = self._siruta.get(station)
            if siruta is not None:
                by_uat[str(siruta)].append(report)
            if scope == "county":
                by_constituency[county_of(station)].append(report)
            elif scope == "uat" and siruta is not None:
                by_constituency[str(siruta)].append(report)
        return CategoryTally(
            code=code, rules=rules, scope=scope,
            national=_sum(rules, [r for _, r in counted], order),
            by_county={k: _sum(rules, v, order) for k, v in sorted(by_county.items())},
            by_uat={k: _sum(rules, v, order) for k, v in sorted(by_uat.items(), key=_numeric)},
            by_constituency={k: _sum(rules, v, order)
                             for k, v in sorted(by_constituency.items())},
            reported=len(counted),
            publisher_signed_stations=tuple(sorted(s for s, r in counted if r.by_publisher)),
        )

    def _curves(self) -> tuple[dict[str, TurnoutCurve], TurnoutCurve]:
        counties: dict[str, list[str]] = defaultdict(list)
        for station in self._turnout:
            counties[county_of(station)].append(station)
        curves = {county: self._curve(stations) for county, stations in sorted(counties.items())}
        return curves, self._curve(list(self._turnout))

    def _curve(self, stations: Iterable[str]) -> TurnoutCurve:
        stations = list(stations)
        bins = sorted({b for s in stations for b in self._turnout[s]})
        last: dict[str, int] = {}
        points = []
        for b in bins:
            for s in stations:
                lt = self._turnout[s].get(b)
                if lt is not None:
                    last[s] = lt
            points.append(((b + 1) * BIN_MS, sum(last.values())))
        registered = [self._registered[s] for s in stations if s in self._registered]
        return TurnoutCurve(points=tuple(points), final_lt=sum(last.values()),
                            registered=sum(registered) if registered else None)

    def _lt_differs(self) -> tuple[str, ...]:
        out = []
        for station, bins in self._turnout.items():
            lt = bins[max(bins)]
            for code, report in self._reports.get(station, {}).items():
                rules = self._rules(code)
                if rules is not None and RULE_SETS[rules].has_b and report.fields.get("b") != lt:
                    out.append(station)
                    break
        return tuple(sorted(out))

    def _rules(self, code: str) -> str | None:
        category = None if self.election is None else self.election.categories.get(code)
        return None if category is None else category.rules


def _bad(message: str) -> MalformedError:
    return MalformedError(f"tally state: {message}", code="bad-state")


def _int(value: Any) -> int:
    if type(value) is not int or value < 0:
        raise ValueError(f"expected a count, got {value!r}")
    return value


def _counts(value: Any) -> dict[str, int]:
    if type(value) is not dict:
        raise ValueError("expected a map of counts")
    return {str(k): _int(v) for k, v in value.items()}


def _sum(rules: str, reports: list[_Counted], order: tuple[str, ...]) -> Totals:
    """The totals of ``reports``; competitors in ballot ``order`` (others after, as met)."""
    votes: dict[str, int] = {}
    fields: dict[str, int] = dict.fromkeys(RULE_SETS[rules].letters, 0)
    for report in reports:
        for name, n in report.votes.items():
            votes[name] = votes.get(name, 0) + n
        for letter, n in report.fields.items():
            fields[letter] = fields.get(letter, 0) + n
    valid = sum(fields.get(letter, 0) for letter in VALID_VOTES[rules])
    ordered = {name: votes[name] for name in order if name in votes}
    ordered |= {name: n for name, n in votes.items() if name not in ordered}
    return Totals(votes=ordered, fields=fields, stations=len(reports), valid=valid)


def _combine(precincts: Totals, mail: Totals) -> Totals:
    unknown = sorted(set(mail.votes) ^ set(precincts.votes))
    if unknown:
        raise VerificationError(
            f"mail and precinct votes combine by identical competitor name: {unknown} is in "
            "one only", category="rules", code="tally-competitors")
    votes = {name: precincts.votes[name] + mail.votes[name] for name in precincts.votes}
    return Totals(votes=votes, fields={}, stations=precincts.stations + mail.stations,
                  valid=precincts.valid + mail.valid)


def _numeric(item: tuple[str, Any]) -> tuple[int, str]:
    key = item[0]
    return (int(key), key) if key.isdigit() else (0, key)


def _iso(at_ms: int) -> str:
    return datetime.fromtimestamp(at_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
