"""The one entry checker that the publisher and the auditor both run (DESIGN.md section 7, 1-4).

:class:`EntryChecker` is a pure state machine over entries in log order: canonical decoding and
limits, duplicates, the signer (the key registry), the election rules, block chaining and each
embedded checkpoint. The publisher runs it before writing an entry and refuses one with errors;
the auditor runs it over the whole log and keeps going. So the two can never disagree.

Duplicates (step 1) are caught without a set of every leaf hash, which would grow to hundreds of
megabytes at 16.8M entries. Each kind's own state already rejects a byte-identical copy: there is
one election record, block heights increase, report versions strictly increase per station and
category, a station key is registered once and revoked once. The one kind whose state lets a copy
through is turnout (counters only must not decrease), and a copy passes that rule only when every
counter equals the latest one: so each station keeps the leaf hashes of its turnout entries since
its counters last changed (its "plateau"), usually one hash. Memory is O(stations).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ledger.codec import encode_value
from ledger.errors import (
    ChainError,
    MalformedError,
    RootMismatchError,
    SignatureError,
    VerificationError,
)
from ledger.hashing import HASH_SIZE, entry_signed_message, leaf_hash, sha256
from ledger.merkle import CompactRange
from ledger.notes import VerifierKey, open_ledger_checkpoint
from ledger.records import (
    MAX_ENTRY_SIZE,
    Block,
    Election,
    Entry,
    Record,
    Report,
    Station,
    Turnout,
    decode_entry_envelope,
    decode_entry_record,
    decode_record,
    record_from_value,
    record_to_value,
)
from ledger.registry import KeyRegistry
from ledger.report import Finding
from ledger.rules import RuleChecker, Violation
from ledger.signing import is_valid_signature

ZERO_HASH = bytes(HASH_SIZE)
STATE_VERSION = 1

#: (public key, signed message, signature): one Ed25519 check, for a batch verifier.
SignatureJob = tuple[bytes, bytes, bytes]


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockState:
    """The last block entry: what the next block must chain to."""

    height: int
    index: int
    leaf_hash: bytes
    time: int
    #: Root of the tree that ends with this block entry: the root the next block's embedded
    #: checkpoint (the checkpoint signed at this block) must carry.
    root: bytes
    #: The checkpoint this block embeds (the previous block's), or None at height 0.
    checkpoint: str | None = None

    @property
    def size(self) -> int:
        """Tree size of the checkpoint signed at this block."""
        return self.index + 1


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
    errors: list[VerificationError] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the entry raised no error (warnings allowed)."""
        return not self.errors


@dataclass(slots=True)
class _Plateau:
    """Leaf hashes of a station's entries that a byte-identical copy could still pass as."""

    digest: bytes
    hashes: list[bytes]


