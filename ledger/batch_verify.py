"""Ed25519 checks of many entries on all cores (signature checks dominate an audit's cost).

The auditor's process decodes entries and builds the jobs (public key, message, signature) in
log order; worker processes only run Ed25519 verification on chunks of a few thousand and send
back one bool per job. Verification is :func:`ledger.signing.is_valid_signature`, so the answer is
exactly the one :func:`ledger.signing.verify_signature` gives.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from multiprocessing.pool import Pool
from types import TracebackType

from ledger.signing import is_valid_signature

#: (public key, signed message, signature), or None for an entry with nothing to check.
Job = tuple[bytes, bytes, bytes] | None
Results = list[bool | None]


def check_jobs(jobs: Sequence[Job]) -> Results:
    """Run each job's Ed25519 check; None stays None. Runs in a worker process."""
    return [None if job is None else is_valid_signature(*job) for job in jobs]


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
        if self._pool is None:
            raise ValueError("the signature pool is closed")
        pending = self._pool.apply_async(check_jobs, (list(jobs),))
        return pending.get

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
