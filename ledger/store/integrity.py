"""What a ledger directory keeps beside its entries, recomputed from the entries and compared
(docs/spec.md, "Verification" and "Exit status of every command"; docs/publisher.md).

A store keeps, besides the entries themselves, tables that the publisher derived from them: the
entry checker's state, the lookup index, the tree's inner nodes, the blocks, the signed
checkpoints and the cosigned checkpoint. Readers trust those tables (``show`` follows the lookup
index, ``prove`` the stored nodes, ``append`` the checker state), so a flipped bit in one of them
would only show later, as a wrong answer. :func:`compare_stored_tables` replays every entry
through the one entry checker (the code the publisher runs before it writes), rebuilds every
derived row, and names each table and key whose stored bytes differ: a finding of category
``store`` (exit 3).

The checker state is compared as bytes, whatever it holds: the replayed checker at the stored
state's size is encoded by :func:`encode_state`, the one function the publisher stores it with.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from ledger.check.checker import CheckedEntry, EntryChecker
from ledger.check.registry import KeyRegistry
from ledger.core.hashing import LEDGER_FORMAT
from ledger.errors import MalformedError, VerificationError, Where
from ledger.formats.checkpoints import open_ledger_checkpoint
from ledger.formats.codec import decode_value, encode_value
from ledger.formats.keys import VerifierKey
from ledger.formats.notes import open_note, parse_unverified_note
from ledger.formats.records import Report, Revoke
from ledger.store.layout import (
    LOOKUP_EPOCH_BITS,
    META_COSIGNED_CHECKPOINT,
    META_LEDGER_FORMAT,
    META_ORIGIN,
    META_VKEY,
    LookupKey,
    completed_subtrees,
    u64,
)
from ledger.store.store import META_DIGEST_PREFIX, Store, Tables, meta_digest, state_digest

__all__ = ["compare_stored_tables", "decode_state", "encode_state", "lookup_keys"]

#: Bounds for decoding our own checker state (it grows with the number of stations).
STATE_LIMITS: dict[str, int] = {"max_size": 1 << 31, "max_items": 1 << 26}
#: At most this many differences are named; the first is the one to look at.
MAX_DIFFERENCES = 100
_EPOCH = 1 << LOOKUP_EPOCH_BITS


def encode_state(checker: EntryChecker) -> bytes:
    """The checker state as the store keeps it."""
    return encode_value(checker.to_value())


def decode_state(data: bytes, publisher: VerifierKey) -> EntryChecker:
    """The checker a stored state holds.

    Raises:
        MalformedError: the bytes are not a state the checker writes.
    """
    return EntryChecker.from_value(decode_value(data, **STATE_LIMITS), publisher)


def revoked_station(checked: CheckedEntry, registry: KeyRegistry) -> str | None:
    """The station whose key a checked ``revoke`` entry names, or None."""
    if type(checked.record) is not Revoke:
        return None
    owner = registry.signer_for(checked.record.key)
    return None if owner is None else owner.station


def lookup_keys(checked: CheckedEntry, registry: KeyRegistry) -> tuple[LookupKey, ...]:
    """The lookup rows of an accepted entry (``registry``: the checker's, after the entry)."""
    station = checked.station or revoked_station(checked, registry)
    if station is None:
        return ()
    category = checked.record.category if type(checked.record) is Report else ""
    return (LookupKey(station, checked.kind or "", category),)  # positional: once per entry


class _Differences:
    """The differences found, each a ``store`` finding naming its table and key."""

    def __init__(self, store: Store) -> None:
        self.path = store.path
        self.found: list[VerificationError] = []
        self.more = 0

    def add(self, table: str, key: str, message: str, *, index: int | None = None) -> None:
        if len(self.found) >= MAX_DIFFERENCES:
            self.more += 1
            return
        self.found.append(VerificationError(
            f"store table {table}, key {key}: {message}", category="store",
            code=f"store-{table}", where=Where(index=index, source=str(self.path))))


def _index_key(key: bytes) -> str:
    return str(int.from_bytes(key, "big")) if len(key) == 8 else key.hex()


def compare_stored_tables(
    store: Store, publisher: VerifierKey, witnesses: Sequence[VerifierKey] = ()
) -> list[VerificationError]:
    """Every difference between what ``store`` keeps beside its entries and what its entries
    give (one read snapshot): findings of category ``store``, each naming the table and key.

    ``witnesses`` (cosignature/v1 keys) are the keys whose cosignatures on the stored cosigned
    checkpoint are checked too.

    Raises:
        StoreError: the store cannot be read at all, or LMDB reports corruption.
    """
    diff = _Differences(store)
    with store.tables() as tables:
        _compare(tables, publisher, witnesses, diff)
    if diff.more:
        diff.found.append(VerificationError(
            f"store: {diff.more} more differences not listed", category="store",
            code="store-more", where=Where(source=str(diff.path))))
    return diff.found


def _compare(tables: Tables, publisher: VerifierKey, witnesses: Sequence[VerifierKey],
             diff: _Differences) -> None:
    size_row = tables.get("meta", b"size")
    if size_row is None or len(size_row) != 8:
        diff.add("meta", "size", "the entry count is missing or not 8 bytes")
        return
    size = int.from_bytes(size_row, "big")
    _compare_meta(tables, publisher, diff)
    state_size, stored_state = _stored_state(tables, publisher, size, diff)
    replay = _Replay(publisher, diff)
    entries = _entries(tables, size, diff)
    stored_nodes = tables.rows("nodes")
    for chunk_start, chunk in _chunked(entries, _EPOCH):
        nodes = replay.run(chunk_start, chunk, state_size, stored_state)
        for index, expected in enumerate(nodes, chunk_start):
            row = next(stored_nodes, None)
            if row is None or row[0] != u64(index):
                diff.add("nodes", str(index), "missing: the row of the nodes this entry "
                         "completes" if row is None else f"the table holds key "
                         f"{_index_key(row[0])} where the row of entry {index} belongs",
                         index=index)
                stored_nodes = tables.rows("nodes", u64(index + 1))
            elif row[1] != expected:
                diff.add("nodes", str(index), "the stored tree nodes differ from those "
                         "recomputed from the entries", index=index)
        _compare_lookup(tables, chunk_start, replay.lookups, diff)
    extra = next(stored_nodes, None)
    if extra is not None:
        diff.add("nodes", _index_key(extra[0]), f"a row past the {size} entries")
    if state_size is not None and state_size > replay.size:
        diff.add("meta", "state", f"the checker state covers {state_size} entries, the store "
                 f"holds {replay.size}")
    _compare_lookup_rest(tables, size, diff)
    _compare_blocks(tables, replay, diff)
    _compare_checkpoints(tables, publisher, witnesses, replay, diff)


def _compare_meta(tables: Tables, publisher: VerifierKey, diff: _Differences) -> None:
    expected = {META_ORIGIN: publisher.name.encode("utf-8"),
                META_VKEY: str(publisher).encode("utf-8"),
                META_LEDGER_FORMAT: LEDGER_FORMAT.encode()}
    for name, value in expected.items():
        if tables.get("meta", name.encode()) != value:
            diff.add("meta", name, "differs from the publisher key the log verifies with")
    prefix = META_DIGEST_PREFIX.encode()
    for key, digest in tables.rows("meta", prefix):
        if not key.startswith(prefix):
            break
        named = key[len(prefix):]
        stored = tables.get("meta", named)
        if stored is None or meta_digest(named, stored) != digest:
            diff.add("meta", named.decode("utf-8", "replace"), "does not match the digest "
                     "stored beside it")


def _stored_state(tables: Tables, publisher: VerifierKey, size: int,
                  diff: _Differences) -> tuple[int | None, bytes | None]:
    state = tables.get("meta", b"state")
    if state is None:
        diff.add("meta", "state", "no checker state is stored")
        return None, None
    digest = tables.get("meta", b"state_digest")
    if digest != state_digest(state):
        diff.add("meta", "state", "the checker state does not match the digest stored "
                 "beside it")
    try:
        checker = decode_state(state, publisher)
    except MalformedError as e:
        diff.add("meta", "state", f"the checker state does not decode: {e.message}")
        return None, None
    if checker.size > size:
        diff.add("meta", "state", f"the checker state covers {checker.size} entries, the "
                 f"store holds {size}")
        return None, None
    return checker.size, state


def _entries(tables: Tables, size: int, diff: _Differences) -> Iterator[bytes]:
    expected = 0
    for key, value in tables.rows("entries"):
        if key != u64(expected):
            where = _index_key(key)
            diff.add("entries", where, f"the table holds key {where} where entry {expected} "
                     "belongs" if expected < size else f"a row past the {size} entries")
            return
        if expected >= size:
            diff.add("entries", str(expected), f"a row past the {size} entries")
            return
        yield value
        expected += 1
    if expected < size:
        diff.add("entries", str(expected), f"missing: the store says it holds {size} entries")


def _chunked(items: Iterator[bytes], n: int) -> Iterator[tuple[int, list[bytes]]]:
    start, chunk = 0, []
    for item in items:
        chunk.append(item)
        if len(chunk) == n:
            yield start, chunk
            start, chunk = start + n, []
    if chunk:
        yield start, chunk


class _Replay:
    """The entries through the one entry checker, as the publisher checked them (their
    signatures are the audit's business, not the tables')."""

    def __init__(self, publisher: VerifierKey, diff: _Differences) -> None:
        self.checker = EntryChecker(origin=publisher.name, publisher=publisher)
        self.diff = diff
        self.frontier: list[bytes] = []
        self.blocks: list[tuple[int, int, bytes, str | None]] = []  # height, index, root, cp
        self.lookups: list[bytes] = []

    @property
    def size(self) -> int:
        return self.checker.size

    def run(self, start: int, chunk: list[bytes], state_size: int | None,
            stored_state: bytes | None) -> list[bytes]:
        """Check ``chunk`` (entries from ``start``); return each entry's nodes row and keep
        its lookup rows and blocks."""
        checker = self.checker
        leaves, lookups = [], []
        for index, data in enumerate(chunk, start):
            checked = checker.check(index, data, signature_ok=True, in_log=True)
            leaves.append(checked.leaf_hash)
            if not checked.errors:
                for subject in lookup_keys(checked, checker.registry):
                    lookups.append(u64(index >> LOOKUP_EPOCH_BITS)[4:] + subject.prefix()
                                   + u64(index))
                if checked.block is not None and checker.last_block is not None:
                    self.blocks.append((checked.block, index, checker.root(),
                                        getattr(checked.record, "checkpoint", None)))
            if index + 1 == state_size and stored_state is not None \
                    and encode_state(checker) != stored_state:
                self.diff.add("meta", "state", f"the checker state stored at {state_size} "
                              "entries differs from the state the entries give")
        self.lookups = sorted(lookups)
        return completed_subtrees(self.frontier, start, leaves)


def _compare_lookup(tables: Tables, start: int, expected: list[bytes],
                    diff: _Differences) -> None:
    """The lookup rows of one epoch (the entries ``start`` .. ``start + 4095``)."""
    epoch = u64(start >> LOOKUP_EPOCH_BITS)[4:]
    stored = []
    for key, value in tables.rows("lookup", epoch):
        if not key.startswith(epoch):
            break
        stored.append(key)
        if value:
            diff.add("lookup", key.hex(), "a lookup row holds a value")
    for key in sorted(set(stored) ^ set(expected)):
        what = "not a row the entries give" if key in set(stored) else "missing"
        index = int.from_bytes(key[-8:], "big") if len(key) >= 12 else None
        diff.add("lookup", key.hex(), f"{what} (entry {index})", index=index)


def _compare_lookup_rest(tables: Tables, size: int, diff: _Differences) -> None:
    """No lookup row in an epoch past the entries."""
    first = u64(((size - 1) >> LOOKUP_EPOCH_BITS) + 1 if size else 0)[4:]
    for key, _ in tables.rows("lookup", first):
        diff.add("lookup", key.hex(), f"a row past the {size} entries")
        return


def _compare_blocks(tables: Tables, replay: _Replay, diff: _Differences) -> None:
    expected = [(u64(height), u64(index)) for height, index, _root, _cp in replay.blocks]
    stored = list(tables.rows("blocks"))
    if stored == expected:
        return
    for (key, value) in sorted(set(stored) ^ set(expected)):
        what = "not a block the entries give" if (key, value) in set(stored) else "missing"
        diff.add("blocks", _index_key(key), f"{what} (entry {_index_key(value)})")


def _compare_checkpoints(tables: Tables, publisher: VerifierKey,
                         witnesses: Sequence[VerifierKey], replay: _Replay,
                         diff: _Differences) -> None:
    """Each stored checkpoint: the one the next block embeds (the same bytes), signed by the
    publisher at its block's size and root; then the cosigned checkpoint."""
    blocks = {height: (index, root, cp) for height, index, root, cp in replay.blocks}
    stored: dict[int, bytes] = {}
    for key, note in tables.rows("checkpoints"):
        height = int.from_bytes(key, "big") if len(key) == 8 else -1
        if height not in blocks:
            diff.add("checkpoints", _index_key(key), "not the height of a block the entries "
                     "give")
            continue
        stored[height] = note
        index, root, _ = blocks[height]
        try:
            cp = open_ledger_checkpoint(note, publisher).checkpoint
        except VerificationError as e:
            diff.add("checkpoints", str(height), f"does not verify: {e.message}", index=index)
            continue
        if (cp.size, cp.root) != (index + 1, root):
            diff.add("checkpoints", str(height), f"signs size {cp.size}, not the tree of "
                     f"block {height} recomputed from the entries", index=index)
        after = blocks.get(height + 1)
        if after is not None and (after[2] or "").encode("utf-8") != note:
            diff.add("checkpoints", str(height), f"differs from the checkpoint block "
                     f"{height + 1} embeds", index=index)
    for height, (index, _root, _cp) in sorted(blocks.items()):
        if height not in stored:
            diff.add("checkpoints", str(height), "missing: the checkpoint signed with "
                     f"block {height}", index=index)
    _compare_cosigned(tables, publisher, witnesses, stored, diff)


def _compare_cosigned(tables: Tables, publisher: VerifierKey,
                      witnesses: Sequence[VerifierKey], stored: dict[int, bytes],
                      diff: _Differences) -> None:
    cosigned = tables.get("meta", META_COSIGNED_CHECKPOINT.encode())
    if cosigned is None:
        return
    name = META_COSIGNED_CHECKPOINT
    try:
        note = parse_unverified_note(cosigned)
        open_ledger_checkpoint(cosigned, publisher)
        texts = {_text(n) for n in stored.values()}
        if note.text not in texts:
            diff.add("meta", name, "its checkpoint is none of the stored checkpoints")
            return
        known = [w for w in witnesses
                 if any((s.name, s.key_hash) == (w.name, w.key_hash) for s in note.signatures)]
        if known:
            open_note(cosigned, known)
    except VerificationError as e:
        diff.add("meta", name, f"does not verify: {e.message}")


def _text(note: bytes) -> str | None:
    try:
        return parse_unverified_note(note).text
    except MalformedError:
        return None
