"""election-ledger: an append-only, hash-chained Merkle-tree ledger of election results.

The public API, in one place (docs/api.md, "The public API"). A publisher opens a
:class:`Ledger`, registers stations, appends signed records and seals blocks, then
:func:`publish` writes the static tlog-tiles tree; an auditor runs :func:`verify` over any
:func:`open_source` and reads the :class:`AuditReport`; an observer checks a receipt with
:func:`check_receipt`. The names backed by the LMDB store (:class:`Ledger`, :func:`import_file`)
are loaded on first use (PEP 562), so ``import ledger`` and every
auditor's name work where lmdb is not installed. Everything else lives in the packages named
after the parts (``ledger.core``, ``formats``, ``check``, ``store``, ``sources``, ``publisher``,
``auditor``, ``importers``) and may change between releases.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ledger.auditor.national import verify_national
from ledger.auditor.national_proof import check_national, prove_national
from ledger.auditor.prove import prove_consistency, prove_station
from ledger.auditor.receipts import check_receipt, format_receipt, parse_receipt
from ledger.auditor.tally import Tally, TallyBuilder
from ledger.auditor.verify import verify
from ledger.check.findings import AuditReport, Finding
from ledger.errors import (
    InputError,
    LedgerError,
    SourceUnavailableError,
    StoreError,
    VerificationError,
)
from ledger.files import read_signer_key, read_verifier_key, write_key_files
from ledger.formats.records import (
    Ballot,
    Category,
    Election,
    Log,
    LogCheckpoint,
    Registered,
    Report,
    Station,
    Turnout,
    sign_record,
)
from ledger.importers.validation import validate_file
from ledger.publisher.publish import publish
from ledger.sources.open import open_source
from ledger.sources.source import Source

if TYPE_CHECKING:
    from ledger.publisher.ingest import import_file
    from ledger.publisher.ledger import Ledger

#: The store-backed names, by the module that defines them: imported when first asked for.
_LAZY = {
    "Ledger": "ledger.publisher.ledger",
    "import_file": "ledger.publisher.ingest",
}

__all__ = [
    "AuditReport",
    "Ballot",
    "Category",
    "Election",
    "Finding",
    "InputError",
    "Ledger",
    "LedgerError",
    "Log",
    "LogCheckpoint",
    "Registered",
    "Report",
    "Source",
    "SourceUnavailableError",
    "Station",
    "StoreError",
    "Tally",
    "TallyBuilder",
    "Turnout",
    "VerificationError",
    "check_national",
    "check_receipt",
    "format_receipt",
    "import_file",
    "open_source",
    "parse_receipt",
    "prove_consistency",
    "prove_national",
    "prove_station",
    "publish",
    "read_signer_key",
    "read_verifier_key",
    "sign_record",
    "validate_file",
    "verify",
    "verify_national",
    "write_key_files",
]


def __getattr__(name: str) -> Any:
    """Load a store-backed name on first use (PEP 562)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ledger' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
