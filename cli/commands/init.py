"""`ledger init LEDGER --origin ORIGIN --key KEY --election MANIFEST.json`: a new ledger."""

from __future__ import annotations

import click

from ledger.importers.manifest import check_ballots, read_manifest
from ledger.publisher.ledger import Ledger

from ..output import emit_json, json_option, signer_key


@click.command("init", short_help="Create a ledger; entry 0 is the election.")
@click.argument("ledger", metavar="LEDGER")
@click.option("--origin", required=True, help="The log's origin: <host>/<election id>.")
@click.option("--key", "key_file", required=True, metavar="KEY",
              help="The publisher's .key file; its key name must be the origin.")
@click.option("--election", "manifest", required=True, metavar="MANIFEST.json",
              help="The manifest: the election record and its ballots (see `ledger manifest`).")
@json_option
def init_command(ledger: str, origin: str, key_file: str, manifest: str, as_json: bool) -> None:
    """Create the ledger directory LEDGER; its entry 0 is the election, signed by KEY, then
    the manifest's ballots (one per constituency of each scoped category)."""
    signer = signer_key(key_file)
    read = read_manifest(manifest)
    check_ballots(read, file=manifest)
    with Ledger.create(ledger, origin, signer, read.election) as lg:
        if read.ballots:  # checked above, so each is accepted: one durable batch
            added = lg.append([lg.sign(ballot) for ballot in read.ballots], stop_on_error=True)
            if added.rejected:
                raise added.rejected[0].error
        if as_json:
            emit_json({"ok": True, "ledger": ledger, "origin": lg.origin,
                       "vkey": str(lg.verifier_key), "tree_size": lg.size,
                       "ballots": len(read.ballots)})
            return
        click.echo(f"created ledger {ledger} for {lg.origin}: entry 0 is "
                   f"{read.election.name!r}" + (f", then {len(read.ballots):,} ballots"
                                                if read.ballots else ""))
        click.echo(f"publisher verifier key: {lg.verifier_key}")
