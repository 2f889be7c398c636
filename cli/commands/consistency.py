"""`ledger consistency SOURCE --trusted CHECKPOINT --pub PUB`: does the log extend it?"""

from __future__ import annotations

import click

from ledger.auditor.prove import prove_consistency
from ledger.files import read_bounded, read_verifier_key
from ledger.formats.notes import MAX_NOTE_SIZE
from ledger.formats.text import encode_base64
from ledger.sources.open import open_source

from ..output import emit_json, json_option, plural


@click.command("consistency", short_help="Prove that a log extends a checkpoint.")
@click.argument("source", metavar="SOURCE")
@click.option("--trusted", "trusted", required=True, metavar="CHECKPOINT",
              help="The older signed checkpoint you hold: the log must extend it.")
@click.option("--pub", "pub", required=True, metavar="FILE",
              help="The publisher's verifier key (one line).")
@json_option
def consistency_command(source: str, trusted: str, pub: str, as_json: bool) -> None:
    """Prove from the tiles at SOURCE that its latest checkpoint extends the CHECKPOINT given.

    Exit 0 when it does, 1 when it does not (or is smaller: a rollback), 2 when a file cannot
    be read at all.
    """
    publisher = read_verifier_key(pub)
    old_note = read_bounded(trusted, MAX_NOTE_SIZE, "a checkpoint")
    with open_source(source) as log:
        result = prove_consistency(log, publisher, old_note)
    if as_json:
        emit_json({
            "ok": True,
            "origin": result.new.origin,
            "old": {"tree_size": result.old.size, "root": result.old.root.hex()},
            "new": {"tree_size": result.new.size, "root": result.new.root.hex()},
            "proof": [encode_base64(h) for h in result.proof],
        })
        return
    click.echo(f"OK: the log {result.new.origin} extends the old checkpoint")
    click.echo(f"  old: size {result.old.size}, root {result.old.root.hex()}")
    click.echo(f"  new: size {result.new.size}, root {result.new.root.hex()}")
    click.echo(f"  consistency proof ({plural(len(result.proof), 'hash', 'hashes')}):")
    for h in result.proof:
        click.echo(f"    {encode_base64(h)}")
