"""The one entry checker that the publisher and the auditor both run (docs/spec.md, "Verification",
steps 1-4).

:class:`EntryChecker` is a pure state machine over entries in log order: canonical decoding and
limits, duplicates, the signer (the key registry), the election rules, block chaining and each
embedded checkpoint. The publisher runs it before writing an entry and refuses one with errors;
the auditor runs it over the whole log and keeps going. So the two can never disagree.

Duplicates (step 1) are caught without a set of every leaf hash, which would grow to hundreds of
megabytes at 16.8M entries. Each kind's own state already refuses most byte-identical copies:
there is one election record, block heights increase, a report's (version, stage) strictly
increases per station and category, one (category, constituency) has one ballot, a replaced or
revoked key never comes back and a key is revoked once. Two
kinds can repeat: a turnout whose counters all equal the station's latest (counters only must not
go down), and a station record re-registering the station's current key. For those, each station
keeps the leaf hashes of its entries since the counters (or the key) last changed, its
"plateau", usually one hash. Memory is O(stations); the proof is in docs/spec.md,
section "Verification".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ledger.check.chain import BlockState, check_block
from ledger.check.findings import Finding
from ledger.check.national import CountyLog, LogRules
from ledger.check.registry import KeyRegistry
from ledger.check.rules import RuleChecker
from ledger.check.state import (
    Plateau,
    bad_state,
    key_digest,
    plateaus_from_value,
    plateaus_value,
    tree_from_value,
    tree_value,
    turnout_digest,
)
from ledger.core.hashing import entry_signed_message, leaf_hash
from ledger.core.merkle import CompactRange
from ledger.errors import MalformedError, SignatureError, VerificationError
from ledger.formats.entries import claimed_key_id, envelope_parts
from ledger.formats.keys import VerifierKey
from ledger.formats.records import (
    MAX_ENTRY_SIZE,
    Ballot,
    Block,
    Election,
    Entry,
    Record,
    Report,
    Station,
    Turnout,
    decode_body_value,
    decode_entry_envelope,
    record_from_value,
    record_to_value,
)
from ledger.formats.records.fast import record_if_canonical
from ledger.formats.signing import is_valid_signature

STATE_VERSION = 2

__all__ = ["BlockState", "CheckedEntry", "EntryChecker", "decode_checked"]


@dataclass(slots=True, kw_only=True)
class CheckedEntry:
    """The outcome of checking one entry: what it is, and every error and warning it raised."""

    index: int
    leaf_hash: bytes
    entry: Entry | None = None
    record: Record | None = None
    kind: str | None = None
    station: str | None = None
    #: The block height, when this is a block entry.
    block: int | None = None
    #: True when the publisher's key signed the entry.
    by_publisher: bool = False
    errors: list[VerificationError] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the entry raised no error (warnings allowed)."""
        return not self.errors


