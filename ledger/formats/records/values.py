"""Records as canonical MessagePack values and as JSON: the strict way in, the one way out.

:func:`record_to_value` builds maps in canonical key order so encoding needs no sorting;
:func:`record_from_value` accepts exactly the fields of docs/records.md, "Record kinds". Import
these from :mod:`ledger.formats.records`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from ledger.errors import MalformedError
from ledger.formats.records.kinds import (
    Ballot,
    Block,
    Category,
    Election,
    Log,
    LogCheckpoint,
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
    # str order is code-point order, which is the order of the UTF-8 bytes (docs/records.md,
    # "Record kinds").
    return dict(sorted(mapping.items()))


def record_to_value(record: Record) -> dict[str, Any]:
    """The record as a MessagePack-ready map, built in canonical key order."""
    return _TO_VALUE[type(record)](record)


def _category_value(c: Category) -> dict[str, Any]:
    if c.competitors is not None:
        return {"competitors": list(c.competitors), "rules": c.rules}
    return {"rules": c.rules, "scope": c.scope}


def _election_value(r: Election) -> dict[str, Any]:
    categories = {code: _category_value(c) for code, c in sorted(r.categories.items())}
    return {
        "categories": categories,
        "date": r.date,
        "kind": "election",
        "name": r.name,
        "tz": r.tz,
    }


def _ballot_value(r: Ballot) -> dict[str, Any]:
    return {
        "category": r.category,
        "competitors": list(r.competitors),
        "constituency": r.constituency,
        "kind": "ballot",
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
    if r.correction is not None:
        v["correction"] = r.correction
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


def _log_value(r: Log) -> dict[str, Any]:
    return {"id": r.id, "kind": "log", "origin": r.origin, "vkey": r.vkey}


def _checkpoint_value(r: LogCheckpoint) -> dict[str, Any]:
    return {"kind": "checkpoint", "log": r.log, "note": r.note}


_TO_VALUE: dict[type, Callable[[Any], dict[str, Any]]] = {
    Election: _election_value,
    Ballot: _ballot_value,
    Station: _station_value,
    Revoke: _revoke_value,
    Turnout: _turnout_value,
    Report: _report_value,
    Block: _block_value,
    Log: _log_value,
    LogCheckpoint: _checkpoint_value,
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
    v = _exact_keys("election", f"categories.{code}", value, _CATEGORY_KEYS, _CATEGORY_CHOICE)
    competitors = v.get("competitors")
    if competitors is not None:
        competitors = _tuple_of("election", f"categories.{code}.competitors", competitors)
    return Category(rules=v["rules"], competitors=competitors, scope=v.get("scope"))


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


def _parse_ballot(v: dict[str, Any]) -> Ballot:
    return Ballot(
        category=v["category"],
        constituency=v["constituency"],
        competitors=_tuple_of("ballot", "competitors", v["competitors"]),
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
        correction=v.get("correction"),
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


def _parse_log(v: dict[str, Any]) -> Log:
    return Log(id=v["id"], origin=v["origin"], vkey=v["vkey"])


def _parse_checkpoint(v: dict[str, Any]) -> LogCheckpoint:
    return LogCheckpoint(log=v["log"], note=v["note"])


def _keys(*names: str) -> frozenset[str]:
    return frozenset(names)


_CATEGORY_KEYS = _keys("rules")
_CATEGORY_CHOICE = _keys("competitors", "scope")
_PERMANENT = _keys("permanent")
_COMPLEMENTARY = _keys("complementary")

#: kind -> (required keys, optional keys, parser); "kind" itself is required everywhere.
_Parser = Callable[[dict[str, Any]], Record]
_FROM_VALUE: dict[str, tuple[frozenset[str], frozenset[str], _Parser]] = {
    "election": (_keys("kind", "name", "date", "tz", "categories"), _keys(), _parse_election),
    "ballot": (_keys("kind", "category", "constituency", "competitors"), _keys(), _parse_ballot),
    "station": (
        _keys("kind", "id", "county", "number", "name", "pubkey"),
        _keys("siruta", "uat", "locality", "medium"),
        _parse_station,
    ),
    "revoke": (_keys("kind", "key", "reason"), _keys(), _parse_revoke),
    "turnout": (
        _keys("kind", "station", "at", "registered", "counts"),
        _keys("buckets", "correction"),
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
    "log": (_keys("kind", "id", "origin", "vkey"), _keys(), _parse_log),
    "checkpoint": (_keys("kind", "log", "note"), _keys(), _parse_checkpoint),
}

#: Per kind: (required keys, optional keys) of its map, ``kind`` included.
FIELDS: Mapping[str, tuple[frozenset[str], frozenset[str]]] = {
    kind: (required, optional) for kind, (required, optional, _) in _FROM_VALUE.items()
}

#: Every record kind, by its ``kind`` string.
KINDS: Mapping[str, type[Record]] = {
    "election": Election,
    "ballot": Ballot,
    "station": Station,
    "revoke": Revoke,
    "turnout": Turnout,
    "report": Report,
    "block": Block,
    "log": Log,
    "checkpoint": LogCheckpoint,
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
