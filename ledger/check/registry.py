"""The station key registry of docs/records.md, "Record kinds" ("Identity and keys"), pure and
serialisable.

It answers one question per entry: may this key sign this record? Publisher kinds need the
publisher key; a turnout or a report needs its station's current key or the publisher's (for
a registered station: already-published data), and only the publisher signs a turnout with a
``correction``. ``station`` records register or replace a station's key,
``revoke`` records retire one; a key never moves to another station and is never reused. Every
refusal is a :class:`~ledger.errors.SignatureError` with a stable ``code``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ledger.core.hashing import key_id
from ledger.errors import MalformedError, SignatureError, Where
from ledger.formats.records.kinds import Election, Record, Report, Revoke, Station, Turnout
from ledger.formats.signing import PUBLIC_KEY_SIZE, is_prime_order_key

#: Record kinds only the publisher signs.
PUBLISHER_KINDS = frozenset(
    {"election", "ballot", "station", "revoke", "block", "log", "checkpoint"}
)

CURRENT = "current"
REPLACED = "replaced"
REVOKED = "revoked"
_STATUSES = frozenset({CURRENT, REPLACED, REVOKED})


@dataclass(frozen=True, slots=True, kw_only=True)
class StationKey:
    """A key some ``station`` record registered: whose it is and whether it may still sign."""

    station: str
    public_key: bytes
    status: str

    @property
    def current(self) -> bool:
        """True while the key may sign for its station (neither replaced nor revoked)."""
        return self.status == CURRENT


def _refuse(
    message: str, code: str, record: Record, station: str | None, category: str = "keys"
) -> SignatureError:
    where = Where(kind=record.KIND, station=station)
    return SignatureError(message, category=category, code=code, where=where)


class KeyRegistry:
    """Who may sign what, updated entry by entry in log order (section 7 step 2)."""

    __slots__ = ("_current", "_keys", "_prime_key", "election_seen", "publisher_key",
                 "publisher_key_id")

    def __init__(self, publisher_key: bytes) -> None:
        if type(publisher_key) is not bytes or len(publisher_key) != PUBLIC_KEY_SIZE:
            raise ValueError(f"the publisher key is a {PUBLIC_KEY_SIZE}-byte Ed25519 public key")
        self.publisher_key = publisher_key
        self.publisher_key_id = key_id(publisher_key)
        self.election_seen = False
        self._keys: dict[bytes, StationKey] = {}  # key id -> key, in registration order
        self._current: dict[str, bytes | None] = {}  # station -> current key id (None: revoked)
        self._prime_key = b""  # the station key last found of prime order

    # --- queries ---------------------------------------------------------------------------

    def signer_for(self, key: bytes) -> StationKey | None:
        """The station key with key id ``key``, or None (also for the publisher's key)."""
        return self._keys.get(key)

    def station_key(self, station: str) -> bytes | None:
        """The public key that signs for ``station`` now, or None (unknown or revoked)."""
        current = self._current.get(station)
        return None if current is None else self._keys[current].public_key

    def is_registered(self, station: str) -> bool:
        """True once a ``station`` record registered ``station`` (a revoke does not undo it)."""
        return station in self._current

    @property
    def stations(self) -> int:
        """How many stations are registered."""
        return len(self._current)

    # --- the checks ------------------------------------------------------------------------

    def check(self, key: bytes, record: Record) -> bytes:
        """The public key that must have signed ``record`` if key id ``key`` signed it.

        Checks the signer against the record kind first, then what the record does to the
        registry (:meth:`check_record`); changes nothing (call :meth:`apply` once the whole
        entry is accepted).

        Raises:
            SignatureError: category ``signature`` for a publisher kind signed by another key;
                category ``keys`` with code ``key-unregistered``, ``key-revoked``,
                ``key-replaced``, ``wrong-station``, ``correction-by-station``,
                ``station-unregistered``, ``key-weak``, ``key-shared``, ``key-reused``,
                ``publisher-key-as-station``, ``revoke-unregistered``, ``key-already-revoked``,
                ``election-repeated`` or ``election-not-first``.
        """
        if type(record) is Turnout or type(record) is Report:
            # The usual entry: a station's record signed with its current key.
            owner = self._keys.get(key)
            if (
                owner is not None
                and owner.status == CURRENT
                and owner.station == record.station
                and self.election_seen
                and (type(record) is not Turnout or record.correction is None)
            ):
                return owner.public_key
        public_key = self._signer_key(key, record)
        self.check_record(record)
        return public_key

    def _signer_key(self, key: bytes, record: Record) -> bytes:
        by_publisher = key == self.publisher_key_id
        if type(record) is Turnout or type(record) is Report:
            if not by_publisher:
                if type(record) is Turnout and record.correction is not None:
                    raise _refuse(
                        "a turnout with a correction is signed by the publisher, never by a "
                        "station",
                        "correction-by-station",
                        record,
                        record.station,
                    )
                return self._station_signer(key, record, record.station)
            if record.station not in self._current:
                raise _refuse(
                    f"publisher-signed {record.KIND} names station {record.station!r}, "
                    "which no station record registered",
                    "station-unregistered",
                    record,
                    record.station,
                )
            return self.publisher_key
        if not by_publisher:
            owner = self._keys.get(key)
            who = "an unregistered key" if owner is None else f"station {owner.station}'s key"
            raise _refuse(
                f"a {record.KIND} record must be signed by the publisher, not {who}",
                "not-publisher",
                record,
                getattr(record, "id", None),
                category="signature",
            )
        return self.publisher_key

    def check_record(self, record: Record) -> None:
        """Check what a record does to the registry (election order, registrations, revokes).

        Raises:
            SignatureError: see :meth:`check`.
        """
        if type(record) is Election:
            if self.election_seen:
                raise _refuse(
                    "a second election record: entry 0 is the one and only election record",
                    "election-repeated",
                    record,
                    None,
                )
            return
        if not self.election_seen:
            raise _refuse(
                f"a {record.KIND} record before the election record (entry 0 must be it)",
                "election-not-first",
                record,
                getattr(record, "station", None),
            )
        if type(record) is Station:
            self._check_station(record)
        elif type(record) is Revoke:
            self._check_revoke(record)

    def apply(self, record: Record) -> None:
        """Record what an accepted entry does: the election seen, a key registered or revoked.

        Raises:
            SignatureError: the record is not acceptable (see :meth:`check_record`); nothing
                changes then.
        """
        self.check_record(record)
        if type(record) is Election:
            self.election_seen = True
        elif type(record) is Station:
            new = record.key_id
            old = self._current.get(record.id)
            if old is not None and old != new:
                self._keys[old] = StationKey(
                    station=record.id, public_key=self._keys[old].public_key, status=REPLACED
                )
            self._keys[new] = StationKey(
                station=record.id, public_key=record.pubkey, status=CURRENT
            )
            self._current[record.id] = new
        elif type(record) is Revoke:
            owner = self._keys[record.key]
            self._keys[record.key] = StationKey(
                station=owner.station, public_key=owner.public_key, status=REVOKED
            )
            if self._current[owner.station] == record.key:
                self._current[owner.station] = None

    def _station_signer(self, key: bytes, record: Turnout | Report, station: str) -> bytes:
        owner = self._keys.get(key)
        if owner is None:
            raise _refuse(
                "signed by a key that no station record registered",
                "key-unregistered",
                record,
                station,
            )
        if owner.status == REVOKED:
            raise _refuse(
                f"signed by station {owner.station}'s key, revoked earlier",
                "key-revoked",
                record,
                station,
            )
        if owner.status == REPLACED:
            raise _refuse(
                f"signed by station {owner.station}'s old key, replaced by a later station record",
                "key-replaced",
                record,
                station,
            )
        if owner.station != station:
            raise _refuse(
                f"names station {station} but is signed by station {owner.station}'s key",
                "wrong-station",
                record,
                station,
            )
        return owner.public_key

    def _check_station(self, record: Station) -> None:
        # A station record is checked here, then again when applied: the point check (as
        # costly as a signature check) is pure, so the key last found of prime order is kept.
        if record.pubkey != self._prime_key and not is_prime_order_key(record.pubkey):
            raise _refuse(
                f"station {record.id}'s key is not a point of prime order (a small-order, "
                "mixed-order or non-canonical key: anyone could sign for it)",
                "key-weak",
                record,
                record.id,
            )
        if record.pubkey == self.publisher_key:
            raise _refuse(
                "the publisher's key is never a station key",
                "publisher-key-as-station",
                record,
                record.id,
            )
        self._prime_key = record.pubkey
        owner = self._keys.get(record.key_id)
        if owner is None:
            return
        if owner.station != record.id:
            raise _refuse(
                f"key already registered for station {owner.station}: two stations never "
                "share a key",
                "key-shared",
                record,
                record.id,
            )
        if owner.status != CURRENT:
            raise _refuse(
                f"station {record.id}'s own {owner.status} key registered again",
                "key-reused",
                record,
                record.id,
            )

    def _check_revoke(self, record: Revoke) -> None:
        owner = self._keys.get(record.key)
        if owner is None:
            what = "the publisher's key" if record.key == self.publisher_key_id else "a key"
            raise _refuse(
                f"revoke names {what} that no station record registered",
                "revoke-unregistered",
                record,
                None,
            )
        if owner.status == REVOKED:
            raise _refuse(
                f"station {owner.station}'s key is already revoked",
                "key-already-revoked",
                record,
                owner.station,
            )

    # --- the auditor's state file ----------------------------------------------------------

    def to_value(self) -> dict[str, Any]:
        """The registry as a canonical value (keys in registration order)."""
        keys = [
            {"pubkey": k.public_key, "station": k.station, "status": k.status}
            for k in self._keys.values()
        ]
        return {"election": self.election_seen, "keys": keys, "publisher": self.publisher_key}

    @classmethod
    def from_value(cls, value: Any, publisher_key: bytes) -> KeyRegistry:
        """The registry a :meth:`to_value` value holds, for this publisher.

        Raises:
            MalformedError: the value is not a registry of this publisher, or breaks a
                registry invariant (a key twice, two current keys for one station).
        """
        registry = cls(publisher_key)
        if type(value) is not dict or value.keys() != {"election", "keys", "publisher"}:
            raise _bad_state("expected a map of election, keys, publisher")
        if value["publisher"] != publisher_key:
            raise _bad_state("it was written for another publisher key")
        if type(value["election"]) is not bool or type(value["keys"]) is not list:
            raise _bad_state("election must be a bool and keys an array")
        registry.election_seen = value["election"]
        for item in value["keys"]:
            registry._restore_key(item)
        return registry

    def _restore_key(self, item: Any) -> None:
        if type(item) is not dict or item.keys() != {"pubkey", "station", "status"}:
            raise _bad_state("a key is a map of pubkey, station, status")
        public_key, station, status = item["pubkey"], item["station"], item["status"]
        if type(public_key) is not bytes or len(public_key) != PUBLIC_KEY_SIZE:
            raise _bad_state(f"a pubkey is {PUBLIC_KEY_SIZE} bytes")
        if type(station) is not str or type(status) is not str or status not in _STATUSES:
            raise _bad_state("a key's station must be a str and its status a known one")
        kid = key_id(public_key)
        if kid in self._keys or public_key == self.publisher_key:
            raise _bad_state(f"key {kid.hex()} twice, or the publisher's key")
        if status == CURRENT and self._current.get(station) is not None:
            raise _bad_state(f"station {station} has two current keys")
        self._keys[kid] = StationKey(station=station, public_key=public_key, status=status)
        if status == CURRENT:
            self._current[station] = kid
        else:
            self._current.setdefault(station, None)


def _bad_state(message: str) -> MalformedError:
    return MalformedError(f"key registry state: {message}", code="bad-state")
