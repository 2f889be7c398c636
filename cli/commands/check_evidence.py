"""`ledger check-evidence FILE --pub KEY`: does a split-view evidence file prove equivocation?"""

from __future__ import annotations

import click

from ledger.auditor.evidence import MAX_EVIDENCE_SIZE, check_evidence, parse_evidence
from ledger.errors import InputError, VerificationError, Where
from ledger.files import read_bounded, read_verifier_key

from ..output import emit_json, json_option


@click.command("check-evidence", short_help="Check split-view evidence offline.")
@click.argument("file", metavar="FILE")
@click.option("--pub", "pub", required=True, metavar="FILE",
              help="The log's verifier key (one line; its key name is the origin).")
@json_option
@click.pass_context
def check_evidence_command(ctx: click.Context, file: str, pub: str, as_json: bool) -> None:
    """Check, offline, that FILE proves the log signed two checkpoints that cannot both be honest.

    Exit 1 when it proves it, 0 when it proves nothing (and why), 2 when FILE is not an
    evidence file.
    """
    key = read_verifier_key(pub)
    try:
        evidence = parse_evidence(read_bounded(file, MAX_EVIDENCE_SIZE, "an evidence file"))
    except InputError as e:
        raise InputError(e.message, where=Where(file=file)) from e
    try:
        reason = check_evidence(evidence, key)
    except VerificationError as e:
        if as_json:
            emit_json({"ok": False, "proved": True, "category": e.category, "code": e.code,
                       "message": e.message})
        else:
            click.echo(f"PROVED: {e.message}")
        ctx.exit(1)
    if as_json:
        emit_json({"ok": True, "proved": False, "reason": reason})
    else:
        click.echo(f"proves nothing: {reason}")
