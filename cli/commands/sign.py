"""`ledger sign --key KEY --origin ORIGIN RECORD.json [-o FILE]`: a record as signed entry bytes."""

from __future__ import annotations

import sys

import click

from ledger.check.standalone import sign_checked
from ledger.core.hashing import leaf_hash
from ledger.errors import InputError, VerificationError, Where
from ledger.files import read_record_json, write_new_file
from ledger.formats.checkpoints import parse_origin

from ..output import emit_json, json_option, signer_key


@click.command("sign", short_help="Sign a record file into an entry file.")
@click.option("--key", "key_file", required=True, metavar="KEY",
              help="The signer's .key file (a station's, or the publisher's).")
@click.option("--origin", required=True, help="The origin of the log the entry is for.")
@click.argument("record_file", metavar="RECORD.json")
@click.option("-o", "--output", default=None, metavar="FILE",
              help="Write the entry bytes to FILE (default: stdout, never a terminal).")
@json_option
def sign_command(key_file: str, origin: str, record_file: str, output: str | None,
                 as_json: bool) -> None:
    """Sign the record in RECORD.json for the log ORIGIN: the entry bytes `ledger append` takes.

    The signature binds the origin, so the entry is refused by any other election's ledger.
    A record that `ledger append` would refuse whatever the log holds (a lone surrogate in a
    string, a station id with white space, an entry over 65,535 bytes, a publisher's record
    kind under a station key) is refused here first, and nothing is written.
    """
    parse_origin(origin)
    signer = signer_key(key_file)
    record = read_record_json(record_file)
    try:
        data = sign_checked(signer.signer, origin, record, publisher=signer.name == origin)
    except VerificationError as e:
        raise InputError(f"not a record append accepts: {e.message} [{e.code}]",
                         where=Where(file=record_file)) from e
    info = {"ok": True, "kind": record.KIND, "size": len(data),
            "key_id": signer.signer.key_id.hex(), "leaf_hash": leaf_hash(data).hex()}
    if output is not None:
        write_new_file(output, data)
        if as_json:
            emit_json({**info, "output": output})
        else:
            click.echo(f"wrote {len(data)}-byte {record.KIND} entry to {output}", err=True)
        return
    if as_json:
        emit_json({**info, "entry": data.hex()})
        return
    if sys.stdout.isatty():
        raise click.UsageError("entry bytes are binary: give -o FILE or redirect stdout")
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()
