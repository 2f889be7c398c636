"""Strict reading of the rule checker's state value (an auditor's incremental state file).

The value is what :meth:`ledger.check.rules.RuleChecker.to_value` writes (version 2)::

    {"ballots": {category: {constituency: [competitor]}},
     "reports": {station: {category: {"b"?, "by_publisher", "content", "index"?, "signer",
                                      "stage", "version"}}},
     "siruta": {station: int},
     "turnout": {station: {"buckets"?, "by_publisher", "counts", "index"?,
                           "registered": {"complementary"?, "permanent"}, "signer"}},
     "v": 2}

Anything else is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ledger.errors import MalformedError
from ledger.formats.records.kinds import COUNTS_OPTIONAL, COUNTS_REQUIRED, STAGES

STATE_VERSION = 2


@dataclass(frozen=True, slots=True)
class TurnoutState:
    """A station's latest accepted turnout, as the state file keeps it."""

    registered: tuple[int, int | None]
    counts: dict[str, int]
    buckets: dict[str, int] | None
    signer: bytes
    by_publisher: bool
    index: int | None


@dataclass(frozen=True, slots=True)
class ReportState:
    """A (station, category)'s latest accepted report, as the state file keeps it."""

    version: int
    stage: str
    b: int | None
    content: bytes
    signer: bytes
    by_publisher: bool
    index: int | None


@dataclass(frozen=True, slots=True)
class RuleState:
    """Everything a rule-state value holds."""

    turnout: dict[str, TurnoutState]
    reports: dict[str, dict[str, ReportState]]
    ballots: dict[tuple[str, str], tuple[str, ...]]
    siruta: dict[str, int]


def parse_state(value: Any) -> RuleState:
    """The rule state in a rule-state value.

    Raises:
        MalformedError: the value is not exactly the documented shape.
    """
    top = _map(value, "rule state", {"ballots", "reports", "siruta", "turnout", "v"})
    if type(top["v"]) is not int or top["v"] != STATE_VERSION:
        raise _bad("rule state", f"unsupported version {top['v']!r}")
    turnout: dict[str, TurnoutState] = {}
    for station, item in _map(top["turnout"], "turnout").items():
        where = f"turnout[{station!r}]"
        t = _map(item, where, {"by_publisher", "counts", "registered", "signer"},
                 {"buckets", "index"})
        reg = _map(t["registered"], where + ".registered", {"permanent"}, {"complementary"})
        registered = (_uint(reg["permanent"], where), _opt_uint(reg.get("complementary"), where))
        counts = _counts(t["counts"], where + ".counts")
        names = counts.keys()
        if COUNTS_REQUIRED - names or names - COUNTS_REQUIRED - COUNTS_OPTIONAL:
            raise _bad(where, f"counts have the wrong names: {sorted(names)}")
        buckets = _counts(t["buckets"], where + ".buckets") if "buckets" in t else None
        turnout[station] = TurnoutState(
            registered, counts, buckets, _bin(t["signer"], where), _bool(t["by_publisher"], where),
            _opt_uint(t.get("index"), where),
        )
    reports: dict[str, dict[str, ReportState]] = {}
    for station, item in _map(top["reports"], "reports").items():
        by_category: dict[str, ReportState] = {}
        for code, state in _map(item, f"reports[{station!r}]").items():
            where = f"reports[{station!r}][{code!r}]"
            s = _map(state, where, {"by_publisher", "content", "signer", "stage", "version"},
                     {"b", "index"})
            if s["stage"] not in STAGES:
                raise _bad(where, f"unknown stage {s['stage']!r}")
            by_category[code] = ReportState(
                _uint(s["version"], where), s["stage"], _opt_uint(s.get("b"), where),
                _bin(s["content"], where), _bin(s["signer"], where),
                _bool(s["by_publisher"], where), _opt_uint(s.get("index"), where),
            )
        reports[station] = by_category
    ballots: dict[tuple[str, str], tuple[str, ...]] = {}
    for code, by_constituency in _map(top["ballots"], "ballots").items():
        for constituency, competitors in _map(by_constituency, f"ballots[{code!r}]").items():
            if type(competitors) is not list or not all(type(c) is str for c in competitors):
                raise _bad(f"ballots[{code!r}][{constituency!r}]", "expected a list of str")
            ballots[(code, constituency)] = tuple(competitors)
    siruta = {station: _uint(v, f"siruta[{station!r}]")
              for station, v in _map(top["siruta"], "siruta").items()}
    return RuleState(turnout, reports, ballots, siruta)


def _map(
    value: Any, where: str, required: set[str] | None = None, optional: set[str] | None = None
) -> Mapping[str, Any]:
    if not isinstance(value, Mapping) or any(type(k) is not str for k in value):
        raise _bad(where, "expected a map with str keys")
    if required is not None:
        names = set(value)
        allowed = required | (optional or set())
        if required - names or names - allowed:
            raise _bad(where, f"expected keys {sorted(allowed)}, got {sorted(names)}")
    return value


def _counts(value: Any, where: str) -> dict[str, int]:
    return {name: _uint(count, f"{where}.{name}") for name, count in _map(value, where).items()}


def _uint(value: Any, where: str) -> int:
    if type(value) is not int or value < 0:
        raise _bad(where, f"expected a non-negative int, got {value!r}")
    return value


def _opt_uint(value: Any, where: str) -> int | None:
    return None if value is None else _uint(value, where)


def _bin(value: Any, where: str) -> bytes:
    if type(value) is not bytes or len(value) > 32:
        raise _bad(where, "expected a bin of at most 32 bytes")
    return value


def _bool(value: Any, where: str) -> bool:
    if type(value) is not bool:
        raise _bad(where, f"expected a bool, got {value!r}")
    return value


def _bad(where: str, message: str) -> MalformedError:
    return MalformedError(f"{where}: {message}", code="bad-rule-state")
