"""Process memory from ``/proc``: anonymous RSS (LMDB's mapped file pages excluded) and peaks.

Linux has no peak of *anonymous* RSS, only of total RSS (VmHWM, which counts the LMDB pages the
kernel maps in): :class:`AnonSampler` polls RssAnon on a thread to find the anonymous peak.
"""

from __future__ import annotations

import resource
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

_STATUS = Path("/proc/self/status")
_SMAPS_ROLLUP = Path("/proc/self/smaps_rollup")


def _kib_fields(path: Path, names: frozenset[str]) -> dict[str, int]:
    """``Name:  123 kB`` lines of a /proc file, as KiB, for the names asked (missing: absent)."""
    try:
        text = path.read_text(encoding="ascii", errors="replace")
    except OSError:
        return {}
    out: dict[str, int] = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        parts = rest.split()
        if name in names and len(parts) == 2 and parts[1] == "kB" and parts[0].isdigit():
            out[name] = int(parts[0])
    return out


def status_kib() -> dict[str, int]:
    """VmHWM (peak total RSS), VmRSS, RssAnon and RssFile of this process, in KiB."""
    return _kib_fields(_STATUS, frozenset({"VmHWM", "VmRSS", "RssAnon", "RssFile"}))


def rss_anon_kib() -> int:
    """Anonymous resident memory of this process now, in KiB (0 where /proc has no RssAnon)."""
    return status_kib().get("RssAnon", 0)


def smaps_rollup_kib() -> dict[str, int]:
    """Anonymous, Rss, Pss, Pss_Anon and Pss_File from /proc/self/smaps_rollup, in KiB."""
    return _kib_fields(
        _SMAPS_ROLLUP, frozenset({"Anonymous", "Rss", "Pss", "Pss_Anon", "Pss_File"})
    )


class AnonSampler:
    """Polls RssAnon every ``interval`` seconds on a daemon thread and keeps the maximum."""

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.start_kib = rss_anon_kib()
        self.peak_kib = self.start_kib
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-anon-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak_kib = max(self.peak_kib, rss_anon_kib())

    def __enter__(self) -> AnonSampler:
        self._thread.start()
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_kib = max(self.peak_kib, rss_anon_kib())


def memory_report(sampler: AnonSampler) -> dict[str, Any]:
    """Everything we know about this process's memory, in MiB (children: their peak RSS)."""
    status = status_kib()
    rollup = smaps_rollup_kib()
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux

    def mib(kib: int | None) -> float | None:
        return None if kib is None else round(kib / 1024, 1)

    return {
        "rss_anon_start_mib": mib(sampler.start_kib),
        "rss_anon_peak_mib": mib(sampler.peak_kib),
        "rss_anon_end_mib": mib(status.get("RssAnon")),
        "rss_file_end_mib": mib(status.get("RssFile")),
        "vm_hwm_mib": mib(status.get("VmHWM")),
        "smaps_anonymous_mib": mib(rollup.get("Anonymous")),
        "smaps_pss_anon_mib": mib(rollup.get("Pss_Anon")),
        "children_max_rss_mib": mib(children) if children else None,
    }
