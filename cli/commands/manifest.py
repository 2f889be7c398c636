"""`ledger manifest --format aep-pv CSV... --name N --date D --tz Z [-o FILE]`: the election record
and its ballots."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ledger.importers import PV_FORMATS
from ledger.importers.manifest import manifest_from_pv, manifest_json
from ledger.importers.pv_forms import PvOptions

from ..output import emit_json, json_option


@click.command("manifest", short_help="Derive the election manifest from PV files.")
@click.option("--format", "fmt", type=click.Choice(PV_FORMATS), required=True,
              help="The kind of file the manifest is derived from.")
@click.argument("csv_files", metavar="CSV...", nargs=-1, required=True)
@click.option("--name", required=True, help="The election's name.")
@click.option("--date", "date_", required=True, metavar="YYYY-MM-DD", help="Election day.")
@click.option("--tz", required=True, metavar="ZONE", help="IANA time zone, e.g. Europe/Bucharest.")
@click.option("--legend", default=None, metavar="FILE",
              help="bec2019-pv (required): the Legenda.txt naming the g<N>/e<N> columns.")
@click.option("--category", default=None, metavar="CODE",
              help="bec2019-pv: the AEP category code (default: from each file name, "
                   "pv_PRSD-C_... -> PRSD_C).")
@click.option("-o", "--output", default=None, metavar="FILE",
              help="Write the manifest here instead of stdout.")
@json_option
def manifest_command(fmt: str, csv_files: tuple[str, ...], name: str, date_: str, tz: str,
                     legend: str | None, category: str | None, output: str | None,
                     as_json: bool) -> None:
    """Derive the election manifest from PV files: {"election": ..., "ballots": [...]}.

    One category per report_type_category_code, its rule set from the AEP code. A national
    category's competitors are the <NAME>-voturi columns; a scoped one (S, CD, CJ, PCJ,
    CGMB_BEC, PG_BEC by county; P, CL by uat) gets one ballot per constituency, the
    competitors whose vote cell is not empty (rows of one constituency that disagree refuse
    the file, naming both lines). `ledger init` and `ledger validate --manifest` read it.
    The BEC 2019 form (bec2019-pv) names its competitors in --legend.
    """
    manifest = manifest_from_pv(csv_files, name=name, date=date_, tz=tz, fmt=fmt,
                                options=PvOptions(legend=legend, category=category))
    text = json.dumps(manifest_json(manifest.election, manifest.ballots), ensure_ascii=False,
                      indent=1) + "\n"
    if output is None:
        click.echo(text, nl=False)
        return
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    Path(output).write_text(text, encoding="utf-8")
    categories = sorted(manifest.election.categories)
    if as_json:
        emit_json({"ok": True, "output": output, "categories": categories,
                   "ballots": len(manifest.ballots)})
    else:
        click.echo(f"wrote the manifest of {name!r} ({', '.join(categories)}; "
                   f"{len(manifest.ballots):,} ballots) to {output}")
