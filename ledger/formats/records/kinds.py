"""The nine record kinds of docs/records.md, "Record kinds" as frozen dataclasses, valid by
construction.

Each checks its fields' exact types (bool is not int) and ranges when built, raising
:class:`~ledger.errors.MalformedError` that names the field. Import them from
:mod:`ledger.formats.records`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import ClassVar, TypeAlias

from ledger.core.hashing import HASH_SIZE, KEY_ID_SIZE, key_id
from ledger.errors import MalformedError, Where
from ledger.formats.codec import UINT_MAX
from ledger.formats.records.ids import station_id_problem
from ledger.formats.signing import PUBLIC_KEY_SIZE

#: The rule sets a category may name (docs/records.md, "Election rules").
RULE_SETS = frozenset({"presidential", "local", "parliamentary", "european", "mail", "referendum"})
#: Report stages, in the order they may advance.
STAGES = ("PROV", "PART", "FINAL")
#: Turnout counters: always present, and present only where the list exists.
COUNTS_REQUIRED = frozenset({"LP", "LS", "UM", "LT"})
COUNTS_OPTIONAL = frozenset({"LSC", "LC"})
_COUNTS_ALL = COUNTS_REQUIRED | COUNTS_OPTIONAL

#: The scopes of a category with one ballot per constituency (docs/records.md, "Record kinds").
SCOPES = frozenset({"county", "uat"})

ATTACHMENT_SIZE = HASH_SIZE

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


# --- field checks: each raises MalformedError naming the field ------------------------------


def fail(kind: str, field: str, message: str, code: str = "bad-field") -> MalformedError:
    """The error for a bad ``field`` of a ``kind`` record (shared with record_values)."""
    prefix = f"{kind}.{field}" if field else f"{kind} record"
    return MalformedError(f"{prefix}: {message}", code=code, where=Where(kind=kind))


def _need_str(kind: str, field: str, value: object) -> None:
    if type(value) is not str:
        raise fail(kind, field, f"expected str, got {type(value).__name__}")


def _need_station_id(kind: str, value: object) -> None:
    """A turnout's or report's ``station``: an id a station record can have (else no entry
    naming it could ever be accepted)."""
    if type(value) is not str:
        raise fail(kind, "station", f"expected str, got {type(value).__name__}")
    problem = station_id_problem(value)
    if problem is not None:
        raise MalformedError(f"{kind}.station {value[:80]!r}: {problem}", code="bad-station-id",
                             where=Where(kind=kind, station=value[:80]))


def _need_uint(kind: str, field: str, value: object) -> None:
    if type(value) is not int:
        raise fail(kind, field, f"expected int, got {type(value).__name__}")
    if value < 0:
        raise fail(kind, field, f"must be non-negative, got {value}", "negative")
    if value > UINT_MAX:
        raise fail(kind, field, f"over the 64-bit limit, got {value}", "too-large")


def _need_bin(kind: str, field: str, value: object, size: int) -> None:
    if type(value) is not bytes:
        raise fail(kind, field, f"expected bin, got {type(value).__name__}")
    if len(value) != size:
        raise fail(kind, field, f"expected {size} bytes, got {len(value)}", "bad-length")


def _need_opt_str(kind: str, field: str, value: object) -> None:
    if value is not None:
        _need_str(kind, field, value)


def _need_uint_map(kind: str, field: str, value: object) -> None:
    if type(value) is not dict and not isinstance(value, Mapping):
        raise fail(kind, field, f"expected map, got {type(value).__name__}")
    for name, count in value.items():
        if type(name) is not str or type(count) is not int or not 0 <= count <= UINT_MAX:
            _need_str(kind, field, name)
            _need_uint(kind, f"{field}.{name}", count)


def _need_competitors(kind: str, field: str, value: object) -> None:
    """A non-empty tuple of distinct str: a ballot, in ballot order."""
    if type(value) is not tuple:
        raise fail(kind, field, "expected a tuple of str")
    if not value:
        raise fail(kind, field, "a ballot has at least one competitor", "empty-ballot")
    for name in value:
        _need_str(kind, field, name)
    if len(set(value)) != len(value):
        repeated = sorted({n for n in value if value.count(n) > 1})
        raise fail(kind, field, f"competitor named twice: {repeated}", "repeated-competitor")


# --- the record kinds ----------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Category:
    """One category of an election: its rule set, and either its one ballot (``competitors``,
    in ballot order) or its ``scope`` (one ``ballot`` record per constituency)."""

    rules: str
    competitors: tuple[str, ...] | None = None
    scope: str | None = None

    def __post_init__(self) -> None:
        _need_str("election", "categories.rules", self.rules)
        if self.rules not in RULE_SETS:
            raise fail("election", "categories.rules", f"unknown rule set {self.rules!r}")
        if (self.competitors is None) == (self.scope is None):
            raise fail("election", "categories",
                       "a category has exactly one of competitors and scope", "bad-category")
        if self.competitors is not None:
            _need_competitors("election", "categories.competitors", self.competitors)
        if self.scope is not None:
            _need_str("election", "categories.scope", self.scope)
            if self.scope not in SCOPES:
                raise fail("election", "categories.scope",
                           f"expected county or uat, got {self.scope!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Election:
    """Entry 0: the election's name, date, time zone and categories."""

    KIND: ClassVar[str] = "election"
    name: str
    date: str
    tz: str
    categories: Mapping[str, Category]

    def __post_init__(self) -> None:
        _need_str("election", "name", self.name)
        _need_str("election", "date", self.date)
        _need_date(self.date)
        _need_str("election", "tz", self.tz)
        if not self.tz:
            raise fail("election", "tz", "empty time zone")
        if not isinstance(self.categories, Mapping):
            raise fail("election", "categories", "expected a map")
        for code, category in self.categories.items():
            _need_str("election", "categories", code)
            if type(category) is not Category:
                raise fail("election", f"categories.{code}", "expected a Category")


