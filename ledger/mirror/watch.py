"""A monitor (``ledger watch``): follow a log, verifying each new checkpoint incrementally from
the monitor's own state (docs/spec.md, "Monitors").

Each :meth:`Monitor.step` reads the checkpoint of the first source that answers; when it is new,
it audits what is new (:func:`ledger.auditor.verify.verify`, trusting the checkpoint the state
holds, so a fork or a rollback is caught) and, when the audit is clean, the state (which keeps
the signed checkpoint) is rewritten atomically by the audit itself.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ledger.auditor.state import load_state
from ledger.auditor.verify import verify
from ledger.check.findings import AuditReport
from ledger.errors import VerificationError
from ledger.files import write_atomic
from ledger.formats.checkpoints import open_ledger_checkpoint
from ledger.formats.keys import VerifierKey
from ledger.formats.policy import Policy
from ledger.mirror.pull import checkpoint_refusal
from ledger.sources.multi import FallbackSource
from ledger.sources.source import Source


@dataclass(frozen=True, slots=True, kw_only=True)
class WatchStep:
    """What one step saw.

    ``status``: ``same`` (nothing new), ``new`` (a new checkpoint, verified, state saved),
    ``split-view`` (a fork: evidence written), ``rollback`` (smaller than the one held) or
    ``errors`` (the new part breaks a rule or a check).
    """

    status: str
    source: str
    tree_size: int | None
    previous_size: int | None
    report: AuditReport | None = None
    evidence: Path | None = None
    new_by_kind: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when the log still holds."""
        return self.status in ("same", "new")


class Monitor:
    """Follows one log (the publisher key's origin), keeping its state in ``state_path``."""

    def __init__(self, publisher: VerifierKey, state_path: str | os.PathLike[str], *,
                 policy: Policy | None = None, evidence_dir: str | os.PathLike[str] = ".",
                 workers: int | None = None) -> None:
        self.publisher = publisher
        self.policy = policy
        self.state_path = Path(state_path)
        self.evidence_dir = Path(evidence_dir)
        self.workers = workers

    def _refusal(self, note: bytes) -> str | None:
        return checkpoint_refusal(note, self.publisher)

    def step(self, sources: Sequence[Source]) -> WatchStep:
        """One look at the log.

        Raises:
            SourceUnavailableError: no source answered (the caller retries).
            InputError: the state file is not an audit state.
        """
        log = FallbackSource(sources, accept=self._refusal)
        note = log.read_checkpoint()
        held = load_state(self.state_path)
        previous = None if held is None else held.size
        source = log.answered.describe()
        if held is not None and held.checkpoint is not None:
            try:
                latest = open_ledger_checkpoint(note, self.publisher).checkpoint
            except VerificationError:
                latest = None
            if latest is not None and (latest.size, latest.root) == (held.size, held.root):
                return WatchStep(status="same", source=source, tree_size=latest.size,
                                 previous_size=previous)
        report = verify(log, self.publisher, state_path=self.state_path, policy=self.policy,
                        workers=self.workers)
        if report.evidence is not None:
            self.evidence_dir.mkdir(parents=True, exist_ok=True)
            path = self.evidence_dir / report.evidence[0]
            write_atomic(path, report.evidence[1])
            return WatchStep(status="split-view", evidence=path, source=source,
                             tree_size=report.tree_size, previous_size=previous, report=report)
        status = "new"
        if any(e.category == "rollback" for e in report.errors):
            status = "rollback"
        elif report.errors:
            status = "errors"
        return WatchStep(status=status, source=source, tree_size=report.tree_size,
                         previous_size=previous, report=report,
                         new_by_kind=dict(report.records_by_kind))
