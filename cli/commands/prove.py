"""`ledger prove SOURCE (INDEX | --station ID)`: write C2SP tlog-proof receipts for observers."""

from __future__ import annotations

from pathlib import Path

import click

from ledger.auditor.national_proof import prove_national
from ledger.auditor.prove import (
    STATION_KINDS,
    checkpoint_note,
    make_receipt,
    portability_warning,
    prove_station,
)
from ledger.auditor.receipts import Receipt, format_receipt
from ledger.sources.open import open_source

from ..output import emit_json, json_option
from ..sources import open_log, sources_option
from ..trust import TrustFiles


@click.command("prove", short_help="Write receipts for an entry or station.")
@click.argument("source", metavar="SOURCE")
@click.argument("index", type=click.IntRange(min=0), required=False, metavar="[INDEX]")
@sources_option
@click.option("--station", metavar="ID", default=None,
              help="Prove this station's last entry of --kind, and its key's station record.")
@click.option("--kind", type=click.Choice(STATION_KINDS), default="report", show_default=True,
              help="With --station: which kind of entry.")
@click.option("--category", metavar="CODE", default=None,
              help="With --station: the last report in this category.")
@click.option("--size", type=click.IntRange(min=1), default=None, metavar="N",
              help="Use the checkpoint of the block ending at size N (default: the latest); "
                   "with --national, the national log's.")
@click.option("--national", metavar="NATIONAL", default=None,
              help="With --station: SOURCE is a county log; also prove, from the national log "
                   "NATIONAL, its log record and the checkpoint record the receipts are under.")
@click.option("-o", "--output", "output", default=None, metavar="PATH",
              help="INDEX: the receipt file (default <index>.tlog-proof); --station: the folder "
                   "(default .).")
@json_option
def prove_command(source: str, index: int | None, more_sources: tuple[str, ...],
                  station: str | None, kind: str, category: str | None, size: int | None,
                  national: str | None, output: str | None, as_json: bool) -> None:
    """Write a receipt proving entry INDEX (or a station's record) is in the log at SOURCE.

    With --station, a published tree's station index (stations/<id>.json) says which entries to
    read; each is checked and proved, and an index that cannot be used is noted and the whole
    log read instead.
    """
    if (index is None) == (station is None):
        raise click.UsageError("give either INDEX or --station ID")
    if station is None and (category is not None or kind != "report"):
        raise click.UsageError("--kind and --category go with --station")
    if national is not None and station is None:
        raise click.UsageError("--national goes with --station")
    written: list[tuple[Path, Receipt]] = []
    lookup: str | None = None
    with open_log(source, more_sources, TrustFiles(None, None)) as log:
        if national is not None and station is not None:
            with open_source(national) as national_log:
                chain = prove_national(log, national_log, station, kind=kind, category=category,
                                       size=size)
            folder = Path(output or ".")
            folder.mkdir(parents=True, exist_ok=True)
            written.append((folder / f"{station}-{kind}.tlog-proof", chain.record))
            if chain.registration is not None:
                written.append((folder / f"{station}-station.tlog-proof", chain.registration))
            written.append((folder / f"national-log-{chain.code}.tlog-proof", chain.log))
            written.append((folder / f"national-checkpoint-{chain.code}.tlog-proof",
                            chain.checkpoint))
        elif index is not None:
            receipt = make_receipt(log, index, checkpoint=checkpoint_note(log, size))
            written.append((Path(output or f"{index}.tlog-proof"), receipt))
        elif station is not None:
            proof = prove_station(log, station, kind=kind, category=category, size=size)
            lookup = proof.lookup
            for why in proof.notes:
                click.echo(f"ledger: note: {why}", err=True)
            folder = Path(output or ".")
            folder.mkdir(parents=True, exist_ok=True)
            written.append((folder / f"{station}-{kind}.tlog-proof", proof.record))
            if proof.registration is not None:
                written.append((folder / f"{station}-station.tlog-proof", proof.registration))
    for path, receipt in written:
        path.write_bytes(format_receipt(receipt))
        warning = portability_warning(receipt)
        if warning is not None:
            click.echo(f"ledger: warning: {path}: {warning}", err=True)
    if as_json:
        value: dict[str, object] = {"ok": True, "receipts": [
            {"file": str(path), "index": receipt.index} for path, receipt in written
        ]}
        if lookup is not None:
            value["lookup"] = lookup
        emit_json(value)
        return
    for path, receipt in written:
        click.echo(f"wrote {path} (entry {receipt.index})")
