"""Small timing helpers shared by the workloads, and the row every workload reports."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")


class NotAvailableError(Exception):
    """A workload cannot run yet: the library API it needs is missing (the reason says which)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Row:
    """One measured rate: ``count`` operations of ``figure``/``op`` by ``impl`` in ``seconds``."""

    figure: str
    op: str
    impl: str
    count: int
    seconds: float
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        """Operations per second."""
        return self.count / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        """The row as JSON, with its rate."""
        out = asdict(self)
        out["rate"] = round(self.rate, 1)
        out["seconds"] = round(self.seconds, 4)
        return out


class Stopwatch:
    """Accumulates only the timed parts of a loop (generation and setup stay outside)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._start: float | None = None

    def __enter__(self) -> Stopwatch:
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._start is not None:
            self.seconds += time.perf_counter() - self._start
            self._start = None


def timed_loop(
    seconds: float, items: Sequence[T], call: Callable[[T], object], *, min_calls: int = 1
) -> tuple[int, float]:
    """Call ``call`` on ``items`` in turn, cycling, for about ``seconds`` (at least ``min_calls``).

    Returns (calls made, seconds taken).
    """
    if not items:
        raise ValueError("timed_loop needs at least one item")
    count = 0
    clock = time.perf_counter
    start = clock()
    deadline = start + seconds
    while True:
        for item in items:
            call(item)
            count += 1
            if count >= min_calls and clock() >= deadline:
                return count, clock() - start


def warm_up(seconds: float, items: Sequence[T], call: Callable[[T], object]) -> None:
    """An untimed fifth of the window first: page cache, lazy imports and caches warm, as in a
    server that has been running (both ours and the peer get it)."""
    timed_loop(seconds / 5, items[len(items) // 2 :], call)