class EntryChecker:
    """docs/spec.md, "Verification" steps 1-4 over entries in log order, for publisher and auditor
    alike.

    Everything but the tree advances only for an entry with no error. The tree advances for every
    entry the caller says is in the log (``in_log=True``: an auditor reading a published log),
    and otherwise only for accepted entries (a publisher refuses an entry with errors).
    """

    def __init__(self, *, origin: str, publisher: VerifierKey) -> None:
        if publisher.name != origin:
            raise ValueError(f"publisher key name {publisher.name!r} is not the origin {origin!r}")
        self.origin = origin
        self.publisher = publisher
        self.registry = KeyRegistry(publisher.public_key)
        self.rules: RuleChecker | None = None
        #: The national log's rules 1-3 (docs/spec.md, "One log per county").
        self.logs = LogRules(origin)
        self.last_block: BlockState | None = None
        self._tree = CompactRange()
        self._turnout_plateaus: dict[str, Plateau] = {}
        self._station_plateaus: dict[str, Plateau] = {}
        self._pending_keys: dict[bytes, bytes] = {}
        self._prefix = entry_signed_message(origin, b"")

    # --- the tree ------------------------------------------------------------------------------

    @property
    def size(self) -> int:
        """Number of entries in the tree so far (the index the next entry must have)."""
        return self._tree.size

    def root(self) -> bytes:
        """RFC 9162 root of the entries so far."""
        return self._tree.root()

    @property
    def tree(self) -> CompactRange:
        """A copy of the compact range of the entries so far."""
        return self._tree.copy()

    # --- batch signatures ------------------------------------------------------------------------

    def signature_keys(self, datas: Sequence[bytes]) -> list[bytes | None]:
        """For each entry, the public key its signature must verify with, or None when
        :meth:`check` will refuse it first, for a batch verifier that cuts the messages out of
        the entries itself. Call it in log order: the key comes from the registry, or from a
        station record seen earlier in the same batch (a key id names one key)."""
        publisher_id = self.registry.publisher_key_id
        signer_for = self.registry.signer_for
        pending = self._pending_keys
        keys: list[bytes | None] = []
        for data in datas:
            kid = claimed_key_id(data)
            if kid is None:
                keys.append(None)
            elif kid == publisher_id:
                parts = envelope_parts(data)
                if parts is not None:
                    self._learn_key(parts[0])
                keys.append(self.publisher.public_key)
            else:
                owner = signer_for(kid)
                keys.append(owner.public_key if owner is not None else pending.get(kid))
        return keys

    @property
    def message_prefix(self) -> bytes:
        """What an entry signature covers before the record bytes: context and origin."""
        return self._prefix

    def _learn_key(self, body: bytes) -> None:
        record = record_if_canonical(body)  # None for the other kinds, or a record check() refuses
        if type(record) is Station:
            self._pending_keys[record.key_id] = record.pubkey

    # --- one entry -------------------------------------------------------------------------------

    def check(
        self, index: int, data: bytes, *, signature_ok: bool | None = None, in_log: bool = False
    ) -> CheckedEntry:
        """Check entry ``index`` (its bytes as stored or published) against everything before it.

        ``signature_ok`` is the verdict of a batch check with :meth:`signature_keys` (None:
        check it here). Errors are returned, not raised, each
        located by index, kind and station.
        """
        if index != self._tree.size:
            raise ValueError(f"entry {index} checked out of order: the next index is {self.size}")
        checked = CheckedEntry(index=index, leaf_hash=leaf_hash(data))
        try:
            self._check(checked, data, signature_ok)
        except VerificationError as e:
            checked.errors.append(e)
        if checked.errors:
            checked.errors = [
                e.at(index=index, kind=checked.kind, station=checked.station, block=checked.block)
                for e in checked.errors
            ]
        if not in_log and checked.errors and index == 1:
            self.logs.national = None  # refused: the next entry is entry 1
        if in_log or not checked.errors:  # in the log as read, or accepted: it joins the tree
            self._tree.append(checked.leaf_hash)
            if type(checked.record) is Block:
                self._advance_block(checked, checked.record)
        return checked

    def _check(self, checked: CheckedEntry, data: bytes, signature_ok: bool | None) -> None:
        entry, record = decode_checked(data)  # step 1
        checked.entry, checked.record = entry, record
        checked.kind = record.KIND
        if type(record) is Turnout or type(record) is Report:
            checked.station = record.station
        elif type(record) is Station:
            checked.station = record.id
        elif type(record) is Block:
            checked.block = 0 if self.last_block is None else self.last_block.height + 1
        if self.logs.national is None:
            self.logs.decide(checked.index, record)
        # Step 2: the signer, then the signature.
        public_key = self.registry.check(entry.key, record)
        checked.by_publisher = public_key == self.publisher.public_key
        if signature_ok is None:
            signature_ok = is_valid_signature(public_key, self._prefix + entry.body, entry.sig)
        if not signature_ok:
            # The two cannot be told apart: either way the signature is not over this origin.
            raise SignatureError(
                f"entry signature does not verify over this log's origin {self.origin!r}: "
                "a damaged signature, or a record signed for another log (a replay)",
                code="bad-signature",
            )
        # The national log's rules 1-3, then steps 1 (duplicates), 3 and 4 by kind.
        change = self.logs.check(checked.index, record)
        if type(record) is Turnout:
            self._check_turnout(checked, record)
        elif type(record) is Report or type(record) is Ballot:
            self._check_rules(checked, record)
        elif type(record) is Station:
            self._check_station(checked, record)
        elif type(record) is Election:
            self._check_election(checked, record)
        elif type(record) is Block:
            self._check_block(checked, record)
        else:
            self._check_log_record(checked, record, change)

    def _check_log_record(
        self, checked: CheckedEntry, record: Record, change: CountyLog | None
    ) -> None:
        """A revoke, log or checkpoint record: the registry's checks, then the change."""
        self.registry.apply(record)
        self.logs.apply(change)

    def _check_turnout(self, checked: CheckedEntry, record: Turnout) -> None:
        plateau = self._turnout_plateaus.get(record.station)
        _check_duplicate(plateau, checked)
        if self._check_rules(checked, record):
            values = (record.counts, record.buckets)
            if plateau is not None and plateau.holds(values, turnout_digest):
                plateau.hashes.append(checked.leaf_hash)
            else:
                self._turnout_plateaus[record.station] = Plateau(None, [checked.leaf_hash], values)

    def _check_station(self, checked: CheckedEntry, record: Station) -> None:
        plateau = self._station_plateaus.get(record.id)
        _check_duplicate(plateau, checked)
        self.registry.apply(record)
        if self.rules is not None:
            self.rules.learn_station(record.id, record.siruta)
        key = record.key_id
        if plateau is not None and plateau.holds(key, key_digest):
            plateau.hashes.append(checked.leaf_hash)
        else:
            self._station_plateaus[record.id] = Plateau(key, [checked.leaf_hash], key)

    def _check_election(self, checked: CheckedEntry, record: Election) -> None:
        self.registry.apply(record)
        if checked.index != 0:  # pragma: no cover - the registry refuses it first
            raise SignatureError("the election record must be entry 0", category="keys",
                                 code="election-not-first")
        self.rules = RuleChecker(record)

    def _check_rules(self, checked: CheckedEntry, record: Turnout | Report | Ballot) -> bool:
        """Step 3; True when no hard rule broke (the rule state then advanced)."""
        if self.rules is None:  # pragma: no cover - the registry refuses it first
            raise SignatureError("no election record before this entry", category="keys",
                                 code="election-not-first")
        entry = checked.entry
        violations = self.rules.check(
            record, index=checked.index, signer=entry.key if entry is not None else b"",
            by_publisher=checked.by_publisher,
        )
        if violations:
            checked.errors.extend(v.to_error() for v in violations if v.hard)
            checked.warnings.extend(
                v.to_finding(index=checked.index) for v in violations if not v.hard
            )
        return not checked.errors

    # --- blocks (step 4) -----------------------------------------------------------------------

    def _check_block(self, checked: CheckedEntry, block: Block) -> None:
        checked.errors.extend(check_block(block, checked.index, self.last_block, self.publisher))

    def _advance_block(self, checked: CheckedEntry, block: Block) -> None:
        last = self.last_block
        self.last_block = BlockState(
            height=checked.block if checked.block is not None else block.height,
            index=checked.index,
            leaf_hash=checked.leaf_hash,
            time=block.time if last is None else max(block.time, last.time),
            root=self._tree.root(),
            checkpoint=block.checkpoint,
        )

    # --- end of log ----------------------------------------------------------------------------

    def finish(self) -> list[Finding]:
        """End-of-log soft rules (a station's last turnout LT against its reports' b)."""
        if self.rules is None:
            return []
        return [v.to_finding(index=v.index) for v in self.rules.finish()]

    # --- the auditor's state file ----------------------------------------------------------------

    def to_value(self) -> dict[str, Any]:
        """Everything the checker knows, as a canonical value (docs/spec.md, "Verification")."""
        value: dict[str, Any] = {
            "registry": self.registry.to_value(),
            "station_plateaus": plateaus_value(self._station_plateaus, key_digest),
            "tree": tree_value(self._tree),
            "turnout_plateaus": plateaus_value(self._turnout_plateaus, turnout_digest),
            "v": STATE_VERSION,
        }
        if self.logs.national is not None:
            value["logs"] = self.logs.to_value()
        if self.rules is not None:
            value["election"] = record_to_value(self.rules.election)
            value["rules"] = self.rules.to_value()
        if self.last_block is not None:
            value["last_block"] = self.last_block.to_value()
        return dict(sorted(value.items()))

    @classmethod
    def from_value(cls, value: Any, publisher: VerifierKey) -> EntryChecker:
        """The checker a :meth:`to_value` value holds, for this publisher (origin = key name).

        Raises:
            MalformedError: the value is not exactly what :meth:`to_value` writes.
        """
        required = {"registry", "station_plateaus", "tree", "turnout_plateaus", "v"}
        optional = {"election", "rules", "last_block", "logs"}
        if type(value) is not dict or not required <= value.keys() <= required | optional:
            raise bad_state("expected the map EntryChecker.to_value writes")
        if value["v"] != STATE_VERSION:
            raise bad_state(f"version {value['v']!r}, expected {STATE_VERSION}")
        if ("election" in value) != ("rules" in value):
            raise bad_state("election and rules go together")
        checker = cls(origin=publisher.name, publisher=publisher)
        checker.registry = KeyRegistry.from_value(value["registry"], publisher.public_key)
        if "election" in value:
            election = record_from_value(value["election"])
            if type(election) is not Election:
                raise bad_state("election is not an election record")
            checker.rules = RuleChecker.from_value(election, value["rules"])
        checker._tree = tree_from_value(value["tree"])
        checker._turnout_plateaus = plateaus_from_value(value["turnout_plateaus"])
        checker._station_plateaus = plateaus_from_value(value["station_plateaus"])
        if "last_block" in value:
            checker.last_block = BlockState.from_value(value["last_block"])
        if "logs" in value:
            checker.logs = LogRules.from_value(value["logs"], publisher.name)
        return checker


