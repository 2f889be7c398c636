"""The auditor's fast path from canonical bytes to a record, for the kinds a log is made of.

Station, turnout and report records (all but a handful of a log's entries) are decoded by one
msgpack unpack and one re-encode compared with the bytes, then checked field by field against
the exact key layouts of docs/records.md, "Record kinds". Anything else, or anything this path does
not accept, goes the strict way (:func:`ledger.formats.codec.decode_value`, then
:func:`ledger.formats.records.values.record_from_value`), which also says what is wrong: the two
give the same record or the same refusal.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import combinations
from typing import Any

from ledger.errors import MalformedError
from ledger.formats.codec import UINT_MAX, unpack_shortest
from ledger.formats.records.ids import station_id_problem
from ledger.formats.records.kinds import (
    COUNTS_OPTIONAL,
    COUNTS_REQUIRED,
    Record,
    Registered,
    Report,
    Turnout,
)
from ledger.formats.records.values import FIELDS, record_from_value


def record_if_canonical(body: bytes) -> Record | None:
    """The turnout, report or station record in ``body`` if ``body`` is exactly its canonical
    encoding; None otherwise, and for the other kinds.

    The auditor's fast path: one unpack and one re-encode, then each field checked once
    (exact key layouts, types on construction, maps in key order), where
    ``record_from_value(decode_value(body))`` walks the value generically first. On None, that
    strict path decides, and says what is wrong.
    """
    value = unpack_shortest(body)
    if type(value) is not dict or None in value.values():  # no nil: an optional key is left out
        return None
    parse = _FAST.get(tuple(value))
    if parse is None:
        return None
    try:
        return parse(value)
    except MalformedError:
        return None  # the strict path names the field


def _in_order(mapping: dict[str, Any]) -> bool:
    """Keys in canonical order; call only once the keys are known to be str."""
    keys = list(mapping)
    return keys == sorted(keys)


def _fast_station(v: dict[str, Any]) -> Record | None:
    return record_from_value(v) if v["kind"] == "station" else None


def _fast_turnout(v: dict[str, Any]) -> Turnout | None:
    # Most entries of a log are turnouts: every check of Registered and Turnout construction
    # is made here inline, and the record built from the checked values as is.
    station, at, reg, counts = v["station"], v["at"], v["registered"], v["counts"]
    buckets, correction = v.get("buckets"), v.get("correction")
    if (
        v["kind"] != "turnout"
        or type(station) is not str
        or station_id_problem(station) is not None
        or type(at) is not int
        or not 0 <= at <= UINT_MAX
        or type(reg) is not dict
        or type(counts) is not dict
        or tuple(counts) not in _COUNTS_LAYOUTS
        or not _uint_values(counts)
    ):
        return None
    if buckets is not None and (
        type(buckets) is not dict or not _uint_values(buckets) or not _in_order(buckets)
    ):
        return None
    if correction is not None and (type(correction) is not str or not correction):
        return None
    layout = tuple(reg)
    if layout != ("permanent",) and layout != ("complementary", "permanent"):
        return None
    permanent, complementary = reg["permanent"], reg.get("complementary")
    if (
        type(permanent) is not int
        or not 0 <= permanent <= UINT_MAX
        or (complementary is None and len(layout) == 2)
        or (complementary is not None
            and (type(complementary) is not int or not 0 <= complementary <= UINT_MAX))
    ):
        return None
    # Built from the values just checked, without checking them a second time.
    registered = _new(Registered)
    _set(registered, "permanent", permanent)
    _set(registered, "complementary", complementary)
    record = _new(Turnout)
    _set(record, "station", station)
    _set(record, "at", at)
    _set(record, "registered", registered)
    _set(record, "counts", counts)
    _set(record, "buckets", buckets)
    _set(record, "correction", correction)
    return record


def _uint_values(mapping: dict[Any, Any]) -> bool:
    """str keys and uint64 values only."""
    for name, count in mapping.items():
        if type(name) is not str or type(count) is not int or not 0 <= count <= UINT_MAX:
            return False
    return True


_new = object.__new__
_set = object.__setattr__


def _fast_report(v: dict[str, Any]) -> Report | None:
    fields, votes, attachments = v["fields"], v["votes"], v.get("attachments")
    if v["kind"] != "report" or type(fields) is not dict or type(votes) is not dict:
        return None
    if attachments is not None:
        if type(attachments) is not list:
            return None
        attachments = tuple(attachments)
    record = Report(
        station=v["station"],
        category=v["category"],
        version=v["version"],
        stage=v["stage"],
        at=v["at"],
        fields=fields,
        votes=votes,
        attachments=attachments,
    )
    return record if _in_order(fields) and _in_order(votes) else None


def _layouts(required: frozenset[str], optional: frozenset[str]) -> list[tuple[str, ...]]:
    """Every canonical key order of a map with all of ``required`` and any of ``optional``."""
    return [
        tuple(sorted(required.union(extra)))
        for n in range(len(optional) + 1)
        for extra in combinations(sorted(optional), n)
    ]


_COUNTS_LAYOUTS = frozenset(_layouts(COUNTS_REQUIRED, COUNTS_OPTIONAL))
_FAST: dict[tuple[str, ...], Callable[[dict[str, Any]], Record | None]] = {
    layout: parse
    for kind, parse in (
        ("station", _fast_station), ("turnout", _fast_turnout), ("report", _fast_report)
    )
    for layout in _layouts(*FIELDS[kind])
}
