"""Ed25519 checks of many entries on all cores (signature checks dominate an audit's cost).

The auditor's process finds, in log order, the public key each entry must verify with; worker
processes take a chunk of a few thousand entries in one piece (their bytes end to end, their
lengths, their keys), cut each entry's signed message out of it themselves and send back one
verdict per entry. So what crosses between processes is a few large objects per chunk, not
thousands of small ones. Verification is :func:`ledger.signing.is_valid_signature`, so the answer
is exactly the one :func:`ledger.signing.verify_signature` gives.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from multiprocessing.pool import Pool
from types import TracebackType

from ledger.entries import envelope_parts
from ledger.signing import is_valid_signature

#: (public key, signed message, signature), or None for an entry with nothing to check.
Job = tuple[bytes, bytes, bytes] | None
#: Per job or entry: the signature verifies (True), does not (False), or was not checked (None).
Results = list[bool | None]


def check_jobs(jobs: Sequence[Job]) -> Results:
    """Run each job's Ed25519 check; None stays None. Runs in a worker process."""
    return [None if job is None else is_valid_signature(*job) for job in jobs]


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
    """A pool of worker processes checking chunks of jobs; results come back per chunk."""

    def __init__(self, workers: int) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        methods = multiprocessing.get_all_start_methods()
        # fork starts a worker in milliseconds and the workers need nothing but ledger.signing.
        context = multiprocessing.get_context("fork" if "fork" in methods else None)
        self.workers = workers
        self._pool: Pool | None = context.Pool(processes=workers)

    def submit(self, jobs: Sequence[Job]) -> Callable[[], Results]:
        """Start checking ``jobs``; the returned function waits for and returns the results."""
        return self._apply(check_jobs, (list(jobs),))

    def submit_entries(
        self, prefix: bytes, entries: Sequence[bytes], keys: Sequence[bytes | None]
    ) -> Callable[[], Results]:
        """Start checking each entry's signature over ``prefix`` + its body with its key (see
        :func:`check_entries`); the returned function waits for and returns the verdicts."""
        if len(entries) != len(keys):
            raise ValueError(f"{len(entries)} entries but {len(keys)} keys")
        lengths = [len(entry) for entry in entries]
        return self._apply(check_entries, (prefix, b"".join(entries), lengths, list(keys)))

    def _apply(
        self, task: Callable[..., Results], args: tuple[object, ...]
    ) -> Callable[[], Results]:
        if self._pool is None:
            raise ValueError("the signature pool is closed")
        return self._pool.apply_async(task, args).get

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