# --- helpers ---------------------------------------------------------------------------------


def decode_checked(data: bytes) -> tuple[Entry, Record]:
    """Step 1: the entry within its 65,535 bytes, its envelope and record decoded canonically
    with exactly their fields (``ledger sign`` runs it too, so it never writes what this
    refuses).

    Raises:
        MalformedError: (or a record's own refusal) over the limit, or not canonical.
    """
    if len(data) > MAX_ENTRY_SIZE:
        raise MalformedError(
            f"entry is {len(data)} bytes, over the limit of {MAX_ENTRY_SIZE}",
            code="entry-too-large",
        )
    entry = decode_entry_envelope(data)
    record = record_if_canonical(entry.body)
    if record is None:  # another kind, or not canonical: the strict path says why
        record = record_from_value(decode_body_value(entry))
    return entry, record


def _check_duplicate(plateau: Plateau | None, checked: CheckedEntry) -> None:
    """Step 1: no entry byte-identical to an earlier one of the station's plateau (the entries
    a copy could pass as; equal bytes have equal values, so the hash alone decides)."""
    if plateau is not None and checked.leaf_hash in plateau.hashes:
        raise MalformedError(
            f"entry is byte-identical to an earlier {checked.kind} entry of station "
            f"{checked.station}",
            code="duplicate-entry",
        )