class EntryChecker:
    """DESIGN.md section 7 steps 1-4 over entries in log order, for publisher and auditor alike.

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
        self.last_block: BlockState | None = None
        self._tree = CompactRange()
        self._turnout_plateaus: dict[str, _Plateau] = {}
        self._station_plateaus: dict[str, _Plateau] = {}
        self._last_reports: dict[str, dict[str, int]] = {}
        self._pending_keys: dict[bytes, bytes] = {}

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

    def signature_job(self, data: bytes) -> SignatureJob | None:
        """The Ed25519 check entry ``data`` needs, or None when :meth:`check` will refuse it first.

        Call it in log order: the public key comes from the registry, or from a station record
        seen earlier in the same batch (a key id names one key, so that is the key to use).
        """
        try:
            entry = decode_entry_envelope(data)
        except MalformedError:
            return None
        if entry.key == self.registry.publisher_key_id:
            public_key: bytes | None = self.publisher.public_key
            self._learn_key(entry)
        else:
            owner = self.registry.signer_for(entry.key)
            public_key = owner.public_key if owner else self._pending_keys.get(entry.key)
        if public_key is None:
            return None
        return public_key, entry_signed_message(self.origin, entry.body), entry.sig

    def _learn_key(self, entry: Entry) -> None:
        try:
            record = decode_record(entry.body)
        except MalformedError:
            return
        if type(record) is Station:
            self._pending_keys[record.key_id] = record.pubkey

    # --- one entry -------------------------------------------------------------------------------

    def check(
        self, index: int, data: bytes, *, signature_ok: bool | None = None, in_log: bool = False
    ) -> CheckedEntry:
        """Check entry ``index`` (its bytes as stored or published) against everything before it.

        ``signature_ok`` is the result of a batch check of :meth:`signature_job` (None: check it
        here). Errors are returned, not raised, each located by index, kind and station.
        """
        if index != self.size:
            raise ValueError(f"entry {index} checked out of order: the next index is {self.size}")
        checked = CheckedEntry(index=index, leaf_hash=leaf_hash(data))
        try:
            self._check(checked, data, signature_ok)
        except VerificationError as e:
            checked.errors.append(e)
        checked.errors = [
            e.at(index=index, kind=checked.kind, station=checked.station, block=checked.block)
            for e in checked.errors
        ]
        if checked.ok or in_log:
            self._tree.append(checked.leaf_hash)
        if type(checked.record) is Block and (checked.ok or in_log):
            self._advance_block(checked, checked.record)
        return checked

    def _check(self, checked: CheckedEntry, data: bytes, signature_ok: bool | None) -> None:
        # Step 1: limits and canonical decoding.
        if len(data) > MAX_ENTRY_SIZE:
            raise MalformedError(
                f"entry is {len(data)} bytes, over the limit of {MAX_ENTRY_SIZE}",
                code="entry-too-large",
            )
        entry, record = decode_entry_record(data)
        checked.entry, checked.record = entry, record
        checked.kind = record.KIND
        checked.station = _station_of(record)
        if type(record) is Block:
            checked.block = 0 if self.last_block is None else self.last_block.height + 1
        # Step 2: the signer, then the signature.
        public_key = self.registry.check(entry.key, record)
        if signature_ok is None:
            message = entry_signed_message(self.origin, entry.body)
            signature_ok = is_valid_signature(public_key, message, entry.sig)
        if not signature_ok:
            # The two cannot be told apart: either way the signature is not over this origin.
            raise SignatureError(
                f"entry signature does not verify over this log's origin {self.origin!r}: "
                "a damaged signature, or a record signed for another log (a replay)",
                code="bad-signature",
            )
        # Steps 1 (duplicates), 3 and 4 by kind.
        if type(record) is Election:
            self._check_election(checked, record)
        elif type(record) is Block:
            self._check_block(checked, record)
        elif type(record) is Station:
            self._check_duplicate(self._station_plateaus, record.id, record.key_id, checked)
            self.registry.apply(record)
            self._remember(self._station_plateaus, record.id, record.key_id, checked.leaf_hash)
        elif type(record) is Turnout:
            digest = _turnout_digest(record)
            self._check_duplicate(self._turnout_plateaus, record.station, digest, checked)
            if self._check_rules(checked, record):
                self._remember(self._turnout_plateaus, record.station, digest, checked.leaf_hash)
        elif type(record) is Report:
            if self._check_rules(checked, record):
                self._last_reports.setdefault(record.station, {})[record.category] = checked.index
        else:
            self.registry.apply(record)

    def _check_election(self, checked: CheckedEntry, record: Election) -> None:
        self.registry.apply(record)
        if checked.index != 0:  # pragma: no cover - the registry refuses it first
            raise SignatureError("the election record must be entry 0", category="keys",
                                 code="election-not-first")
        self.rules = RuleChecker(record)

    def _check_rules(self, checked: CheckedEntry, record: Turnout | Report) -> bool:
        """Step 3; True when no hard rule broke (the rule state then advanced)."""
        if self.rules is None:  # pragma: no cover - the registry refuses it first
            raise SignatureError("no election record before this entry", category="keys",
                                 code="election-not-first")
        violations = self.rules.check(record)
        checked.errors.extend(v.to_error() for v in violations if v.hard)
        checked.warnings.extend(
            v.to_finding(index=checked.index) for v in violations if not v.hard
        )
        return checked.ok

    def _check_duplicate(
        self, plateaus: dict[str, _Plateau], station: str, digest: bytes, checked: CheckedEntry
    ) -> None:
        plateau = plateaus.get(station)
        if plateau is not None and plateau.digest == digest and checked.leaf_hash in plateau.hashes:
            raise MalformedError(
                f"entry is byte-identical to an earlier {checked.kind} entry of station {station}",
                code="duplicate-entry",
            )

    @staticmethod
    def _remember(
        plateaus: dict[str, _Plateau], station: str, digest: bytes, leaf: bytes
    ) -> None:
        plateau = plateaus.get(station)
        if plateau is None or plateau.digest != digest:
            plateaus[station] = _Plateau(digest, [leaf])
        else:
            plateau.hashes.append(leaf)

    # --- blocks (step 4) -----------------------------------------------------------------------

    def _check_block(self, checked: CheckedEntry, block: Block) -> None:
        last = self.last_block
        index = checked.index
        want_height = 0 if last is None else last.height + 1
        want_prev = ZERO_HASH if last is None else last.leaf_hash
        want_first = 0 if last is None else last.index + 1
        problems = []
        if block.height != want_height:
            problems.append(("block-height", f"height is {block.height}, expected {want_height}"))
        if block.prev != want_prev:
            problems.append(("block-prev", "prev is not the leaf hash of the previous block "
                             f"entry ({want_prev.hex()[:16]}...)"))
        if block.first != want_first:
            problems.append(("block-first", f"first is {block.first}, expected {want_first} "
                             "(the index right after the previous block entry)"))
        elif block.first + block.count != index:  # a wrong first already explains a bad sum
            problems.append(("block-count", f"first + count is {block.first + block.count}, "
                             f"expected the block's own index {index}"))
        if last is not None and block.time <= last.time:
            problems.append(("block-time", f"time {block.time} is not after the previous "
                             f"block's time {last.time}"))
        checked.errors.extend(
            ChainError(f"block {want_height}: {message}", code=code) for code, message in problems
        )
        try:
            self._check_embedded_checkpoint(block, last)
        except VerificationError as e:
            checked.errors.append(e)

    def _check_embedded_checkpoint(self, block: Block, last: BlockState | None) -> None:
        """The previous block's checkpoint, exactly as signed: publisher only, root at its size."""
        if last is None:
            if block.checkpoint is not None:
                raise MalformedError("block 0 embeds a checkpoint (there is none before it)",
                                     category="checkpoint", code="checkpoint-unexpected")
            return
        if block.checkpoint is None:
            raise MalformedError(
                f"block {last.height + 1} embeds no checkpoint (expected the one signed at "
                f"size {last.size})", category="checkpoint", code="checkpoint-missing")
        signed = open_ledger_checkpoint(block.checkpoint.encode("utf-8"), self.publisher)
        if len(signed.note.signatures) != 1:
            raise MalformedError(
                f"embedded checkpoint has {len(signed.note.signatures)} signature lines; a block "
                "embeds the checkpoint with its one publisher signature only",
                category="checkpoint", code="checkpoint-cosigned")
        cp = signed.checkpoint
        if cp.size != last.size:
            raise MalformedError(
                f"embedded checkpoint has size {cp.size}, expected {last.size} (the previous "
                "block's)", category="checkpoint", code="checkpoint-size")
        if cp.root != last.root:
            raise RootMismatchError(
                f"embedded checkpoint of size {cp.size} has root {cp.root.hex()}, but the "
                f"entries give {last.root.hex()}", code="checkpoint-root")

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
        return [self._finish_finding(v) for v in self.rules.finish()]

    def _finish_finding(self, violation: Violation) -> Finding:
        reports = self._last_reports.get(violation.station or "", {})
        index = reports.get(violation.category) if violation.category else None
        return violation.to_finding(index=index)

    # --- the auditor's state file ----------------------------------------------------------------

    def to_value(self) -> dict[str, Any]:
        """Everything the checker knows, as a canonical value (docs/spec-parts/40-verify.md)."""
        value: dict[str, Any] = {
            "last_reports": {
                station: dict(sorted(by_category.items()))
                for station, by_category in sorted(self._last_reports.items())
            },
            "registry": self.registry.to_value(),
            "station_plateaus": _plateaus_value(self._station_plateaus),
            "tree": {"hashes": list(self._tree.hashes), "size": self._tree.size},
            "turnout_plateaus": _plateaus_value(self._turnout_plateaus),
            "v": STATE_VERSION,
        }
        if self.rules is not None:
            value["election"] = record_to_value(self.rules.election)
            value["rules"] = self.rules.to_value()
        if self.last_block is not None:
            value["last_block"] = _block_state_value(self.last_block)
        return dict(sorted(value.items()))

    @classmethod
    def from_value(cls, value: Any, publisher: VerifierKey) -> EntryChecker:
        """The checker a :meth:`to_value` value holds, for this publisher (origin = key name).

        Raises:
            MalformedError: the value is not exactly what :meth:`to_value` writes.
        """
        required = {"last_reports", "registry", "station_plateaus", "tree", "turnout_plateaus", "v"}
        optional = {"election", "rules", "last_block"}
        if type(value) is not dict or not required <= value.keys() <= required | optional:
            raise _bad_state("expected the map EntryChecker.to_value writes")
        if value["v"] != STATE_VERSION:
            raise _bad_state(f"version {value['v']!r}, expected {STATE_VERSION}")
        if ("election" in value) != ("rules" in value):
            raise _bad_state("election and rules go together")
        checker = cls(origin=publisher.name, publisher=publisher)
        checker.registry = KeyRegistry.from_value(value["registry"], publisher.public_key)
        if "election" in value:
            election = record_from_value(value["election"])
            if type(election) is not Election:
                raise _bad_state("election is not an election record")
            checker.rules = RuleChecker.from_value(election, value["rules"])
        checker._tree = _tree_from_value(value["tree"])
        checker._turnout_plateaus = _plateaus_from_value(value["turnout_plateaus"])
        checker._station_plateaus = _plateaus_from_value(value["station_plateaus"])
        checker._last_reports = _last_reports_from_value(value["last_reports"])
        if "last_block" in value:
            checker.last_block = _block_state_from_value(value["last_block"])
        return checker


