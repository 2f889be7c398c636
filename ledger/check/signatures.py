"""Ed25519 checks of many entries on all cores: the one pipeline the publisher and auditor share.

The checking process finds, in log order, the public key each entry must verify with
(:meth:`~ledger.check.checker.EntryChecker.signature_keys`); worker processes take a chunk of
entries in one piece (their bytes end to end, their lengths, their keys), cut each entry's signed
message out of it themselves and send back one verdict per entry. What crosses between processes is
a few large objects per chunk, not thousands of small ones. :func:`verified_chunks` keeps a bounded
number of chunks with the workers while the caller checks the oldest one. Verification is
:func:`ledger.formats.signing.is_valid_signature`: exactly the answer
:func:`ledger.formats.signing.verify_signature` gives.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from multiprocessing.pool import Pool
from types import TracebackType
from typing import Protocol

from ledger.formats.entries import envelope_parts
from ledger.formats.signing import is_valid_signature

#: Per entry: the signature verifies (True), does not (False), or was not checked (None).
Results = list[bool | None]


class KeyFinder(Protocol):
    """What the pipeline needs of the entry checker: the signed-message prefix and, in log
    order, each entry's public key (None: the checker will refuse the entry first)."""

    @property
    def message_prefix(self) -> bytes: ...

    def signature_keys(self, datas: Sequence[bytes]) -> list[bytes | None]: ...


def check_entries(
    prefix: bytes, joined: bytes, lengths: Sequence[int], keys: Sequence[bytes | None]
) -> Results:
    """Each entry's signature over ``prefix`` + its body, with its key (None: not checked, as
    for an entry that is not in the canonical layout). Runs in a worker process."""
    out: Results = []
    end = 0
    for length, key in zip(lengths, keys, strict=True):
        start, end = end, end + length
        parts = None if key is None else envelope_parts(joined[start:end])
        if key is None or parts is None:
            out.append(None)
        else:
            out.append(is_valid_signature(key, prefix + parts[0], parts[2]))
    return out


def default_workers() -> int:
    """The number of cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


class SignaturePool:
    """A pool of worker processes checking chunks of entries; results come back per chunk."""

    def __init__(self, workers: int) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        methods = multiprocessing.get_all_start_methods()
        # fork starts a worker in milliseconds and the workers need nothing but
        # ledger.formats.signing.
        context = multiprocessing.get_context("fork" if "fork" in methods else None)
        self.workers = workers
        self._pool: Pool | None = context.Pool(processes=workers)

    def submit_entries(
        self, prefix: bytes, entries: Sequence[bytes], keys: Sequence[bytes | None]
    ) -> Callable[[], Results]:
        """Start checking each entry's signature over ``prefix`` + its body with its key (see
        :func:`check_entries`); the returned function waits for and returns the verdicts."""
        if len(entries) != len(keys):
            raise ValueError(f"{len(entries)} entries but {len(keys)} keys")
        if self._pool is None:
            raise ValueError("the signature pool is closed")
        lengths = [len(entry) for entry in entries]
        args = (prefix, b"".join(entries), lengths, list(keys))
        return self._pool.apply_async(check_entries, args).get

    def close(self) -> None:
        """Stop the workers (idempotent)."""
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None

    def __enter__(self) -> SignaturePool:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def verified_chunks(
    checker: KeyFinder, chunks: Iterable[list[bytes]], pool: SignaturePool | None,
    *, in_flight: int,
) -> Iterator[tuple[list[bytes], Results | None]]:
    """Each chunk of entries with its signature verdicts, in order (None: no pool; the checker
    verifies them itself).

    A chunk's keys are looked up, and it goes to the workers, before the chunks ahead of it are
    checked (the key of a station registered earlier in the log may come from a station record
    of a chunk not yet checked: :meth:`KeyFinder.signature_keys` learns it in log order). At most
    ``in_flight`` chunks wait with the workers while the caller checks the oldest.
    """
    if pool is None:
        for chunk in chunks:
            yield chunk, None
        return
    prefix = checker.message_prefix
    waiting: deque[tuple[list[bytes], Callable[[], Results]]] = deque()
    for chunk in chunks:
        waiting.append((chunk, pool.submit_entries(prefix, chunk, checker.signature_keys(chunk))))
        if len(waiting) > in_flight:
            oldest, wait = waiting.popleft()
            yield oldest, wait()
    while waiting:
        oldest, wait = waiting.popleft()
        yield oldest, wait()
