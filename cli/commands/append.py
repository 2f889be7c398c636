"""`ledger append LEDGER FILE...`: append signed entry files in one durable batch."""

from __future__ import annotations

import click

from ledger.check.findings import Finding
from ledger.files import read_entry_file
from ledger.publisher.ledger import Ledger

from ..output import describe, emit_json, exit_when_done, json_option

#: The code of a refusal that means "this very entry is in the ledger already".
DUPLICATE_ENTRY = "duplicate-entry"


@click.command("append", short_help="Append signed entry files.")
@click.argument("ledger", metavar="LEDGER")
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
@click.option("--strict", is_flag=True, help="Write nothing if any entry is refused.")
@json_option
@click.pass_context
def append_command(ctx: click.Context, ledger: str, files: tuple[str, ...], strict: bool,
                   as_json: bool) -> None:
    """Check each entry (signature, key, rules, duplicates) and append the valid ones.

    No key is needed: entries carry their signer's signature. An entry byte-identical to one
    already in the ledger is unchanged: skipped and counted. Exit 1 if any was refused.
    """
    datas = [read_entry_file(path) for path in files]
    with Ledger.open(ledger) as lg:
        result = lg.append(datas, stop_on_error=strict)
    unchanged = [files[r.position] for r in result.rejected
                 if r.error.code == DUPLICATE_ENTRY]
    refused = [Finding.from_error(r.error).located(file=files[r.position], index=None)
               for r in result.rejected if r.error.code != DUPLICATE_ENTRY]
    warnings = [w.located(file=files[a.position])
                for a in result.accepted for w in result.warnings if w.where.index == a.index]
    exit_when_done(ctx, not refused)
    if as_json:
        emit_json({
            "ok": not refused, "tree_size": result.size, "written": result.written,
            "appended": [{"file": files[a.position], "index": a.index, "kind": a.kind,
                          "station": a.station} for a in result.accepted],
            "unchanged": unchanged,
            "errors": [f.to_json() for f in refused],
            "warnings": [w.to_json() for w in warnings],
        })
    else:
        for a in result.accepted:
            click.echo(f"{files[a.position]}: entry {a.index} ({a.kind}"
                       f"{', station ' + a.station if a.station else ''})")
        for path in unchanged:
            click.echo(f"{path}: unchanged (already in the ledger)")
        for finding in refused:
            click.echo(f"refused {describe(finding)}")
        for finding in warnings:
            click.echo(f"warning {describe(finding)}")
        if not result.written:
            click.echo("nothing written (--strict)")
    if refused:
        ctx.exit(1)