# --- helpers ---------------------------------------------------------------------------------


def _station_of(record: Record) -> str | None:
    if type(record) is Station:
        return record.id
    station = getattr(record, "station", None)
    return station if isinstance(station, str) else None


def _turnout_digest(record: Turnout) -> bytes:
    """What a copy of a turnout must equal to pass the counter rules: its counts and buckets."""
    value: dict[str, Any] = {"counts": dict(record.counts)}
    if record.buckets is not None:
        value["buckets"] = dict(record.buckets)
    return sha256(encode_value(value))[:16]


def _bad_state(message: str) -> MalformedError:
    return MalformedError(f"entry checker state: {message}", code="bad-state")


def _is_hash(value: Any) -> bool:
    return type(value) is bytes and len(value) == HASH_SIZE


def _plateaus_value(plateaus: dict[str, _Plateau]) -> dict[str, Any]:
    return {
        station: {"digest": p.digest, "hashes": list(p.hashes)}
        for station, p in sorted(plateaus.items())
    }


def _plateaus_from_value(value: Any) -> dict[str, _Plateau]:
    if type(value) is not dict:
        raise _bad_state("plateaus must be a map")
    out: dict[str, _Plateau] = {}
    for station, item in value.items():
        if type(item) is not dict or item.keys() != {"digest", "hashes"}:
            raise _bad_state("a plateau is a map of digest and hashes")
        digest, hashes = item["digest"], item["hashes"]
        if type(digest) is not bytes or type(hashes) is not list:
            raise _bad_state("a plateau digest is bin and its hashes an array")
        if not hashes or not all(_is_hash(h) for h in hashes):
            raise _bad_state("plateau hashes are 32-byte bins")
        out[station] = _Plateau(digest, list(hashes))
    return out


