"""`ledger status LEDGER`: what a ledger holds, read-only (works while a writer appends)."""

from __future__ import annotations

from typing import Any

import click

from ledger.formats.times import iso_utc, local_time
from ledger.publisher.ledger import Ledger

from ..output import emit_json, json_option


@click.command("status", short_help="Show a ledger's size, root and blocks.")
@click.argument("ledger", metavar="LEDGER")
@json_option
def status_command(ledger: str, as_json: bool) -> None:
    """Origin, publisher key, tree size and root, blocks, the latest checkpoint, the unsealed
    tail and the registered stations; the latest checkpoint is re-verified on open."""
    with Ledger.open(ledger, write=False) as lg:
        status = _status(lg)
    if as_json:
        emit_json({"ok": True, **status})
        return
    click.echo(f"ledger {ledger}: {status['origin']}")
    click.echo(f"  publisher key  {status['vkey']}")
    click.echo(f"  tree size      {status['tree_size']:,}  root {status['root']}")
    click.echo(f"  blocks         {status['blocks']:,}")
    latest = status["latest_checkpoint"]
    if latest is None:
        click.echo("  checkpoint     none yet (seal a block)")
    else:
        click.echo(f"  checkpoint     size {latest['tree_size']:,} at block {latest['height']}, "
                   f"block time {local_time(latest['time_ms'], status['tz'])}")
    click.echo(f"  unsealed       {status['unsealed']:,} entries")
    click.echo(f"  stations       {status['stations']:,} registered")
    click.echo(f"  on disk        {status['disk_bytes']:,} bytes")


def _status(lg: Ledger) -> dict[str, Any]:
    size = lg.size
    latest: dict[str, Any] | None = None
    sealed = 0
    if lg.block_count:
        height = lg.block_count - 1
        index, block = lg.block(height)
        cp = lg.checkpoint(height).checkpoint
        sealed = index + 1
        latest = {"height": height, "tree_size": cp.size, "root": cp.root.hex(),
                  "time": iso_utc(block.time), "time_ms": block.time}
    return {
        "origin": lg.origin, "vkey": str(lg.verifier_key), "tz": lg.election().tz,
        "tree_size": size,
        "root": lg.root(size).hex(), "blocks": lg.block_count, "latest_checkpoint": latest,
        "unsealed": size - sealed, "stations": lg.checker.registry.stations,
        "disk_bytes": lg.store.disk_usage(),
    }