def _need_date(text: str) -> None:
    if _DATE.fullmatch(text) is None:
        raise fail("election", "date", f"expected YYYY-MM-DD, got {text!r}")
    try:
        date.fromisoformat(text)
    except ValueError as e:
        raise fail("election", "date", f"not a calendar date: {text!r}") from e


@dataclass(frozen=True, slots=True, kw_only=True)
class Ballot:
    """The competitors of a scoped category in one constituency, in ballot order."""

    KIND: ClassVar[str] = "ballot"
    category: str
    constituency: str
    competitors: tuple[str, ...]

    def __post_init__(self) -> None:
        _need_str("ballot", "category", self.category)
        _need_str("ballot", "constituency", self.constituency)
        _need_competitors("ballot", "competitors", self.competitors)


@dataclass(frozen=True, slots=True, kw_only=True)
class Station:
    """Registers a polling station and its Ed25519 public key (a later one replaces the key)."""

    KIND: ClassVar[str] = "station"
    id: str
    county: str
    number: int
    name: str
    pubkey: bytes
    siruta: int | None = None
    uat: str | None = None
    locality: str | None = None
    medium: str | None = None

    def __post_init__(self) -> None:
        _need_str("station", "id", self.id)
        problem = station_id_problem(self.id)
        if problem is not None:
            raise MalformedError(
                f"station.id {self.id[:80]!r}: {problem}",
                code="bad-station-id",
                where=Where(kind="station", station=self.id[:80]),
            )
        _need_str("station", "county", self.county)
        _need_uint("station", "number", self.number)
        _need_str("station", "name", self.name)
        _need_bin("station", "pubkey", self.pubkey, PUBLIC_KEY_SIZE)
        if self.siruta is not None:
            _need_uint("station", "siruta", self.siruta)
        _need_opt_str("station", "uat", self.uat)
        _need_opt_str("station", "locality", self.locality)
        _need_opt_str("station", "medium", self.medium)

    @property
    def key_id(self) -> bytes:
        """The key id entries signed by this station carry."""
        return key_id(self.pubkey)


@dataclass(frozen=True, slots=True, kw_only=True)
class Revoke:
    """Revokes a station key, by key id: later entries signed by it are rejected."""

    KIND: ClassVar[str] = "revoke"
    key: bytes
    reason: str

    def __post_init__(self) -> None:
        _need_bin("revoke", "key", self.key, KEY_ID_SIZE)
        _need_str("revoke", "reason", self.reason)


@dataclass(frozen=True, slots=True, kw_only=True)
class Registered:
    """Voters on the permanent (and, where there is one, the complementary) list."""

    permanent: int
    complementary: int | None = None

    def __post_init__(self) -> None:
        _need_uint("turnout", "registered.permanent", self.permanent)
        if self.complementary is not None:
            _need_uint("turnout", "registered.complementary", self.complementary)


