"""The one exception hierarchy of election-ledger, split by whose fault a failure is.

``VerificationError``: do not trust this input (exit 1). ``InputError``: the input is not that
kind of file at all, cannot be opened, or asks for something that does not apply (exit 2).
``StoreError``: our own storage (exit 3). ``SourceUnavailableError``: a source that could not be
read at all, after bounded retries (exit 4). Caller mistakes (wrong types, out-of-range arguments
to pure functions) are ``ValueError`` or ``TypeError``: from the command line, they are bugs.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The finding categories of docs/spec.md ("Findings and the report"), as the JSON report says them.
CATEGORIES = (
    "signature",
    "keys",
    "origin",
    "encoding",
    "chain",
    "checkpoint",
    "tiles",
    "rules",
    "consistency",
    "rollback",
    "witness",
    "equivocation",
    "log",
    "store",
    "source",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Where:
    """Where a failure was found; every field is optional."""

    index: int | None = None
    block: int | None = None
    station: str | None = None
    kind: str | None = None
    file: str | None = None
    line: int | None = None
    column: str | None = None
    log: str | None = None
    source: str | None = None

    def describe(self) -> str:
        """The location in words: file:line, column, entry, block, station (what is known)."""
        parts = []
        if self.file is not None:
            parts.append(self.file + (f":{self.line}" if self.line is not None else ""))
        elif self.line is not None:
            parts.append(f"line {self.line}")
        if self.column is not None:
            parts.append(f"column {self.column}")
        if self.index is not None:
            parts.append(f"entry {self.index}")
        if self.block is not None:
            parts.append(f"block {self.block}")
        if self.station is not None:
            parts.append(f"station {self.station}")
        if self.log is not None:
            parts.append(f"log {self.log}")
        if self.source is not None:
            parts.append(f"from {self.source}")
        return ", ".join(parts)

    def prefix(self, message: str) -> str:
        """``message`` led by the location, when there is one."""
        where = self.describe()
        return f"{where}: {message}" if where else message


class LedgerError(Exception):
    """Root of every error election-ledger raises on purpose."""


class VerificationError(LedgerError):
    """Untrusted input failed a check; carries what failed, where and why.

    ``category`` is one of :data:`CATEGORIES`; ``code`` is a stable machine-readable name.
    """

    default_category = "encoding"
    default_code = "invalid"

    def __init__(
        self,
        message: str,
        *,
        category: str | None = None,
        code: str | None = None,
        where: Where | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.category = category or self.default_category
        self.code = code or self.default_code
        self.where = where or Where()
        if self.category not in CATEGORIES:
            raise ValueError(f"unknown finding category {self.category!r}")

    def at(self, **where: object) -> VerificationError:
        """Return the same error with more location fields filled in (existing ones win)."""
        merged = {k: getattr(self.where, k) for k in Where.__slots__}
        for k, v in where.items():
            if merged.get(k) is None:
                merged[k] = v
        clone = type(self).__new__(type(self))
        VerificationError.__init__(
            clone, self.message, category=self.category, code=self.code, where=Where(**merged)
        )
        clone.__cause__ = self.__cause__
        return clone

    def __str__(self) -> str:
        return self.where.prefix(self.message)


class MalformedError(VerificationError):
    """Bytes that do not decode as the exact format (non-canonical, truncated, over a limit)."""

    default_category = "encoding"
    default_code = "malformed"


class SignatureError(VerificationError):
    """A signature that does not verify, or a signer that is not allowed to sign this."""

    default_category = "signature"
    default_code = "bad-signature"


class ProofError(VerificationError):
    """An inclusion or consistency proof of the wrong shape or that does not verify."""

    default_category = "consistency"
    default_code = "bad-proof"


class RootMismatchError(ProofError):
    """A root recomputed from a proof or from entries differs from the one given."""

    default_category = "checkpoint"
    default_code = "root-mismatch"


class ConsistencyError(ProofError):
    """A newer tree does not extend an older one."""

    default_category = "consistency"
    default_code = "inconsistent"


class ChainError(VerificationError):
    """A block entry that does not chain to the block before it."""

    default_category = "chain"
    default_code = "chain-broken"


class RollbackError(VerificationError):
    """A checkpoint smaller than one already trusted."""

    default_category = "rollback"
    default_code = "rollback"


class RuleError(VerificationError):
    """A hard election rule (docs/records.md) is broken."""

    default_category = "rules"
    default_code = "rule"


class LocatedError(LedgerError):
    """An error about an input, not a finding in it: a message and where (file, line...)."""

    def __init__(self, message: str, *, where: Where | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.where = where or Where()

    def __str__(self) -> str:
        return self.where.prefix(self.message)


class InputError(LocatedError):
    """A file or source that cannot be opened or is not that kind of file at all, or a request
    that does not apply to it (exit 2).

    A CSV with a malformed row, field or number is refused whole with this error, naming the
    line and column.
    """


class StoreError(LedgerError):
    """Our own storage failed: cannot open, corrupt, disk full (exit 3)."""


class StoreLockedError(StoreError):
    """Another process holds the ledger's write lock."""


class StoreCorruptError(StoreError):
    """LMDB reports corruption, or stored bytes do not match what was committed."""


class SourceUnavailableError(LocatedError):
    """A source that could not be read: connection failures, time-outs, HTTP 429 and 5xx after
    bounded retries (exit 4). Not a finding about the log: nothing it served was wrong."""
