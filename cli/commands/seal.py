"""`ledger seal LEDGER --key KEY [--empty]`: a block entry and the signed checkpoint ending it."""

from __future__ import annotations

import click

from ledger.formats.times import iso_utc, local_time, parse_time
from ledger.publisher.ledger import Ledger

from ..output import emit_json, json_option, plural, signer_key


@click.command("seal", short_help="Seal a block and sign its checkpoint.")
@click.argument("ledger", metavar="LEDGER")
@click.option("--key", "key_file", required=True, metavar="KEY", help="The publisher's .key.")
@click.option("--empty", is_flag=True, help="Seal even when no entry came since the last block.")
@click.option("--time", "time_text", default=None, metavar="TIME",
              help="Block time (default: now), YYYY-MM-DD HH:MM[:SS] in the election's zone or "
                   "ISO 8601 with an offset; later than the last block's.")
@json_option
def seal_command(ledger: str, key_file: str, empty: bool, time_text: str | None,
                 as_json: bool) -> None:
    """Append a block entry chaining to the last one, then sign the checkpoint at the new size.

    Refuses to sign a checkpoint that is smaller than, or does not extend, the last one.
    """
    with Ledger.open(ledger, signer_key(key_file)) as lg:
        tz = lg.election().tz
        time_ms = None if time_text is None else parse_time(time_text, tz, what="block time")
        signed = lg.seal(time_ms, allow_empty=empty)
        height = lg.block_count - 1
        _index, block = lg.block(height)
    cp = signed.checkpoint
    if as_json:
        emit_json({"ok": True, "origin": cp.origin, "height": height, "tree_size": cp.size,
                   "root": cp.root.hex(), "time": iso_utc(block.time), "time_ms": block.time,
                   "count": block.count,
                   "checkpoint": signed.note_bytes.decode("utf-8")})
        return
    click.echo(f"sealed block {height} ({plural(block.count, 'entry', 'entries')}) at tree size "
               f"{cp.size:,}, {local_time(block.time, tz)}")
    click.echo(signed.note_bytes.decode("utf-8"), nl=False)
