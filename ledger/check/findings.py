"""Findings and the report object that `ledger verify` and `ledger validate` print (docs/spec.md,
"Verification").

A :class:`Finding` is one error or warning with where and why; an :class:`AuditReport` collects
them in log order with a summary. Both are plain values: the CLI only formats them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

from ledger.errors import VerificationError, Where


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """One error or warning: what broke (``category``, ``code``, ``message``) and where."""

    category: str
    code: str
    message: str
    where: Where = field(default_factory=Where)

    @classmethod
    def from_error(cls, error: VerificationError) -> Finding:
        """The finding for a raised verification error, keeping its location."""
        return cls(category=error.category, code=error.code, message=error.message,
                   where=error.where)

    def located(self, **where: object) -> Finding:
        """The same finding with these location fields set (``file=...``, ``block=...``)."""
        return replace(self, where=replace(self.where, **where))  # type: ignore[arg-type]

    def to_json(self) -> dict[str, Any]:
        """The JSON object F of docs/spec.md (every key present, null where unknown)."""
        w = self.where
        return {
            "index": w.index,
            "block": w.block,
            "station": w.station,
            "kind": w.kind,
            "file": w.file,
            "line": w.line,
            "log": w.log,
            "source": w.source,
            "category": self.category,
            "code": self.code,
            "message": self.message,
        }

    def describe(self) -> str:
        """One human line: location first, then the message and the code."""
        return self.where.prefix(f"{self.message} [{self.code}]")


@dataclass(slots=True, kw_only=True)
class AuditReport:
    """Errors and warnings in log order, plus the summary counters; built up by one run."""

    origin: str | None = None
    tree_size: int | None = None
    root: bytes | None = None
    errors: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)
    entries: int = 0
    blocks: int = 0
    stations: int = 0
    records_by_kind: Counter[str] = field(default_factory=Counter)
    unsealed: int = 0
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)
    #: Split-view evidence the run proved: (default file name, the file's bytes); not in JSON.
    evidence: tuple[str, bytes] | None = field(default=None, repr=False)
    #: The signed checkpoint note the run read and checked (not in JSON).
    checkpoint: bytes | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings allowed)."""
        return not self.errors

    def error(self, finding: Finding) -> None:
        """Record an error finding."""
        self.errors.append(finding)

    def warning(self, finding: Finding) -> None:
        """Record a warning finding."""
        self.warnings.append(finding)

    def warnings_by_rule(self) -> dict[str, int]:
        """Warning counts by rule code, sorted by code."""
        return dict(sorted(Counter(w.code for w in self.warnings).items()))

    def to_json(self) -> dict[str, Any]:
        """The report object of docs/spec.md, "Verification"."""
        rate = self.entries / self.seconds if self.seconds > 0 else None
        summary: dict[str, Any] = {
            "entries": self.entries,
            "blocks": self.blocks,
            "stations": self.stations,
            "records_by_kind": dict(sorted(self.records_by_kind.items())),
            "warnings_by_rule": self.warnings_by_rule(),
            "seconds": round(self.seconds, 3),
            "records_per_second": round(rate, 1) if rate is not None else None,
        }
        if self.unsealed:
            summary["unsealed"] = self.unsealed
        summary.update(self.extra)
        return {
            "ok": self.ok,
            "origin": self.origin,
            "tree_size": self.tree_size,
            "root": self.root.hex() if self.root is not None else None,
            "errors": [f.to_json() for f in self.errors],
            "warnings": [f.to_json() for f in self.warnings],
            "summary": summary,
        }
