"""`ledger consistency SOURCE --trusted CHECKPOINT --pub PUB`: does the log extend it?"""

from __future__ import annotations

import click

from ledger.auditor.prove import SplitViewError, prove_consistency
from ledger.files import read_bounded, write_new_file
from ledger.formats.notes import MAX_NOTE_SIZE
from ledger.formats.text import encode_base64

from ..output import emit_json, json_option, plural
from ..sources import open_log, sources_option
from ..trust import read_trust, trust_options


@click.command("consistency", short_help="Prove that a log extends a checkpoint.")
@click.argument("source", metavar="[SOURCE]", required=False)
@sources_option
@click.option("--trusted", "trusted", required=True, metavar="CHECKPOINT",
              help="The older signed checkpoint you hold: the log must extend it.")
@trust_options
@click.option("--evidence-out", "evidence_out", metavar="FILE", default=None,
              help="Where to write split-view evidence when the two checkpoints cannot both be "
                   "honest (default evidence-<origin hash>-<m>-<n>.txt here).")
@json_option
def consistency_command(source: str | None, more_sources: tuple[str, ...], trusted: str,
                        pub: str | None, policy: str | None, evidence_out: str | None,
                        as_json: bool) -> None:
    """Prove from the tiles at SOURCE that its latest checkpoint extends the CHECKPOINT given.

    Exit 0 when it does, 1 when it does not (or is smaller: a rollback), 2 when a file cannot
    be read at all. With --policy, both checkpoints must be cosigned to its quorum.
    """
    files = read_trust(pub, policy)
    old_note = read_bounded(trusted, MAX_NOTE_SIZE, "a checkpoint")
    with open_log(source, more_sources, files) as log:
        trust = files.resolve(lambda: old_note)
        try:
            result = prove_consistency(log, trust.log_key, old_note, policy=trust.policy)
        except SplitViewError as e:
            path = evidence_out or e.name
            write_new_file(path, e.evidence)
            click.echo(f"split-view evidence written to {path}", err=True)
            raise
    if as_json:
        emit_json({
            "ok": True,
            "origin": result.new.origin,
            "old": {"tree_size": result.old.size, "root": result.old.root.hex()},
            "new": {"tree_size": result.new.size, "root": result.new.root.hex()},
            "proof": [encode_base64(h) for h in result.proof],
            "cosigned_by": None if result.cosigned_by is None else list(result.cosigned_by),
        })
        return
    click.echo(f"OK: the log {result.new.origin} extends the old checkpoint")
    click.echo(f"  old: size {result.old.size}, root {result.old.root.hex()}")
    click.echo(f"  new: size {result.new.size}, root {result.new.root.hex()}")
    if result.cosigned_by is not None:
        click.echo(f"  new checkpoint cosigned by {', '.join(result.cosigned_by) or 'none'}")
    click.echo(f"  consistency proof ({plural(len(result.proof), 'hash', 'hashes')}):")
    for h in result.proof:
        click.echo(f"    {encode_base64(h)}")
