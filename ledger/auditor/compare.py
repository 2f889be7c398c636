"""Several sources of one log compared (docs/spec.md, "Several sources"): every source's
checkpoint read, the largest audited, each other one proved consistent with it."""

from __future__ import annotations

from ledger.auditor.evidence import SplitView
from ledger.auditor.prove import SplitViewError, prove_consistency
from ledger.errors import InputError, SourceUnavailableError, VerificationError
from ledger.formats.checkpoints import Checkpoint, open_ledger_checkpoint
from ledger.formats.keys import VerifierKey
from ledger.sources.multi import FallbackSource


def compare_sources(log: FallbackSource, publisher: VerifierKey) -> SplitView | None:
    """Read the checkpoint of every source of ``log``, make the largest the one ``log`` is
    read at, and prove from the tiles that every other checkpoint is a prefix of it.

    Sources that do not answer, or whose checkpoint does not verify, are left out (reading
    ``log`` reports what the first of them does). Returns the split-view evidence of the first
    pair that cannot both be honest, or None.
    """
    found: list[tuple[int, bytes, Checkpoint]] = []
    for index, source in enumerate(log.sources):
        try:
            note = source.read_checkpoint()
            found.append((index, note, open_ledger_checkpoint(note, publisher).checkpoint))
        except (SourceUnavailableError, InputError, VerificationError):
            continue
    if not found:
        return None
    index, note, largest = max(found, key=lambda item: item[2].size)
    log.pin(note, index)
    for _, other_note, other in found:
        if (other.size, other.root) == (largest.size, largest.root):
            continue
        try:
            prove_consistency(log, publisher, other_note)
        except SplitViewError as e:
            return SplitView(evidence=e.evidence, name=e.name, message=e.message)
        except (VerificationError, SourceUnavailableError):
            continue  # not proved either way: the audit of the largest says what is wrong
    return None
