"""The publisher's entry checker kept in step with its store: stored state, replay, signatures.

The checker's state is O(stations): megabytes, and about half a second to encode, for a national
election. It is stored with the commit that brings it :func:`state_interval` entries past the
stored one (at least :data:`STATE_EVERY`, and :data:`STATE_PER_STATION` per registered station, so
its cost per entry stays small whatever the number of stations), and on close; opening loads it
and re-checks the entries stored after it (they were accepted once, so they pass again; one that
does not means the directory was altered). Signatures of a batch are checked by a pool of worker
processes, kept for the life of the ledger, in chunks: the checker starts on the first chunk's
entries while the workers check the next ones.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from ledger.check.checker import EntryChecker
from ledger.check.signatures import SignaturePool, default_workers, verified_chunks
from ledger.errors import MalformedError, StoreCorruptError
from ledger.formats.keys import VerifierKey
from ledger.store.integrity import decode_state, encode_state
from ledger.store.store import Commit, Store

#: Fewest entries between two stored checker states (also the most a reopen re-checks, with
#: STATE_PER_STATION x stations).
STATE_EVERY = 4096
#: Entries per registered station between two stored checker states.
STATE_PER_STATION = 16
#: Batches of at least this many entries have their signatures checked by the worker pool.
PARALLEL_MIN_SIGNATURES = 64
#: Signatures per task sent to a worker: small, so the checker starts early.
_CHUNK = 64
#: Chunks with the workers ahead of the one being checked.
_IN_FLIGHT = 256


def state_interval(checker: EntryChecker) -> int:
    """Entries between two stored states: encoding one costs O(stations), so O(1) per entry."""
    return max(STATE_EVERY, STATE_PER_STATION * checker.registry.stations)


class CheckerKeeper:
    """Owns the publisher's :class:`EntryChecker` for one open store, and its signature pool."""

    def __init__(self, store: Store, publisher: VerifierKey) -> None:
        self.store = store
        self.publisher = publisher
        self._checker: EntryChecker | None = None
        self._stored_size = 0
        self._pool: SignaturePool | None = None

    @property
    def checker(self) -> EntryChecker:
        """The checker as of the committed size (loaded on first use)."""
        return self._checker if self._checker is not None else self.load()

    def adopt(self, checker: EntryChecker) -> None:
        """Take a checker whose state was just stored (a new ledger)."""
        self._checker, self._stored_size = checker, checker.size

    def load(self) -> EntryChecker:
        """(Re)load the checker: the stored state, then the entries stored after it.

        Raises:
            StoreCorruptError: no state, a state that does not match the digest stored beside
                it, does not decode or does not match the stored tree, or a stored entry that
                no longer passes.
        """
        path = self.store.path
        size, state, _ = self.store.snapshot()
        if state is None:
            raise StoreCorruptError(f"ledger {path} has no checker state")
        try:
            checker = decode_state(state, self.publisher)
        except MalformedError as e:
            raise StoreCorruptError(f"ledger {path}: checker state: {e}") from e
        if checker.size > size or checker.root() != self.store.root(checker.size):
            raise StoreCorruptError(f"ledger {path}: checker state covers {checker.size} "
                                    f"entries with another root than the {size} stored ones")
        self._stored_size = checker.size
        self._replay(checker, size)
        self._checker = checker
        return checker

    def _replay(self, checker: EntryChecker, size: int) -> None:
        datas = list(self.store.iter_entries(checker.size, size))
        for data, ok in zip(datas, self.verdicts(checker, datas), strict=True):
            index = checker.size
            checked = checker.check(index, data, signature_ok=ok)
            if checked.errors:
                raise StoreCorruptError(f"ledger {self.store.path}: stored entry {index} no "
                                        f"longer passes the checks: {checked.errors[0]}")
        if checker.root() != self.store.root(size):
            raise StoreCorruptError(f"ledger {self.store.path}: replayed entries give another "
                                    "root than the stored tree")

    def verdicts(self, checker: EntryChecker, datas: Sequence[bytes]) -> Iterator[bool | None]:
        """Each entry's signature verdict, in order (None: the checker verifies it itself).

        Call before checking the batch; large batches go to the worker pool in chunks, so
        checking the first entries overlaps with the workers checking the chunks after them.
        """
        pool = self._signature_pool() if len(datas) >= PARALLEL_MIN_SIGNATURES else None
        chunks = (list(datas[i:i + _CHUNK]) for i in range(0, len(datas), _CHUNK))
        for chunk, results in verified_chunks(checker, chunks, pool, in_flight=_IN_FLIGHT):
            yield from results if results is not None else [None] * len(chunk)

    def _signature_pool(self) -> SignaturePool | None:
        """The pool, started on first use; None on a single core."""
        if self._pool is None and default_workers() >= 2:
            self._pool = SignaturePool(default_workers())
        return self._pool

    def due(self, checker: EntryChecker) -> bytes | None:
        """The encoded state to store with this commit, or None when not yet due."""
        if checker.size - self._stored_size < state_interval(checker):
            return None
        self._stored_size = checker.size
        return encode_state(checker)

    def flush(self) -> None:
        """Store the state if entries came since it was last stored (on close)."""
        checker = self._checker
        if self.store.writable and checker is not None and checker.size > self._stored_size:
            self.store.commit(Commit(size=checker.size, state=encode_state(checker)))
            self._stored_size = checker.size

    def close(self) -> None:
        """Stop the signature workers (idempotent)."""
        if self._pool is not None:
            pool, self._pool = self._pool, None
            pool.close()
