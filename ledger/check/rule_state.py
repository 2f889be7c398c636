"""Strict reading of the rule checker's state value (an auditor's incremental state file).

The value is what :meth:`ledger.check.rules.RuleChecker.to_value` writes: ``{"reports": {station:
{category: {"b"?, "stage", "version"}}}, "turnout": {station: {"buckets"?, "counts",
"registered": {"complementary"?, "permanent"}}}, "v": 1}``. Anything else is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeAlias

from ledger.errors import MalformedError
from ledger.formats.records.kinds import COUNTS_OPTIONAL, COUNTS_REQUIRED, STAGES

#: Per station: (registered permanent, complementary or None), counts, buckets or None.
TurnoutState: TypeAlias = tuple[tuple[int, int | None], dict[str, int], dict[str, int] | None]
#: Per station and category: (version, stage, b or None).
ReportState: TypeAlias = tuple[int, str, int | None]

STATE_VERSION = 1


def parse_state(
    value: Any,
) -> tuple[dict[str, TurnoutState], dict[str, dict[str, ReportState]]]:
    """The turnout and report state in a rule-state value.

    Raises:
        MalformedError: the value is not exactly the documented shape.
    """
    top = _map(value, "rule state", {"reports", "turnout", "v"})
    if type(top["v"]) is not int or top["v"] != STATE_VERSION:
        raise _bad("rule state", f"unsupported version {top['v']!r}")
    turnout: dict[str, TurnoutState] = {}
    for station, item in _map(top["turnout"], "turnout").items():
        where = f"turnout[{station!r}]"
        t = _map(item, where, {"counts", "registered"}, {"buckets"})
        reg = _map(t["registered"], where + ".registered", {"permanent"}, {"complementary"})
        registered = (_uint(reg["permanent"], where), _opt_uint(reg.get("complementary"), where))
        counts = _counts(t["counts"], where + ".counts")
        names = counts.keys()
        if COUNTS_REQUIRED - names or names - COUNTS_REQUIRED - COUNTS_OPTIONAL:
            raise _bad(where, f"counts have the wrong names: {sorted(names)}")
        buckets = _counts(t["buckets"], where + ".buckets") if "buckets" in t else None
        turnout[station] = (registered, counts, buckets)
    reports: dict[str, dict[str, ReportState]] = {}
    for station, item in _map(top["reports"], "reports").items():
        by_category: dict[str, ReportState] = {}
        for code, state in _map(item, f"reports[{station!r}]").items():
            where = f"reports[{station!r}][{code!r}]"
            s = _map(state, where, {"stage", "version"}, {"b"})
            if s["stage"] not in STAGES:
                raise _bad(where, f"unknown stage {s['stage']!r}")
            by_category[code] = (_uint(s["version"], where), s["stage"],
                                 _opt_uint(s.get("b"), where))
        reports[station] = by_category
    return turnout, reports


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


def _bad(where: str, message: str) -> MalformedError:
    return MalformedError(f"{where}: {message}", code="bad-rule-state")