@dataclass(frozen=True, slots=True, kw_only=True)
class Turnout:
    """A station's cumulative turnout counters at time ``at`` (ms since the epoch, UTC)."""

    KIND: ClassVar[str] = "turnout"
    station: str
    at: int
    registered: Registered
    counts: Mapping[str, int]
    buckets: Mapping[str, int] | None = None
    #: Why counters go down or are left out: publisher-signed only (docs/records.md).
    correction: str | None = None

    def __post_init__(self) -> None:
        _need_station_id("turnout", self.station)
        _need_uint("turnout", "at", self.at)
        if type(self.registered) is not Registered:
            raise fail("turnout", "registered", "expected Registered")
        _need_uint_map("turnout", "counts", self.counts)
        names = self.counts.keys()
        if not (names >= COUNTS_REQUIRED and names <= _COUNTS_ALL):
            missing = COUNTS_REQUIRED - names
            extra = names - _COUNTS_ALL
            raise fail(
                "turnout",
                "counts",
                f"missing {sorted(missing)}, unknown {sorted(extra)}",
                "bad-counts",
            )
        if self.buckets is not None:
            _need_uint_map("turnout", "buckets", self.buckets)
        if self.correction is not None:
            _need_str("turnout", "correction", self.correction)
            if not self.correction:
                raise fail("turnout", "correction", "a correction says why: empty", "empty")


@dataclass(frozen=True, slots=True, kw_only=True)
class Report:
    """A results report (PV) of one station and category; a later version supersedes it."""

    KIND: ClassVar[str] = "report"
    station: str
    category: str
    version: int
    stage: str
    at: int
    fields: Mapping[str, int]
    votes: Mapping[str, int]
    attachments: tuple[bytes, ...] | None = None

    def __post_init__(self) -> None:
        _need_station_id("report", self.station)
        _need_str("report", "category", self.category)
        _need_uint("report", "version", self.version)
        _need_str("report", "stage", self.stage)
        if self.stage not in STAGES:
            raise fail("report", "stage", f"expected PROV, PART or FINAL, got {self.stage!r}")
        _need_uint("report", "at", self.at)
        _need_uint_map("report", "fields", self.fields)
        _need_uint_map("report", "votes", self.votes)
        if self.attachments is not None:
            if type(self.attachments) is not tuple:
                raise fail("report", "attachments", "expected a tuple of 32-byte hashes")
            if not self.attachments:
                raise fail("report", "attachments", "when present, it is non-empty", "empty")
            for digest in self.attachments:
                _need_bin("report", "attachments", digest, ATTACHMENT_SIZE)


@dataclass(frozen=True, slots=True, kw_only=True)
class Block:
    """Seals the entries since the previous block and carries that block's checkpoint."""

    KIND: ClassVar[str] = "block"
    height: int
    prev: bytes
    first: int
    count: int
    time: int
    checkpoint: str | None = None

    def __post_init__(self) -> None:
        _need_uint("block", "height", self.height)
        _need_bin("block", "prev", self.prev, HASH_SIZE)
        _need_uint("block", "first", self.first)
        _need_uint("block", "count", self.count)
        _need_uint("block", "time", self.time)
        _need_opt_str("block", "checkpoint", self.checkpoint)


@dataclass(frozen=True, slots=True, kw_only=True)
class Log:
    """A national log's registration of one county log: its county code, origin and verifier
    key (docs/spec.md, "One log per county"); what the three must be is a rule of the log."""

    KIND: ClassVar[str] = "log"
    id: str
    origin: str
    vkey: str

    def __post_init__(self) -> None:
        _need_str("log", "id", self.id)
        _need_str("log", "origin", self.origin)
        _need_str("log", "vkey", self.vkey)


@dataclass(frozen=True, slots=True, kw_only=True)
class LogCheckpoint:
    """A county log's signed checkpoint as it was published (cosignatures included), recorded
    in the national log under the county log's ``log`` id."""

    KIND: ClassVar[str] = "checkpoint"
    log: str
    note: str

    def __post_init__(self) -> None:
        _need_str("checkpoint", "log", self.log)
        _need_str("checkpoint", "note", self.note)


Record: TypeAlias = (
    Election | Ballot | Station | Revoke | Turnout | Report | Block | Log | LogCheckpoint
)
