"""`ledger manifest --format aep-pv CSV --name N --date D --tz Z [-o FILE]`: derive entry 0."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ledger.importers.manifest import election_from_pv, manifest_json

from ..output import emit_json, json_option


@click.command("manifest", short_help="Derive the election manifest from a PV file.")
@click.option("--format", "fmt", type=click.Choice(["aep-pv"]), required=True,
              help="The kind of file the manifest is derived from.")
@click.argument("csv_file", metavar="CSV")
@click.option("--name", required=True, help="The election's name.")
@click.option("--date", "date_", required=True, metavar="YYYY-MM-DD", help="Election day.")
@click.option("--tz", required=True, metavar="ZONE", help="IANA time zone, e.g. Europe/Bucharest.")
@click.option("-o", "--output", default=None, metavar="FILE",
              help="Write the manifest here instead of stdout.")
@json_option
def manifest_command(fmt: str, csv_file: str, name: str, date_: str, tz: str,
                     output: str | None, as_json: bool) -> None:
    """Derive the election manifest (the election record, as JSON) from a PV file.

    One category per report_type_category_code in CSV, its rule set from the AEP code and its
    competitors from the <NAME>-voturi columns. `ledger validate --manifest` reads it back.
    """
    election = election_from_pv(csv_file, name=name, date=date_, tz=tz)
    text = json.dumps(manifest_json(election), ensure_ascii=False, indent=1) + "\n"
    if output is None:
        click.echo(text, nl=False)
        return
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    Path(output).write_text(text, encoding="utf-8")
    if as_json:
        emit_json({"ok": True, "output": output, "categories": sorted(election.categories)})
    else:
        click.echo(f"wrote the manifest of {name!r} ({', '.join(election.categories)}) "
                   f"to {output}")
