"""`ledger keygen NAME [--key-name K] [--type T] [-o DIR]`: a new key pair, NAME.key and .pub."""

from __future__ import annotations

import click

from ledger.files import write_key_files
from ledger.formats.keys import SIG_COSIGNATURE_V1, SIG_ED25519, is_valid_key_name

from ..output import emit_json, json_option


@click.command("keygen", short_help="Make a key pair: NAME.key and NAME.pub.")
@click.argument("name", metavar="NAME")
@click.option("--key-name", default=None, metavar="K",
              help="The key's name in notes (default NAME); a publisher key's name is the origin.")
@click.option("-o", "--output", "out_dir", default=".", show_default=True, metavar="DIR",
              type=click.Path(file_okay=False),
              help="Write the two files into DIR (made, mode 0700, when missing).")
@click.option("--type", "key_type", type=click.Choice(["publisher", "witness", "mirror"]),
              default="publisher", show_default=True,
              help="publisher: an Ed25519 note key (0x01), for publishers and stations; "
                   "witness or mirror: a cosignature/v1 key (0x04).")
@json_option
def keygen_command(name: str, key_name: str | None, out_dir: str, key_type: str,
                   as_json: bool) -> None:
    """Write DIR/NAME.key (the secret key, mode 0600) and DIR/NAME.pub (its verifier key).

    Existing files are never overwritten.
    """
    if not name or "/" in name or name.startswith("."):
        raise click.UsageError(f"NAME {name!r} must be a plain file name (use --key-name for "
                               "an origin such as example.org/election)")
    note_name = key_name or name
    if not is_valid_key_name(note_name):
        raise click.UsageError(f"{note_name!r} is not a valid key name (no spaces, no '+')")
    sig_type = SIG_COSIGNATURE_V1 if key_type in ("witness", "mirror") else SIG_ED25519
    files = write_key_files(out_dir, name, note_name, sig_type=sig_type)
    vkey = str(files.signer.verifier_key)
    if as_json:
        emit_json({"ok": True, "name": note_name, "key_file": str(files.key_path),
                   "pub_file": str(files.pub_path), "vkey": vkey})
        return
    click.echo(f"wrote {files.key_path} (secret, mode 0600) and {files.pub_path}")
    click.echo(vkey)
