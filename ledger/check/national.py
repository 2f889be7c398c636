"""The national log's rules 1-3 (docs/spec.md, "One log per county under a national log"), pure
and serialisable, run by the one entry checker for publisher and auditor alike.

A log is national when entry 1 is a ``log`` record: it then holds only ``election``, ``log``,
``checkpoint`` and ``block`` records; an ordinary log (a county log among them) holds no ``log``
or ``checkpoint``. A ``log`` record registers one county log (its code, origin and verifier key),
once; a ``checkpoint`` record holds a registered county log's signed checkpoint, which must
verify with that log's key and never go back. Refusals are category ``log``, but two
checkpoints of one size with two roots, which is ``equivocation``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ledger.core.hashing import HASH_SIZE
from ledger.errors import InputError, MalformedError, VerificationError, Where
from ledger.formats.checkpoints import Checkpoint, open_ledger_checkpoint
from ledger.formats.keys import SIG_ED25519, VerifierKey, format_verifier_key, parse_verifier_key
from ledger.formats.records.ids import COUNTY_CODES
from ledger.formats.records.kinds import Log, LogCheckpoint, Record

#: The kinds a national log holds (rule 1).
NATIONAL_KINDS = frozenset({"election", "log", "checkpoint", "block"})
#: The kinds only a national log holds.
LOG_KINDS = frozenset({"log", "checkpoint"})

#: Every code a finding of these rules carries -> its rule, in the specification's words.
LOG_RULES: dict[str, str] = {
    "log-in-ordinary-log": "an ordinary log holds no log or checkpoint record (rule 1)",
    "national-log-kind": "a national log holds only election, log, checkpoint and block "
                         "records (rule 1)",
    "log-id": "a log record's id is one of the 43 county codes (rule 2)",
    "log-origin": "a log record's origin is the national origin, '/', its id (rule 2)",
    "log-key": "a log record's vkey is an Ed25519 verifier key named after its origin, "
               "valid under the key rule (rule 2)",
    "log-twice": "one log record per id and per origin, never replaced (rule 2)",
    "checkpoint-unregistered-log": "a checkpoint record names an earlier log id (rule 3)",
    "checkpoint-signature": "its note verifies with that log's key (rule 3)",
    "checkpoint-origin": "its note is a checkpoint of that log's origin (rule 3)",
    "checkpoint-size-down": "its size is not below the last one recorded for that log (rule 3)",
    "checkpoint-equivocation": "at an equal size the root is equal (rule 3)",
}


def log_error(message: str, code: str, *, log: str | None = None,
              category: str = "log") -> VerificationError:
    """A finding of these rules (category ``log`` unless said), naming the county log."""
    return VerificationError(message, category=category, code=code, where=Where(log=log))


@dataclass(slots=True, kw_only=True)
class CountyLog:
    """A registered county log and the last checkpoint the national log recorded for it."""

    id: str
    key: VerifierKey
    #: Leaf index of the ``log`` record that registered it.
    index: int
    #: The last recorded checkpoint's size and root (None before the first).
    size: int | None = None
    root: bytes | None = None
    #: Leaf index of the ``checkpoint`` record that holds it.
    at: int | None = None

    @property
    def origin(self) -> str:
        """The county log's origin (its key's name)."""
        return self.key.name

    def to_value(self) -> dict[str, Any]:
        """The county log as a canonical map (for the auditor's state file)."""
        value: dict[str, Any] = {"id": self.id, "index": self.index,
                                 "vkey": format_verifier_key(self.key)}
        if self.size is not None and self.root is not None and self.at is not None:
            value |= {"at": self.at, "root": self.root, "size": self.size}
        return dict(sorted(value.items()))


def open_county_checkpoint(note: str, county: CountyLog) -> Checkpoint:
    """The checkpoint a ``checkpoint`` record's ``note`` holds, if it is one of ``county``'s,
    signed by its key (other signature lines ignored).

    Raises:
        VerificationError: category ``log``: it does not verify with the county log's key, is
            not a checkpoint of its origin, or is not a checkpoint at all.
    """
    try:
        return open_ledger_checkpoint(note.encode("utf-8"), county.key).checkpoint
    except VerificationError as e:
        if e.category == "origin":
            raise log_error(f"the note is not a checkpoint of {county.origin}: {e.message}",
                            "checkpoint-origin", log=county.id) from e
        raise log_error(f"the note does not verify with log {county.id}'s registered key "
                        f"{county.key.name}+{county.key.key_hash.hex()}: {e.message}",
                        "checkpoint-signature", log=county.id) from e


class LogRules:
    """Rules 1-3 over the records of one log in log order; state advances only through
    :meth:`apply`, for an entry accepted whole."""

    __slots__ = ("logs", "national", "origin")

    def __init__(self, origin: str) -> None:
        self.origin = origin
        #: True once entry 1 is a ``log`` record, False once it is anything else.
        self.national: bool | None = None
        #: Registered county logs by id, in registration order.
        self.logs: dict[str, CountyLog] = {}

    def decide(self, index: int, record: Record) -> None:
        """Entry 1 says whether the log is national (rule 1)."""
        if index == 1 and self.national is None:
            self.national = type(record) is Log
        elif index > 1 and self.national is None:
            self.national = False

    def check(self, index: int, record: Record) -> CountyLog | None:
        """What accepting ``record`` at ``index`` changes (a county log registered or its
        recorded checkpoint moved on), checking rules 1-3; changes nothing itself.

        Raises:
            VerificationError: category ``log`` (or ``equivocation``) for a broken rule.
        """
        kind = record.KIND
        if not self.national and kind not in LOG_KINDS:
            return None  # the usual entry of an ordinary log
        if self.national:
            if kind not in NATIONAL_KINDS:
                raise log_error(f"a {kind} record in a national log (entry 1 is a log record): "
                                "it holds only election, log, checkpoint and block records",
                                "national-log-kind")
        elif kind in LOG_KINDS:
            raise log_error(f"a {kind} record in an ordinary log (entry 1 is not a log record)",
                            "log-in-ordinary-log")
        if type(record) is Log:
            return self._check_log(index, record)
        if type(record) is LogCheckpoint:
            return self._check_checkpoint(index, record)
        return None

    def apply(self, change: CountyLog | None) -> None:
        """Record what :meth:`check` said an accepted entry changes."""
        if change is not None:
            self.logs[change.id] = change

    def _check_log(self, index: int, record: Log) -> CountyLog:
        if record.id not in COUNTY_CODES:
            raise log_error(f"log id {record.id[:20]!r} is not one of the 43 county codes",
                            "log-id", log=record.id[:20])
        expected = f"{self.origin}/{record.id}"
        if record.origin != expected:
            raise log_error(f"log {record.id}'s origin {record.origin[:120]!r} is not "
                            f"{expected!r}", "log-origin", log=record.id)
        try:
            key = parse_verifier_key(record.vkey)
        except InputError as e:
            raise log_error(f"log {record.id}'s vkey: {e.message}", "log-key",
                            log=record.id) from e
        if key.type != SIG_ED25519 or key.name != record.origin:
            raise log_error(f"log {record.id}'s vkey is not an Ed25519 (0x01) key named "
                            f"{record.origin!r}", "log-key", log=record.id)
        earlier = self.logs.get(record.id)
        if earlier is not None or any(c.origin == record.origin for c in self.logs.values()):
            where = f" by entry {earlier.index}" if earlier is not None else ""
            raise log_error(f"log {record.id} is registered already{where}: one log record per "
                            "county log, never replaced", "log-twice", log=record.id)
        return CountyLog(id=record.id, key=key, index=index)

    def _check_checkpoint(self, index: int, record: LogCheckpoint) -> CountyLog:
        county = self.logs.get(record.log)
        if county is None:
            raise log_error(f"a checkpoint record for log {record.log[:20]!r}, which no earlier "
                            "log record registers", "checkpoint-unregistered-log",
                            log=record.log[:20])
        cp = open_county_checkpoint(record.note, county)
        if county.size is not None and county.root is not None:
            if cp.size < county.size:
                raise log_error(f"log {county.id}'s checkpoint of size {cp.size} is below the "
                                f"size {county.size} recorded by entry {county.at}: a county "
                                "log only grows", "checkpoint-size-down", log=county.id)
            if cp.size == county.size and cp.root != county.root:
                raise log_error(f"log {county.id} signed two checkpoints of size {cp.size} with "
                                f"two roots ({county.root.hex()} in entry {county.at}, "
                                f"{cp.root.hex()} here): they cannot both be honest",
                                "checkpoint-equivocation", log=county.id,
                                category="equivocation")
        return CountyLog(id=county.id, key=county.key, index=county.index, size=cp.size,
                         root=cp.root, at=index)

    # --- the auditor's state file ----------------------------------------------------------

    def to_value(self) -> dict[str, Any]:
        """The state as a canonical map."""
        value: dict[str, Any] = {"logs": [c.to_value() for c in self.logs.values()]}
        if self.national is not None:
            value["national"] = self.national
        return value

    @classmethod
    def from_value(cls, value: Any, origin: str) -> LogRules:
        """The state a :meth:`to_value` value holds, for the log ``origin``.

        Raises:
            MalformedError: the value is not exactly what :meth:`to_value` writes.
        """
        rules = cls(origin)
        if type(value) is not dict or not {"logs"} <= value.keys() <= {"logs", "national"}:
            raise _bad_state("expected a map of logs and national")
        national = value.get("national")
        if national is not None and type(national) is not bool:
            raise _bad_state("national is a bool")
        rules.national = national
        if type(value["logs"]) is not list:
            raise _bad_state("logs is an array")
        for item in value["logs"]:
            county = _county_from_value(item)
            if county.id in rules.logs or county.origin != f"{origin}/{county.id}":
                raise _bad_state(f"log {county.id!r} twice, or not of this national log")
            rules.logs[county.id] = county
        return rules


def _county_from_value(item: Any) -> CountyLog:
    required = {"id", "index", "vkey"}
    recorded = {"at", "root", "size"}
    if type(item) is not dict or item.keys() not in (required, required | recorded):
        raise _bad_state("a log is a map of id, index, vkey and, once recorded, at, root, size")
    try:
        key = parse_verifier_key(item["vkey"]) if type(item["vkey"]) is str else None
    except InputError:
        key = None
    ints = [item[k] for k in ("index", "at", "size") if k in item]
    root = item.get("root", b"\0" * HASH_SIZE)
    if (key is None or type(item["id"]) is not str
            or not all(type(n) is int and n >= 0 for n in ints)
            or type(root) is not bytes or len(root) != HASH_SIZE):
        raise _bad_state("a log's id is a str, vkey a verifier key, index, at and size "
                         "non-negative ints, root 32 bytes")
    return CountyLog(id=item["id"], key=key, index=item["index"], size=item.get("size"),
                     root=item.get("root"), at=item.get("at"))


def _bad_state(message: str) -> MalformedError:
    return MalformedError(f"national log state: {message}", code="bad-state")
