"""`ledger seal LEDGER --key KEY [--empty]`: a block entry and the signed checkpoint ending it."""

from __future__ import annotations

import click

from ledger.files import read_signer_key
from ledger.publisher.ledger import Ledger

from ..output import emit_json, json_option


@click.command("seal", short_help="Seal a block and sign its checkpoint.")
@click.argument("ledger", metavar="LEDGER")
@click.option("--key", "key_file", required=True, metavar="KEY", help="The publisher's .key.")
@click.option("--empty", is_flag=True, help="Seal even when no entry came since the last block.")
@click.option("--time", "time_ms", type=click.IntRange(min=0), default=None, metavar="MS",
              help="Block time in ms since the epoch (default: now); must be later than the "
                   "last block's.")
@json_option
def seal_command(ledger: str, key_file: str, empty: bool, time_ms: int | None,
                 as_json: bool) -> None:
    """Append a block entry chaining to the last one, then sign the checkpoint at the new size.

    Refuses to sign a checkpoint that is smaller than, or does not extend, the last one.
    """
    with Ledger.open(ledger, read_signer_key(key_file)) as lg:
        signed = lg.seal(time_ms, allow_empty=empty)
        height = lg.block_count - 1
        _index, block = lg.block(height)
    cp = signed.checkpoint
    if as_json:
        emit_json({"ok": True, "origin": cp.origin, "height": height, "tree_size": cp.size,
                   "root": cp.root.hex(), "time": block.time, "count": block.count,
                   "checkpoint": signed.note_bytes.decode("utf-8")})
        return
    click.echo(f"sealed block {height} ({block.count} entries) at tree size {cp.size}")
    click.echo(signed.note_bytes.decode("utf-8"), nl=False)
