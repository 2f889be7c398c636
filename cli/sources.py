"""SOURCE and `--source URL`: one log read from several places (docs/spec.md, "Several
sources"): each file from the first that answers, bad bytes from one a warning naming it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from ledger.auditor.compare import compare_sources
from ledger.check.findings import AuditReport, Finding
from ledger.errors import VerificationError, Where
from ledger.files import write_new_file
from ledger.formats.checkpoints import open_ledger_checkpoint
from ledger.formats.keys import VerifierKey
from ledger.sources.multi import FallbackSource
from ledger.sources.open import open_source
from ledger.sources.source import Source

from .trust import TrustFiles


def sources_option(f: Any) -> Any:
    """`--source URL`, repeatable: more places that serve the same log."""
    return click.option(
        "--source", "more_sources", multiple=True, metavar="URL",
        help="Another source of the same log (a mirror; repeat it): each file comes from the "
             "first source that answers with it.")(f)


def open_log(source: str | None, more: tuple[str, ...], files: TrustFiles) -> Source:
    """SOURCE and every `--source`, as one source (the first that answers serves)."""
    specs = ([source] if source else []) + list(more)
    if not specs:
        raise click.UsageError("give a SOURCE or --source URL")
    if len(specs) == 1:
        return open_source(specs[0])
    keys: list[VerifierKey] = [files.key] if files.key is not None else [
        log.key for log in (files.policy.logs if files.policy is not None else ())]
    return FallbackSource([open_source(s) for s in specs], accept=_verifies_with(keys))


def _verifies_with(keys: list[VerifierKey]) -> Callable[[bytes], str | None]:
    def accept(note: bytes) -> str | None:
        why = "no key to check it with"
        for key in keys:
            try:
                open_ledger_checkpoint(note, key)
            except VerificationError as e:
                why = e.message
                continue
            return None
        return why

    return accept


def refuse_split_sources(log: Source, key: VerifierKey, evidence_out: str | None) -> None:
    """With several sources, every checkpoint is compared first: two that cannot both be
    honest are written as split-view evidence, and the command fails (exit 1).

    Raises:
        VerificationError: category ``equivocation``, naming the two sources.
    """
    if not isinstance(log, FallbackSource):
        return
    split = compare_sources(log, key)
    if split is None:
        return
    path = evidence_out or split.name
    write_new_file(path, split.evidence)
    click.echo(f"split-view evidence written to {path}", err=True)
    raise VerificationError(f"two sources serve checkpoints that cannot both be honest: "
                            f"{split.message}", category="equivocation", code="split-view")


def source_warnings(log: Source, report: AuditReport | None = None) -> list[Finding]:
    """A warning (category ``source``) for each source that served bytes that were refused
    while another served the file; added to ``report`` when given."""
    if not isinstance(log, FallbackSource):
        return []
    found = [Finding(category="source", code="bad-bytes", message=f"{p.file}: {p.why}",
                     where=Where(file=p.file, source=p.source))
             for p in log.passed_over if p.kind == "bad"]
    if report is not None:
        for finding in found:
            report.warning(finding)
    return found


def note_passed_over(log: Source) -> None:
    """A note on stderr for each source that did not answer (the next one did)."""
    if not isinstance(log, FallbackSource):
        return
    for p in log.passed_over:
        if p.kind == "unavailable":
            click.echo(f"ledger: note: {p.source} did not answer for {p.file}; read from the "
                       "next source", err=True)
