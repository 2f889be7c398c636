"""Records as canonical MessagePack values and as JSON: the strict way in, the one way out.

:func:`record_to_value` builds maps in canonical key order so encoding needs no sorting;
:func:`record_from_value` accepts exactly the fields of DESIGN.md section 2. Import these from
:mod:`ledger.records`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from itertools import combinations
from typing import Any

from ledger.codec import unpack_shortest
from ledger.errors import MalformedError
from ledger.record_types import (
    COUNTS_OPTIONAL,
    COUNTS_REQUIRED,
    UINT_MAX,
    Block,
    Category,
    Election,
    Record,
    Registered,
    Report,
    Revoke,
    Station,
    Turnout,
    fail,
)

# --- records as canonical values -----------------------------------------------------------


def _sorted_map(mapping: Mapping[str, Any]) -> dict[str, Any]:
    # str order is code-point order, which is the order of the UTF-8 bytes (DESIGN.md 2).
    return dict(sorted(mapping.items()))


def record_to_value(record: Record) -> dict[str, Any]:
    """The record as a MessagePack-ready map, built in canonical key order."""
    return _TO_VALUE[type(record)](record)


def _election_value(r: Election) -> dict[str, Any]:
    categories = {
        code: {"competitors": list(c.competitors), "rules": c.rules}
        for code, c in sorted(r.categories.items())
    }
    return {
        "categories": categories,
        "date": r.date,
        "kind": "election",
        "name": r.name,
        "tz": r.tz,
    }


def _station_value(r: Station) -> dict[str, Any]:
    v: dict[str, Any] = {"county": r.county, "id": r.id, "kind": "station"}
    if r.locality is not None:
        v["locality"] = r.locality
    if r.medium is not None:
        v["medium"] = r.medium
    v["name"] = r.name
    v["number"] = r.number
    v["pubkey"] = r.pubkey
    if r.siruta is not None:
        v["siruta"] = r.siruta
    if r.uat is not None:
        v["uat"] = r.uat
    return v


def _revoke_value(r: Revoke) -> dict[str, Any]:
    return {"key": r.key, "kind": "revoke", "reason": r.reason}


def _turnout_value(r: Turnout) -> dict[str, Any]:
    v: dict[str, Any] = {"at": r.at}
    if r.buckets is not None:
        v["buckets"] = _sorted_map(r.buckets)
    v["counts"] = _sorted_map(r.counts)
    v["kind"] = "turnout"
    reg = r.registered
    v["registered"] = (
        {"permanent": reg.permanent}
        if reg.complementary is None
        else {"complementary": reg.complementary, "permanent": reg.permanent}
    )
    v["station"] = r.station
    return v


def _report_value(r: Report) -> dict[str, Any]:
    v: dict[str, Any] = {"at": r.at}
    if r.attachments is not None:
        v["attachments"] = list(r.attachments)
    v["category"] = r.category
    v["fields"] = _sorted_map(r.fields)
    v["kind"] = "report"
    v["stage"] = r.stage
    v["station"] = r.station
    v["version"] = r.version
    v["votes"] = _sorted_map(r.votes)
    return v


def _block_value(r: Block) -> dict[str, Any]:
    v: dict[str, Any] = {} if r.checkpoint is None else {"checkpoint": r.checkpoint}
    v["count"] = r.count
    v["first"] = r.first
    v["height"] = r.height
    v["kind"] = "block"
    v["prev"] = r.prev
    v["time"] = r.time
    return v


_TO_VALUE: dict[type, Callable[[Any], dict[str, Any]]] = {
    Election: _election_value,
    Station: _station_value,
    Revoke: _revoke_value,
    Turnout: _turnout_value,
    Report: _report_value,
    Block: _block_value,
}


def _exact_keys(
    kind: str, field: str, value: object, required: frozenset[str], optional: frozenset[str]
) -> dict[str, Any]:
    """``value`` as a map with every required key and no key outside required | optional."""
    if type(value) is not dict:
        raise fail(kind, field, f"expected a map, got {type(value).__name__}")
    names = value.keys()
    missing = required - names
    if missing:
        raise fail(kind, field, f"missing field {', '.join(sorted(missing))}", "missing-field")
    extra = names - required - optional
    if extra:
        raise fail(kind, field, f"unknown field {', '.join(sorted(extra))}", "unknown-field")
    return value


def _tuple_of(kind: str, field: str, value: object) -> tuple[Any, ...]:
    if type(value) is not list:
        raise fail(kind, field, f"expected an array, got {type(value).__name__}")
    return tuple(value)


def _parse_category(code: str, value: object) -> Category:
    v = _exact_keys("election", f"categories.{code}", value, _CATEGORY_KEYS, frozenset())
    return Category(
        rules=v["rules"],
        competitors=_tuple_of("election", f"categories.{code}.competitors", v["competitors"]),
    )


def _parse_election(v: dict[str, Any]) -> Election:
    categories = v["categories"]
    if type(categories) is not dict:
        raise fail("election", "categories", "expected a map")
    return Election(
        name=v["name"],
        date=v["date"],
        tz=v["tz"],
        categories={code: _parse_category(code, c) for code, c in categories.items()},
    )


def _parse_station(v: dict[str, Any]) -> Station:
    g = v.get
    return Station(
        id=v["id"],
        county=v["county"],
        number=v["number"],
        name=v["name"],
        pubkey=v["pubkey"],
        siruta=g("siruta"),
        uat=g("uat"),
        locality=g("locality"),
        medium=g("medium"),
    )


def _parse_revoke(v: dict[str, Any]) -> Revoke:
    return Revoke(key=v["key"], reason=v["reason"])


def _parse_turnout(v: dict[str, Any]) -> Turnout:
    reg = _exact_keys("turnout", "registered", v["registered"], _PERMANENT, _COMPLEMENTARY)
    counts = v["counts"]
    if type(counts) is not dict:
        raise fail("turnout", "counts", "expected a map")
    buckets = v.get("buckets")
    if buckets is not None and type(buckets) is not dict:
        raise fail("turnout", "buckets", "expected a map")
    return Turnout(
        station=v["station"],
        at=v["at"],
        registered=Registered(permanent=reg["permanent"], complementary=reg.get("complementary")),
        counts=counts,
        buckets=buckets,
    )


def _parse_report(v: dict[str, Any]) -> Report:
    for name in ("fields", "votes"):
        if type(v[name]) is not dict:
            raise fail("report", name, "expected a map")
    attachments = v.get("attachments")
    if attachments is not None:
        attachments = _tuple_of("report", "attachments", attachments)
    return Report(
        station=v["station"],
        category=v["category"],
        version=v["version"],
        stage=v["stage"],
        at=v["at"],
        fields=v["fields"],
        votes=v["votes"],
        attachments=attachments,
    )


def _parse_block(v: dict[str, Any]) -> Block:
    return Block(
        height=v["height"],
        prev=v["prev"],
        first=v["first"],
        count=v["count"],
        time=v["time"],
        checkpoint=v.get("checkpoint"),
    )


def _keys(*names: str) -> frozenset[str]:
    return frozenset(names)


_CATEGORY_KEYS = _keys("competitors", "rules")
_PERMANENT = _keys("permanent")
_COMPLEMENTARY = _keys("complementary")

#: kind -> (required keys, optional keys, parser); "kind" itself is required everywhere.
_Parser = Callable[[dict[str, Any]], Record]
_FROM_VALUE: dict[str, tuple[frozenset[str], frozenset[str], _Parser]] = {
    "election": (_keys("kind", "name", "date", "tz", "categories"), _keys(), _parse_election),
    "station": (
        _keys("kind", "id", "county", "number", "name", "pubkey"),
        _keys("siruta", "uat", "locality", "medium"),
        _parse_station,
    ),
    "revoke": (_keys("kind", "key", "reason"), _keys(), _parse_revoke),
    "turnout": (
        _keys("kind", "station", "at", "registered", "counts"),
        _keys("buckets"),
        _parse_turnout,
    ),
    "report": (
        _keys("kind", "station", "category", "version", "stage", "at", "fields", "votes"),
        _keys("attachments"),
        _parse_report,
    ),
    "block": (
        _keys("kind", "height", "prev", "first", "count", "time"),
        _keys("checkpoint"),
        _parse_block,
    ),
}

#: Every record kind, by its ``kind`` string.
KINDS: Mapping[str, type[Record]] = {
    "election": Election,
    "station": Station,
    "revoke": Revoke,
    "turnout": Turnout,
    "report": Report,
    "block": Block,
}


def record_from_value(value: Any) -> Record:
    """The record a decoded canonical value holds: exact kind, exact fields, exact types.

    Raises:
        MalformedError: not a map, no str ``kind``, an unknown kind, a missing or unknown
            field, a wrong type (bool is not int), or a value out of its range.
    """
    if type(value) is not dict:
        raise MalformedError(
            f"a record is a map, got {type(value).__name__}", code="record-not-map"
        )
    kind = value.get("kind")
    if type(kind) is not str:
        raise MalformedError("a record needs a str field kind", code="record-kind")
    spec = _FROM_VALUE.get(kind)
    if spec is None:
        raise MalformedError(f"unknown record kind {kind!r}", code="unknown-kind")
    required, optional, parse = spec
    return parse(_exact_keys(kind, "", value, required, optional))


# --- the fast path for the kinds a log is made of ------------------------------------------


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


def _fast_station(v: dict[str, Any]) -> Station | None:
    if v["kind"] != "station":
        return None
    return _parse_station(v)


def _fast_turnout(v: dict[str, Any]) -> Turnout | None:
    # Most entries of a log are turnouts: every check of Registered and Turnout construction
    # is made here inline, and the record built from the checked values as is.
    station, at, reg, counts = v["station"], v["at"], v["registered"], v["counts"]
    buckets = v.get("buckets")
    if (
        v["kind"] != "turnout"
        or type(station) is not str
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
    for layout in _layouts(*_FROM_VALUE[kind][:2])
}


# --- JSON form: bin values as {"$bin": "<lower-case hex>"} (the golden vectors' convention) --

_HEX = re.compile(r"(?:[0-9a-f]{2})*")


def record_to_json(record: Record) -> dict[str, Any]:
    """The record as plain JSON data, bytes written ``{"$bin": "<hex>"}``."""
    result: dict[str, Any] = _to_json(record_to_value(record))
    return result


def record_from_json(obj: Any) -> Record:
    """The record a JSON object describes (the inverse of :func:`record_to_json`).

    Raises:
        MalformedError: a malformed ``$bin`` object, a float or null, or an invalid record.
    """
    return record_from_value(_from_json(obj, 0))


def _to_json(value: Any) -> Any:
    t = type(value)
    if t is bytes:
        return {"$bin": value.hex()}
    if t is dict:
        return {k: _to_json(v) for k, v in value.items()}
    if t is list:
        return [_to_json(v) for v in value]
    return value


def _from_json(value: Any, depth: int) -> Any:
    t = type(value)
    if t is int or t is str or t is bool:
        return value
    if depth > 8:
        raise MalformedError("JSON record nested too deep", code="too-deep")
    if t is list:
        return [_from_json(v, depth + 1) for v in value]
    if t is dict:
        if "$bin" in value:
            text = value["$bin"]
            if len(value) != 1 or type(text) is not str or _HEX.fullmatch(text) is None:
                raise MalformedError(
                    'a bin value is {"$bin": "<lower-case hex>"}', code="bad-json-bin"
                )
            return bytes.fromhex(text)
        return {k: _from_json(v, depth + 1) for k, v in value.items()}
    raise MalformedError(f"a {t.__name__} is not allowed in a record", code="bad-json-type")