def _last_reports_from_value(value: Any) -> dict[str, dict[str, int]]:
    if type(value) is not dict:
        raise _bad_state("last_reports must be a map")
    out: dict[str, dict[str, int]] = {}
    for station, by_category in value.items():
        if type(by_category) is not dict or not all(
            type(i) is int and i >= 0 for i in by_category.values()
        ):
            raise _bad_state("last_reports maps station -> category -> entry index")
        out[station] = dict(by_category)
    return out


def _tree_from_value(value: Any) -> CompactRange:
    if type(value) is not dict or value.keys() != {"hashes", "size"}:
        raise _bad_state("tree is a map of hashes and size")
    size, hashes = value["size"], value["hashes"]
    if type(size) is not int or type(hashes) is not list or not all(_is_hash(h) for h in hashes):
        raise _bad_state("tree size is an int and its hashes 32-byte bins")
    try:
        return CompactRange.from_state(size, hashes)
    except ValueError as e:
        raise _bad_state(f"tree: {e}") from e


def _block_state_value(b: BlockState) -> dict[str, Any]:
    value: dict[str, Any] = {
        "height": b.height, "index": b.index, "leaf_hash": b.leaf_hash, "root": b.root,
        "time": b.time,
    }
    if b.checkpoint is not None:
        value["checkpoint"] = b.checkpoint
    return dict(sorted(value.items()))


def _block_state_from_value(value: Any) -> BlockState:
    keys = {"height", "index", "leaf_hash", "root", "time"}
    if type(value) is not dict or not keys <= value.keys() <= keys | {"checkpoint"}:
        raise _bad_state("last_block is a map of height, index, leaf_hash, root, time")
    ints_ok = all(type(value[k]) is int and value[k] >= 0 for k in ("height", "index", "time"))
    if not ints_ok or not _is_hash(value["leaf_hash"]) or not _is_hash(value["root"]):
        raise _bad_state("last_block has ints and 32-byte hashes")
    checkpoint = value.get("checkpoint")
    if checkpoint is not None and type(checkpoint) is not str:
        raise _bad_state("last_block checkpoint is a str")
    return BlockState(
        height=value["height"], index=value["index"], leaf_hash=value["leaf_hash"],
        root=value["root"], time=value["time"], checkpoint=checkpoint,
    )
