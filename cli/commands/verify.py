"""`ledger verify SOURCE --pub FILE`: the auditor's full check of a log (docs/spec.md,
"Verification")."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from ledger.auditor.national import verify_national
from ledger.auditor.verify import Progress, verify
from ledger.check.findings import AuditReport, Finding
from ledger.files import read_bounded, write_atomic, write_new_file
from ledger.formats.notes import MAX_NOTE_SIZE

from ..app import exit_code_for_findings
from ..output import emit_json, exit_when_done, json_option, plural
from ..sources import (
    note_passed_over,
    open_log,
    refuse_split_sources,
    source_warnings,
    sources_option,
)
from ..trust import read_trust, trust_options


@click.command("verify", short_help="Audit a log: every check, with a report.")
@click.argument("source", metavar="[SOURCE]", required=False)
@sources_option
@trust_options
@click.option("--trusted", metavar="CHECKPOINT", default=None,
              help="A checkpoint you trust: the log must extend it (else a rollback error).")
@click.option("--state", metavar="FILE", default=None,
              help="Your state file: read only what is new when it matches --trusted (without "
                   "--trusted, the state's own checkpoint is trusted); rewritten after a run "
                   "without errors.")
@click.option("--evidence-out", "evidence_out", metavar="FILE", default=None,
              help="Where to write split-view evidence when the log and --trusted cannot both "
                   "be honest (default evidence-<origin hash>-<m>-<n>.txt here).")
@click.option("--save-checkpoint", "save_checkpoint", metavar="FILE", default=None,
              help="After a run without errors, write the exact checkpoint verified to FILE "
                   "(the --trusted of your next run).")
@click.option("--full", is_flag=True, help="Read the whole log even when --state matches.")
@click.option("--workers", type=click.IntRange(min=1), default=None, metavar="N",
              help="Processes checking signatures (default: every core).")
@click.option("--county-logs", "county_logs", metavar="PREFIX", default=None,
              help="SOURCE is a national log: audit every county log it registers too, read "
                   "at PREFIX/<id>/ (a directory or an http(s):// URL), side by side.")
@click.option("--county", metavar="ID", default=None,
              help="With --county-logs: audit only this county log (a county code).")
@click.option("-v", "--verbose", is_flag=True, help="List every warning, not only the counts.")
@json_option
@click.pass_context
def verify_command(ctx: click.Context, source: str | None, more_sources: tuple[str, ...],
                   pub: str | None, policy: str | None,
                   trusted: str | None, state: str | None, evidence_out: str | None,
                   save_checkpoint: str | None, full: bool, workers: int | None,
                   county_logs: str | None, county: str | None, verbose: bool,
                   as_json: bool) -> None:
    """Check every entry, signature, rule, block, checkpoint and tile of the log at SOURCE.

    SOURCE is a ledger directory, a published directory or an http(s):// URL; each --source
    is another place serving the same log (a mirror), read when the ones before it do not
    answer. Exit 0 when
    everything holds (warnings allowed), 1 when anything is wrong, 2 when SOURCE, the key or
    the checkpoint cannot be read at all, 3 when a ledger directory cannot be opened or the
    tables it keeps beside its entries differ from what the entries give. With
    --policy, the checkpoints must also be cosigned to the policy's quorum. With
    --county-logs, SOURCE is a national log and every county log it registers is audited
    too: each checkpoint it recorded must be a block checkpoint of that county log (with
    --state, each county log resumes from its own state file, FILE.<id>).
    """
    if county is not None and county_logs is None:
        raise click.UsageError("--county needs --county-logs")
    files = read_trust(pub, policy)
    trusted_note = None if trusted is None else read_bounded(trusted, MAX_NOTE_SIZE,
                                                             "a checkpoint")
    with open_log(source, more_sources, files) as log:
        trust = files.resolve(log.read_checkpoint)
        refuse_split_sources(log, trust.log_key, evidence_out)
        if county_logs is not None:
            report = verify_national(log, trust.log_key, county_logs, county=county,
                                     policy=trust.policy, workers=workers,
                                     trusted=trusted_note, state_path=state, full=full)
        else:
            with _progress_bar() as progress:
                report = verify(log, trust.log_key, trusted=trusted_note, state_path=state,
                                full=full, workers=workers, progress=progress,
                                policy=trust.policy)
        source_warnings(log, report)
        note_passed_over(log)
    code = exit_code_for_findings([f.category for f in report.errors])
    exit_when_done(ctx, report.ok, code)
    if save_checkpoint is not None and report.ok and report.checkpoint is not None:
        write_atomic(Path(save_checkpoint), report.checkpoint)
    if report.evidence is not None:
        path = evidence_out or report.evidence[0]
        write_new_file(path, report.evidence[1])
        click.echo(f"split-view evidence written to {path}", err=True)
    if as_json:
        emit_json(report.to_json())
    else:
        _print(report, log_name=source or ", ".join(more_sources), verbose=verbose)
    if code:
        ctx.exit(code)


@contextmanager
def _progress_bar() -> Iterator[Progress | None]:
    """A progress bar on stderr when it is a terminal; nothing otherwise."""
    if not sys.stderr.isatty():
        yield None
        return
    with click.progressbar(length=1, label="checking entries", file=sys.stderr) as bar:

        def update(done: int, total: int) -> None:
            bar.length = max(total, 1)
            bar.update(done - bar.pos)

        yield update


def _print(report: AuditReport, *, log_name: str, verbose: bool) -> None:
    verdict = "OK" if report.ok else "FAILED"
    size = "?" if report.tree_size is None else f"{report.tree_size:,}"
    click.echo(f"{verdict}: {log_name} ({report.origin}), tree size {size}")
    if report.root is not None:
        click.echo(f"  root {report.root.hex()}")
    rate = report.entries / report.seconds if report.seconds > 0 else 0.0
    kinds = ", ".join(f"{n:,} {kind}" for kind, n in sorted(report.records_by_kind.items()))
    click.echo(f"  {plural(report.entries, 'entry', 'entries')} ({kinds or 'none'}), "
               f"{plural(report.blocks, 'block')}, {plural(report.stations, 'station')}, "
               f"in {report.seconds:.2f} s ({rate:,.0f} records/s)")
    if report.unsealed:
        click.echo(f"  {plural(report.unsealed, 'unsealed entry', 'unsealed entries')} after "
                   "the latest checkpoint (checked)")
    for file, names in report.extra.get("cosigned_by", {}).items():
        click.echo(f"  {file} cosigned by {', '.join(names) or 'no listed witness'}")
    if "trusted_from_state" in report.extra:
        click.echo(f"  trusted the state file's own checkpoint (size "
                   f"{report.extra['trusted_from_state']:,}): the log must extend it")
    if "resumed_from" in report.extra:
        click.echo(f"  resumed from the state file at size {report.extra['resumed_from']:,}")
    for code, county in report.extra.get("county_logs", {}).items():
        click.echo(f"  county {code}: {_county_line(county)}")
    click.echo(f"  {plural(len(report.errors), 'error')}, "
               f"{plural(len(report.warnings), 'warning')}")
    if report.errors:
        click.echo("errors (in log order; the first is the root cause):")
        for finding in report.errors:
            click.echo(f"  [{finding.category}] {finding.describe()}")
    if report.warnings:
        click.echo("warnings by rule:")
        for code, n in report.warnings_by_rule().items():
            click.echo(f"  {code}  {n}")
        if verbose:
            for finding in report.warnings:
                click.echo(f"  {_warning(finding)}")


def _county_line(county: dict[str, object]) -> str:
    """One county log's verdict, as `ledger verify --county-logs` prints it."""
    if "unavailable" in county:
        return f"NOT AUDITED: {county['unavailable']}"
    verdict = "OK" if county["ok"] else "FAILED"
    resumed = (f" (resumed from size {county['resumed_from']})" if "resumed_from" in county
               else "")
    return (f"{verdict}, tree size {county['tree_size']}{resumed}, {county['entries']} entries, "
            f"{county['recorded']} checkpoints recorded, {county['errors']} errors, "
            f"{county['warnings']} warnings, {county['seconds']} s")


def _warning(finding: Finding) -> str:
    return finding.describe()
