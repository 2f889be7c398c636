"""`ledger keygen NAME [--key-name K] [-o DIR]`: a new Ed25519 key pair as NAME.key and NAME.pub."""

from __future__ import annotations

import click

from ledger.files import write_key_files
from ledger.formats.keys import is_valid_key_name

from ..output import emit_json, json_option


@click.command("keygen", short_help="Make a key pair: NAME.key and NAME.pub.")
@click.argument("name", metavar="NAME")
@click.option("--key-name", default=None, metavar="K",
              help="The key's name in notes (default NAME); a publisher key's name is the origin.")
@click.option("-o", "--output", "out_dir", default=".", show_default=True, metavar="DIR",
              type=click.Path(file_okay=False),
              help="Write the two files into DIR (made, mode 0700, when missing).")
@json_option
def keygen_command(name: str, key_name: str | None, out_dir: str, as_json: bool) -> None:
    """Write DIR/NAME.key (the secret key, mode 0600) and DIR/NAME.pub (its verifier key).

    Existing files are never overwritten.
    """
    if not name or "/" in name or name.startswith("."):
        raise click.UsageError(f"NAME {name!r} must be a plain file name (use --key-name for "
                               "an origin such as example.org/election)")
    note_name = key_name or name
    if not is_valid_key_name(note_name):
        raise click.UsageError(f"{note_name!r} is not a valid key name (no spaces, no '+')")
    files = write_key_files(out_dir, name, note_name)
    vkey = str(files.signer.verifier_key)
    if as_json:
        emit_json({"ok": True, "name": note_name, "key_file": str(files.key_path),
                   "pub_file": str(files.pub_path), "vkey": vkey})
        return
    click.echo(f"wrote {files.key_path} (secret, mode 0600) and {files.pub_path}")
    click.echo(vkey)
