"""`ledger ballot add LEDGER --key KEY --category C --constituency X --competitor NAME...`."""

from __future__ import annotations

import click

from ledger.errors import InputError, MalformedError
from ledger.formats.records import Ballot
from ledger.publisher.ledger import Ledger

from ..output import emit_json, json_option, signer_key


@click.group("ballot", short_help="Add the ballot of one constituency.")
def ballot_group() -> None:
    """Ballots of scoped categories: one per (category, constituency)."""


@ballot_group.command("add", short_help="Sign and append one ballot.")
@click.argument("ledger", metavar="LEDGER")
@click.option("--key", "key_file", required=True, metavar="KEY", help="The publisher's .key file.")
@click.option("--category", required=True, metavar="CODE",
              help="A category of the election record whose scope is set (S, CD, P, CL...).")
@click.option("--constituency", required=True, metavar="ID",
              help="The county code (scope county) or the decimal siruta (scope uat).")
@click.option("--competitor", "competitors", required=True, multiple=True, metavar="NAME",
              help="A competitor, in ballot order (give the option once per competitor).")
@json_option
def ballot_add_command(ledger: str, key_file: str, category: str, constituency: str,
                       competitors: tuple[str, ...], as_json: bool) -> None:
    """Sign the ballot of one constituency with the publisher key and append it (durable).

    A ballot the rules refuse (an unknown or national category, a constituency that is not a
    county code or a siruta, a second ballot for one constituency) is refused: exit 1.
    """
    try:
        ballot = Ballot(category=category, constituency=constituency, competitors=competitors)
    except MalformedError as e:
        raise InputError(e.message) from e
    with Ledger.open(ledger, signer_key(key_file)) as lg:
        index = lg.add_ballot(ballot)
        if as_json:
            emit_json({"ok": True, "index": index, "tree_size": lg.size})
        else:
            click.echo(f"ballot of {category} for {constituency} ({len(competitors)} "
                       f"competitors) is entry {index}; tree size {lg.size:,}")
