"""The publisher's entry checker kept in step with its store: stored state, replay, signatures.

The checker's state is O(stations): megabytes, and about 0.3 s to encode, for a national
election. It is stored with the commit that brings it :data:`STATE_EVERY` entries past the stored
one, and on close; opening loads it and re-checks the entries stored after it (they were
accepted once, so they pass again; one that does not means the directory was altered). Batches
of many signatures are checked on every core.
"""

from __future__ import annotations

from collections.abc import Sequence

from ledger.batch_verify import SignaturePool, default_workers
from ledger.checker import EntryChecker, SignatureJob
from ledger.codec import decode_value, encode_value
from ledger.errors import MalformedError, StoreCorruptError
from ledger.notes import VerifierKey
from ledger.store import Commit, Store

#: Entries between two stored checker states (also the most a reopen re-checks).
STATE_EVERY = 4096
#: Batches with at least this many signatures to check are verified on every core.
PARALLEL_MIN_SIGNATURES = 4096
_CHUNK = 1024
#: Bounds for decoding our own checker state (it grows with the number of stations).
_STATE_LIMITS: dict[str, int] = {"max_size": 1 << 31, "max_items": 1 << 26}


class CheckerKeeper:
    """Owns the publisher's :class:`EntryChecker` for one open store."""

    def __init__(self, store: Store, publisher: VerifierKey) -> None:
        self.store = store
        self.publisher = publisher
        self._checker: EntryChecker | None = None
        self._stored_size = 0

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
            StoreCorruptError: no state, a state that does not decode or does not match the
                stored tree, or a stored entry that no longer passes.
        """
        path = self.store.path
        size, state, _ = self.store.snapshot()
        if state is None:
            raise StoreCorruptError(f"ledger {path} has no checker state")
        try:
            checker = EntryChecker.from_value(decode_value(state, **_STATE_LIMITS),
                                              self.publisher)
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
        for data, ok in zip(datas, signature_verdicts(checker, datas), strict=True):
            index = checker.size
            checked = checker.check(index, data, signature_ok=ok)
            if checked.errors:
                raise StoreCorruptError(f"ledger {self.store.path}: stored entry {index} no "
                                        f"longer passes the checks: {checked.errors[0]}")
        if checker.root() != self.store.root(size):
            raise StoreCorruptError(f"ledger {self.store.path}: replayed entries give another "
                                    "root than the stored tree")

    def due(self, checker: EntryChecker) -> bytes | None:
        """The encoded state to store with this commit, or None when not yet due."""
        if checker.size - self._stored_size < STATE_EVERY:
            return None
        self._stored_size = checker.size
        return encode_value(checker.to_value())

    def flush(self) -> None:
        """Store the state if entries came since it was last stored (on close)."""
        checker = self._checker
        if self.store.writable and checker is not None and checker.size > self._stored_size:
            self.store.commit(Commit(size=checker.size, state=encode_value(checker.to_value())))
            self._stored_size = checker.size


def signature_verdicts(checker: EntryChecker, datas: Sequence[bytes]) -> list[bool | None]:
    """Per entry: the batch-checked signature verdict, or None (the checker checks it).

    Call before checking the batch: keys come from the registry and from station records
    earlier in the batch.
    """
    jobs = [checker.signature_job(data) for data in datas]
    todo = [job for job in jobs if job is not None]
    if len(todo) < PARALLEL_MIN_SIGNATURES or default_workers() < 2:
        return [None] * len(datas)
    results = iter(_verify_in_parallel(todo))
    return [None if job is None else next(results) for job in jobs]


def _verify_in_parallel(jobs: list[SignatureJob]) -> list[bool | None]:
    # Workers live for this batch only; the store's write lock is a POSIX lock, which forked
    # workers do not inherit, so none can outlive the writer holding the ledger.
    chunks = [jobs[i:i + _CHUNK] for i in range(0, len(jobs), _CHUNK)]
    with SignaturePool(min(default_workers(), len(chunks))) as pool:
        waits = [pool.submit(chunk) for chunk in chunks]
        return [ok for wait in waits for ok in wait()]
