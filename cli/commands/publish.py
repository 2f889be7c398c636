"""`ledger publish LEDGER OUTDIR`: write the log as a static C2SP tlog-tiles tree."""

from __future__ import annotations

import click

from ledger.publisher.publish import publish

from ..output import emit_json, json_option, terminal_progress


@click.command("publish", short_help="Write the static tlog-tiles tree.")
@click.argument("ledger", metavar="LEDGER")
@click.argument("outdir", type=click.Path(file_okay=False, writable=True), metavar="OUTDIR")
@json_option
def publish_command(ledger: str, outdir: str, as_json: bool) -> None:
    """Publish LEDGER (a ledger directory, or any published tree or URL to mirror) into OUTDIR.

    Tiles, entry bundles and ledger.json are written first, the checkpoint last; files already
    in OUTDIR with the same bytes are left alone, so publishing again writes only what changed.
    """
    result = publish(ledger, outdir, progress=terminal_progress("publishing entries"))
    if as_json:
        emit_json({
            "ok": True,
            "origin": result.origin,
            "tree_size": result.tree_size,
            "outdir": str(result.outdir),
            "written": result.written,
            "skipped": result.skipped,
            "checkpoint_sizes": list(result.checkpoint_sizes),
            "paths_written": list(result.paths_written),
        })
        return
    click.echo(
        f"published {result.origin} at tree size {result.tree_size} to {result.outdir}: "
        f"{result.written} files written, {result.skipped} already up to date"
    )
