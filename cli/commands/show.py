"""`ledger show LEDGER INDEX|--station ID`: entries with their records, as text or JSON."""

from __future__ import annotations

from typing import Any

import click

from ledger.core.hashing import leaf_hash
from ledger.formats.records import (
    KINDS,
    Election,
    Record,
    Report,
    decode_entry_record,
    record_to_json,
)
from ledger.formats.times import iso_utc
from ledger.publisher.ledger import Ledger

from ..output import emit_json, json_option, record_lines


@click.command("show", short_help="Show an entry, or a station's entries.")
@click.argument("ledger", metavar="LEDGER")
@click.argument("index", type=click.IntRange(min=0), required=False, metavar="INDEX")
@click.option("--station", default=None, metavar="ID", help="Every entry about station ID.")
@click.option("--kind", type=click.Choice(sorted(KINDS)), default=None,
              help="With --station: only this record kind.")
@click.option("--category", default=None, help="With --station --kind report: one category.")
@json_option
def show_command(ledger: str, index: int | None, station: str | None, kind: str | None,
                 category: str | None, as_json: bool) -> None:
    """Show entry INDEX, or every entry about a station (its registrations, revokes, turnout
    and reports), with signer, leaf hash and the block that seals it."""
    if (index is None) == (station is None):
        raise click.UsageError("give INDEX or --station ID")
    if station is None and (kind or category):
        raise click.UsageError("--kind and --category go with --station")
    with Ledger.open(ledger, write=False) as lg:
        if station is not None:
            indices = lg.lookup(station, kind, category)
        else:
            if index is None or index >= lg.size:
                raise click.UsageError(f"no entry {index}: the ledger holds {lg.size}")
            indices = [index]
        blocks = [i for _, i in lg.store.iter_blocks()]
        shown = [_entry(lg, i, blocks) for i in indices]
        election = lg.election()
        readable = [record_lines(lg.record(i), tz=election.tz,
                                 rules=_rules_of(election, lg.record(i))) for i in indices]
    if as_json:
        emit_json({"ok": True, "entries": shown})
        return
    if not shown:
        click.echo(f"no entries about station {station}")
    for item, lines in zip(shown, readable, strict=True):
        sealed = "unsealed" if item["block"] is None else f"block {item['block']}"
        click.echo(f"entry {item['index']} ({item['kind']}, signed by {item['signer']}, "
                   f"{sealed}), leaf hash {item['leaf_hash']}")
        for line in lines:
            click.echo(f"  {line}")


def _rules_of(election: Election, record: Record) -> str | None:
    """The rule set of a report's category, from the election record."""
    if not isinstance(record, Report):
        return None
    category = election.categories.get(record.category)
    return None if category is None else category.rules


def _entry(lg: Ledger, index: int, blocks: list[int]) -> dict[str, Any]:
    data = lg.entry(index)
    entry, record = decode_entry_record(data)
    if entry.key == lg.checker.registry.publisher_key_id:
        signer = "publisher"
    else:
        owner = lg.checker.registry.signer_for(entry.key)
        signer = f"station {owner.station}" if owner else "unknown key"
    block = next((height for height, at in enumerate(blocks) if at >= index), None)
    at = getattr(record, "at", None)
    return {"index": index, "kind": record.KIND, "signer": signer, "key_id": entry.key.hex(),
            "leaf_hash": leaf_hash(data).hex(), "block": block, "record": record_to_json(record),
            "at_utc": None if at is None else iso_utc(at)}
