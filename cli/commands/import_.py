"""`ledger import LEDGER [--format aep-pv|aep-turnout|bec2019-pv] --key KEY CSV`: an AEP file as
one batch."""

from __future__ import annotations

from typing import Any

import click

from ledger.check.findings import AuditReport
from ledger.files import StationKeys
from ledger.importers import FORMATS
from ledger.publisher.ingest import ImportResult, detect_format, import_file
from ledger.publisher.ledger import Ledger

from ..output import describe, emit_json, exit_when_done, json_option, signer_key, terminal_progress

#: Refused rows printed in text mode (all of them are in --json).
SHOW_REFUSED = 20


def result_json(lg: Ledger, result: ImportResult, extra: dict[str, Any]) -> dict[str, Any]:
    """The report object of docs/spec.md, "Verification" for an import: refused rows are the
    errors."""
    report = AuditReport(origin=lg.origin, tree_size=result.size, root=lg.root(result.size),
                    errors=list(result.refused), warnings=list(result.warnings),
                    entries=result.appended)
    report.records_by_kind.update(extra.pop("records_by_kind", {}))
    report.extra.update({"file": result.file, "rows": result.rows, "written": result.written,
                         "station_signed": result.station_signed,
                         "publisher_signed": result.publisher_signed,
                         "rows_by_kind": {result.kind: rows_by_outcome(result)},
                         "corrections": result.corrections, **extra})
    return report.to_json()


def rows_by_outcome(result: ImportResult) -> dict[str, int]:
    """Written / unchanged / stale / refused rows of the file's kind."""
    return {"written": result.appended, "unchanged": result.unchanged, "stale": result.stale,
            "refused": len(result.refused)}


@click.command("import", short_help="Sign and append an AEP file in one batch.")
@click.argument("ledger", metavar="LEDGER")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=None,
              help="The kind of AEP file (default: from its header).")
@click.option("--key", "key_file", required=True, metavar="KEY",
              help="The publisher's .key file (signs reports that have no station key).")
@click.argument("csv_file", metavar="CSV")
@click.option("--station-keys", default=None, metavar="DIR",
              type=click.Path(file_okay=False),
              help="Stations with DIR/<station id>.key sign their own records.")
@click.option("--at", default=None, metavar="TIME",
              help="aep-turnout: the snapshot's time, YYYY-MM-DD HH:MM[:SS] local or with an "
                   "offset (default: the YYYY-MM-DD_HH-MM in the file name); bec2019-pv "
                   "(required): the reports' time.")
@click.option("--legend", default=None, metavar="FILE",
              help="bec2019-pv (required): the Legenda.txt naming the g<N>/e<N> columns.")
@click.option("--category", default=None, metavar="CODE",
              help="bec2019-pv: the AEP category code (default: from the file name, "
                   "pv_PRSD-C_... -> PRSD_C).")
@click.option("--strict", is_flag=True, help="Write nothing if any row is refused.")
@click.option("--corrections", default=None, metavar="REASON",
              help="aep-turnout: write a publisher-signed correction, with this reason, for "
                   "each station whose counters went down or were left out since its latest "
                   "turnout (without it such rows are refused).")
@json_option
@click.pass_context
def import_command(ctx: click.Context, ledger: str, fmt: str | None, key_file: str,
                   csv_file: str, station_keys: str | None, at: str | None,
                   legend: str | None, category: str | None, strict: bool,
                   corrections: str | None, as_json: bool) -> None:
    """Sign and append every changed row of CSV in one durable batch.

    A file imported again appends only what changed: rows equal to the station's latest record
    are unchanged, report rows older than it are stale (a warning); both are skipped. A
    malformed file is refused whole (exit 2). Rows that break a hard rule or name an
    unregistered station are refused (exit 1); the other rows are written unless --strict.
    Rows without a station key are signed by the publisher. A BEC 2019 file needs --legend
    and --at; a row repeating a station of the same file is refused (exit 1).
    """
    fmt = fmt or detect_format(csv_file)
    signer = signer_key(key_file)
    keys = StationKeys(station_keys) if station_keys is not None else None
    with Ledger.open(ledger, signer) as lg:
        result = import_file(lg, csv_file, fmt=fmt, station_keys=keys, at=at,
                             strict=strict, corrections=corrections,
                             legend=legend, category=category,
                             progress=terminal_progress("checking rows"))
        exit_when_done(ctx, not result.refused)
        if as_json:
            kind = result.kind
            emit_json(result_json(lg, result, {"records_by_kind": {kind: result.appended}}))
        else:
            _print(result)
    if result.refused:
        ctx.exit(1)


def _print(result: ImportResult) -> None:
    state = "written" if result.written else "NOTHING written (--strict)"
    corrections = f", {result.corrections:,} corrections" if result.corrections else ""
    click.echo(
        f"{result.file}: {result.rows:,} {result.kind} rows: {result.appended:,} {state} "
        f"({result.station_signed:,} station-signed, {result.publisher_signed:,} "
        f"publisher-signed{corrections}), {result.unchanged:,} unchanged, {result.stale:,} "
        f"stale, {len(result.refused):,} refused; {len(result.warnings):,} warnings; "
        f"tree size {result.size:,}"
    )
    for finding in result.refused[:SHOW_REFUSED]:
        click.echo(f"  refused {describe(finding)}")
    if len(result.refused) > SHOW_REFUSED:
        click.echo(f"  ... and {len(result.refused) - SHOW_REFUSED:,} more (see --json)")
