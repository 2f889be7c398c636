"""`ledger check-proof RECEIPT [STATION-RECEIPT] --pub FILE`: check a receipt offline."""

from __future__ import annotations

import click

from ledger.auditor.national_proof import check_national
from ledger.auditor.receipts import (
    MAX_RECEIPT_SIZE,
    CheckedReceipt,
    Receipt,
    check_receipt,
    parse_receipt,
)
from ledger.errors import InputError, MalformedError, VerificationError, Where
from ledger.files import read_bounded
from ledger.formats.records import Report
from ledger.importers import AEP_CATEGORY_RULES

from ..output import emit_json, json_option, record_lines
from ..trust import read_trust, trust_options


def _read_receipt(path: str) -> Receipt:
    data = read_bounded(path, MAX_RECEIPT_SIZE, "a receipt", too_large=MalformedError)
    try:
        return parse_receipt(data)
    except InputError as e:
        raise InputError(e.message, where=Where(file=path)) from e
    except VerificationError as e:
        raise e.at(file=path) from e


@click.command("check-proof", short_help="Check receipts offline.")
@click.argument("receipt", metavar="RECEIPT")
@click.argument("station_receipt", metavar="[STATION-RECEIPT]", required=False)
@trust_options
@click.option("--national", nargs=2, default=None, metavar="LOG-RECEIPT CHECKPOINT-RECEIPT",
              help="RECEIPT is of a county log: the national log's receipts of its log record "
                   "and of the checkpoint record; --pub is then the national key.")
@json_option
def check_proof_command(receipt: str, station_receipt: str | None, pub: str | None,
                        policy: str | None, national: tuple[str, str] | None,
                        as_json: bool) -> None:
    """Show, offline, that the record in RECEIPT is in the log the publisher signed.

    A station-signed record needs STATION-RECEIPT too (the station record that registered its
    key, under the same checkpoint). Exit 0 when the receipt checks, 1 when it does not, 2 when
    a file is not a receipt or key at all. With --policy, the record receipt's checkpoint must
    be cosigned to the policy's quorum (a station receipt needs only the log's signature).
    """
    files = read_trust(pub, policy)
    main = _read_receipt(receipt)
    if national is not None:
        log_receipt, cp_receipt = (_read_receipt(path) for path in national)
        trust = files.resolve(lambda: log_receipt.checkpoint)
        station = None if station_receipt is None else _read_receipt(station_receipt)
        chain = check_national(main, station, log_receipt, cp_receipt, trust.log_key,
                               policy=trust.policy)
        if as_json:
            emit_json(chain.county.to_json() | {"national": {
                "origin": chain.log.checkpoint.origin, "tree_size": chain.log.checkpoint.size,
                "root": chain.log.checkpoint.root.hex(), "log": chain.code,
                "log_index": chain.log.index, "checkpoint_index": chain.checkpoint.index}})
            return
        _print(chain.county)
        ncp = chain.log.checkpoint
        click.echo(f"  county log {chain.code} registered at entry {chain.log.index} and that "
                   f"checkpoint recorded at entry {chain.checkpoint.index} of the national log "
                   f"{ncp.origin} at tree size {ncp.size}")
        click.echo(f"  national root {ncp.root.hex()}")
        return
    trust = files.resolve(lambda: main.checkpoint)
    station = None if station_receipt is None else _read_receipt(station_receipt)
    checked = check_receipt(main, trust.log_key, station, policy=trust.policy)
    if as_json:
        emit_json(checked.to_json())
    else:
        _print(checked)


def _print(checked: CheckedReceipt) -> None:
    record = checked.record
    cp = checked.checkpoint
    what = (record.KIND if not checked.station
            else f"station record of {checked.station}" if record.KIND == "station"
            else f"{record.KIND} of station {checked.station}")
    click.echo(f"OK: entry {checked.index} ({what}) is in the log "
               f"{cp.origin} at tree size {cp.size}")
    click.echo(f"  root {cp.root.hex()}")
    signer = ("the publisher" if checked.signed_by == "publisher"
              else f"station {checked.station}'s key, registered at entry {checked.station_index}")
    click.echo(f"  signed by {signer}")
    if checked.cosigned_by:
        click.echo(f"  cosigned by {', '.join(checked.cosigned_by)}")
    rules = AEP_CATEGORY_RULES.get(record.category) if isinstance(record, Report) else None
    for line in record_lines(record, tz=None, rules=rules):
        click.echo(f"  {line}")
    for line in checked.not_shown:
        click.echo(f"  not shown offline: {line}")
