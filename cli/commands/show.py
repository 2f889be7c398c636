"""`ledger show LEDGER INDEX|--station ID`: entries with their records, as text or JSON."""

from __future__ import annotations

import json
from typing import Any

import click

from ledger.core.hashing import leaf_hash
from ledger.formats.records import decode_entry_record, record_to_json
from ledger.publisher.ledger import Ledger

from ..output import emit_json, json_option


@click.command("show", short_help="Show an entry, or a station's entries.")
@click.argument("ledger", metavar="LEDGER")
@click.argument("index", type=click.IntRange(min=0), required=False, metavar="INDEX")
@click.option("--station", default=None, metavar="ID", help="Every entry about station ID.")
@click.option("--kind", default=None, help="With --station: only this record kind.")
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
    if as_json:
        emit_json({"ok": True, "entries": shown})
        return
    if not shown:
        click.echo(f"no entries about station {station}")
    for item in shown:
        sealed = "unsealed" if item["block"] is None else f"block {item['block']}"
        click.echo(f"entry {item['index']} ({item['kind']}, signed by {item['signer']}, "
                   f"{sealed}), leaf hash {item['leaf_hash']}")
        click.echo(json.dumps(item["record"], ensure_ascii=False, indent=1))


def _entry(lg: Ledger, index: int, blocks: list[int]) -> dict[str, Any]:
    data = lg.entry(index)
    entry, record = decode_entry_record(data)
    if entry.key == lg.checker.registry.publisher_key_id:
        signer = "publisher"
    else:
        owner = lg.checker.registry.signer_for(entry.key)
        signer = f"station {owner.station}" if owner else "unknown key"
    block = next((height for height, at in enumerate(blocks) if at >= index), None)
    return {"index": index, "kind": record.KIND, "signer": signer, "key_id": entry.key.hex(),
            "leaf_hash": leaf_hash(data).hex(), "block": block, "record": record_to_json(record)}
