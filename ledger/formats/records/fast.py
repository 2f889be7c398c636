"""The auditor's fast path from canonical bytes to a record, for the kinds a log is made of.

Turnout records (most of a log's entries) are decoded and typed in C by msgspec against the
exact key layout of docs/records.md, "Record kinds", and encoded again: the bytes must come back
the same, so only the one canonical form passes. Station and report records (and a turnout
msgspec does not take) are decoded by one msgpack unpack and one re-encode compared with the
bytes, then checked field by field. Anything else, or anything these paths do not accept, goes
the strict way (:func:`ledger.formats.codec.decode_value`, then
:func:`ledger.formats.records.values.record_from_value`), which also says what is wrong: the
paths give the same record or the same refusal.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from itertools import combinations
from typing import Annotated, Any, Literal

import msgspec

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
    turnout = _typed_turnout(body)
    if turnout is not None:
        return turnout
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


_UInt = Annotated[int, msgspec.Meta(ge=0)]  # msgpack holds no integer above uint64


class _Registered(msgspec.Struct, kw_only=True, omit_defaults=True, forbid_unknown_fields=True):
    """The ``registered`` map: fields in canonical key order, an absent key left out."""

    complementary: _UInt | None = None
    permanent: _UInt


class _Turnout(msgspec.Struct, kw_only=True, omit_defaults=True, forbid_unknown_fields=True):
    """A turnout record's map as msgspec types it: fields in canonical key order."""

    at: _UInt
    buckets: dict[str, _UInt] | None = None
    correction: str | None = None
    counts: dict[str, _UInt]
    kind: Literal["turnout"]
    registered: _Registered
    station: str


_decode_turnout = msgspec.msgpack.Decoder(_Turnout).decode
_encode_typed = msgspec.msgpack.Encoder().encode


@lru_cache(maxsize=1 << 16)
def _is_station_id(station: str) -> bool:
    """Station ids repeat in every turnout of a station: checked once each."""
    return station_id_problem(station) is None


@lru_cache(maxsize=1 << 10)
def _layout_in_order(keys: tuple[str, ...]) -> bool:
    """A map's keys in canonical order: a station's bucket layout repeats in every turnout."""
    return list(keys) == sorted(keys)


def _typed_turnout(body: bytes) -> Turnout | None:
    """The turnout in ``body`` if msgspec decodes it to exactly these bytes and the field checks
    the types do not say (counter layout, bucket order, station id, a non-empty correction)
    pass; None otherwise (another kind, or a decision left to the other paths)."""
    try:
        value = _decode_turnout(body)
    except msgspec.DecodeError:  # also its ValidationError: another kind, a wrong type
        return None
    # Equal bytes: every header and integer in its shortest form, the struct's keys present
    # exactly once and in order, no nil (an absent optional key is left out, never written).
    if _encode_typed(value) != body:
        return None
    counts, buckets, correction = value.counts, value.buckets, value.correction
    if (
        tuple(counts) not in _COUNTS_LAYOUTS
        or (buckets is not None and not _layout_in_order(tuple(buckets)))
        or correction == ""
        or not _is_station_id(value.station)
    ):
        return None
    registered = _new(Registered)
    _set(registered, "permanent", value.registered.permanent)
    _set(registered, "complementary", value.registered.complementary)
    record = _new(Turnout)
    _set(record, "station", value.station)
    _set(record, "at", value.at)
    _set(record, "registered", registered)
    _set(record, "counts", counts)
    _set(record, "buckets", buckets)
    _set(record, "correction", correction)
    return record


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
