"""`ledger validate [--format aep-pv|aep-turnout|bec2019-pv] FILE`: an AEP file through importer
and rules."""

from __future__ import annotations

import click

from ledger.check.findings import AuditReport, Finding
from ledger.importers import FORMATS
from ledger.importers.validation import validate_file
from ledger.publisher.ingest import detect_format

from ..output import emit_json, exit_when_done, json_option

DEFAULT_TZ = "Europe/Bucharest"


@click.command("validate", short_help="Check a CSV against the election rules.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=None,
              help="The kind of AEP file (default: from its header).")
@click.argument("file", metavar="FILE")
@click.option("--tz", default=None, metavar="ZONE",
              help=f"IANA time zone of the file's local times (default {DEFAULT_TZ}, or the "
                   "manifest's).")
@click.option("--at", default=None, metavar="TIME",
              help="aep-turnout: the snapshot's time, YYYY-MM-DD HH:MM[:SS] local or with an "
                   "offset (default: the YYYY-MM-DD_HH-MM in the file name); bec2019-pv "
                   "(required): the reports' time.")
@click.option("--manifest", default=None, metavar="JSON",
              help="aep-pv, bec2019-pv: check categories and competitors against this "
                   "manifest.")
@click.option("--legend", default=None, metavar="FILE",
              help="bec2019-pv (required): the Legenda.txt naming the g<N>/e<N> columns.")
@click.option("--category", default=None, metavar="CODE",
              help="bec2019-pv: the AEP category code (default: from the file name, "
                   "pv_PRSD-C_... -> PRSD_C).")
@click.option("--age-detail", is_flag=True,
              help="aep-turnout: keep the one-year age columns as buckets too.")
@click.option("-v", "--verbose", is_flag=True, help="List every warning, not only the counts.")
@json_option
@click.pass_context
def validate_command(ctx: click.Context, fmt: str | None, file: str, tz: str | None,
                     at: str | None, manifest: str | None, legend: str | None,
                     category: str | None, age_detail: bool, verbose: bool,
                     as_json: bool) -> None:
    """Check FILE with the importer and the election rules, without any ledger.

    Exit 0 when no hard rule fails (warnings allowed), 1 when one does, 2 when FILE cannot be
    read as that format (the message names the line and column).
    """
    if manifest is not None and tz is not None:
        raise click.UsageError("--tz comes from the manifest; give one or the other")
    fmt = fmt or detect_format(file)
    report = validate_file(file, fmt=fmt, tz=tz or DEFAULT_TZ, at=at, manifest=manifest,
                           age_detail=age_detail, legend=legend, category=category)
    exit_when_done(ctx, report.ok)
    if as_json:
        emit_json(report.to_json())
    else:
        _print(report, fmt=fmt, file=file, verbose=verbose)
    if report.errors:
        ctx.exit(1)


def _print(report: AuditReport, *, fmt: str, file: str, verbose: bool) -> None:
    click.echo(
        f"{file} ({fmt}): {report.entries} rows, {report.stations} stations, "
        f"{len(report.errors)} errors, {len(report.warnings)} warnings "
        f"in {report.seconds:.2f} s"
    )
    _by_rule("errors", report.errors)
    _by_rule("warnings", report.warnings)
    if report.errors:
        click.echo("errors:")
        for finding in report.errors:
            click.echo(f"  {_describe(finding)}")
    if verbose and report.warnings:
        click.echo("warnings:")
        for finding in report.warnings:
            click.echo(f"  {_describe(finding)}")


def _describe(finding: Finding) -> str:
    # The message already names the station; lead with the CSV line it came from.
    w = finding.where
    where = f"{w.file}:{w.line}" if w.line is not None else w.file
    return f"{where}: {finding.message} [{finding.code}]"


def _by_rule(title: str, findings: list[Finding]) -> None:
    counts: dict[str, int] = {}
    for f in findings:
        counts[f.code] = counts.get(f.code, 0) + 1
    if counts:
        click.echo(f"{title} by rule:")
        width = max(len(code) for code in counts)
        for code, n in sorted(counts.items()):
            click.echo(f"  {code:<{width}}  {n}")
