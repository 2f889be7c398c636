"""`ledger station add|import|revoke`: register, bulk-register and revoke station keys."""

from __future__ import annotations

from pathlib import Path

import click

from ledger.check.findings import Finding
from ledger.core.hashing import key_id as key_id_of
from ledger.errors import InputError
from ledger.files import read_record_json, read_verifier_key
from ledger.formats.records import Station
from ledger.importers import FORMATS
from ledger.publisher.ingest import read_stations, register_stations, station_public_keys
from ledger.publisher.ledger import Ledger

from ..output import describe, emit_json, exit_when_done, json_option, signer_key, terminal_progress


@click.group("station", short_help="Register, bulk-register or revoke stations.")
def station_group() -> None:
    """Register, bulk-register and revoke polling-station keys (publisher-signed entries)."""


@station_group.command("add")
@click.argument("ledger", metavar="LEDGER")
@click.option("--key", "key_file", required=True, metavar="KEY", help="The publisher's .key.")
@click.option("--record", default=None, metavar="STATION.json",
              help="A station record in JSON (instead of the options below).")
@click.option("--station", "station_id", default=None, help="Station id, e.g. AB-1.")
@click.option("--pub", default=None, metavar="FILE.pub", help="The station's verifier key.")
@click.option("--county", default=None, help="County name as the source writes it.")
@click.option("--number", type=click.IntRange(min=0), default=None, help="Station number.")
@click.option("--name", default=None, help="Station name.")
@json_option
def add_command(ledger: str, key_file: str, record: str | None, station_id: str | None,
                pub: str | None, county: str | None, number: int | None, name: str | None,
                as_json: bool) -> None:
    """Register one station (or give it a new key: a later station record replaces it)."""
    station = _station(record, station_id, pub, county, number, name)
    with Ledger.open(ledger, signer_key(key_file)) as lg:
        index = lg.register_station(station)
    if as_json:
        emit_json({"ok": True, "station": station.id, "index": index,
                   "key_id": station.key_id.hex()})
        return
    click.echo(f"registered station {station.id} at entry {index} (key id "
               f"{station.key_id.hex()[:16]}...)")


def _station(record: str | None, station_id: str | None, pub: str | None, county: str | None,
             number: int | None, name: str | None) -> Station:
    options = (station_id, pub, county, number, name)
    if record is not None:
        if any(o is not None for o in options):
            raise click.UsageError("give --record or the station options, not both")
        station = read_record_json(record)
        if type(station) is not Station:
            raise InputError(f"expected a station record, got {station.KIND!r}")
        return station
    if station_id is None or pub is None or county is None or number is None or name is None:
        raise click.UsageError("give --record, or all of --station, --pub, --county, --number, "
                               "--name")
    vkey = read_verifier_key(pub)
    if vkey.name != station_id:
        raise click.UsageError(f"{pub} is the key of {vkey.name!r}, not of {station_id!r}")
    return Station(id=station_id, county=county, number=number, name=name,
                   pubkey=vkey.public_key)


@station_group.command("import")
@click.argument("ledger", metavar="LEDGER")
@click.option("--key", "key_file", required=True, metavar="KEY", help="The publisher's .key.")
@click.argument("csv_file", metavar="CSV")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=None,
              help="The kind of AEP file (default: from its header).")
@click.option("--keys-out", default=None, metavar="DIR",
              type=click.Path(file_okay=False),
              help="Generate each station's key pair into DIR as <station id>.key and .pub "
                   "(keys already there are reused; DIR is made when missing).")
@click.option("--pubs", default=None, metavar="DIR",
              type=click.Path(file_okay=False),
              help="Read each station's verifier key from DIR/<station id>.pub.")
@json_option
@click.pass_context
def import_command(ctx: click.Context, ledger: str, key_file: str, csv_file: str,
                   fmt: str | None, keys_out: str | None, pubs: str | None,
                   as_json: bool) -> None:
    """Register every station of an AEP PV or turnout file, in one batch.

    Stations already registered with the same key are left alone, so running it again is
    harmless.
    """
    if (keys_out is None) == (pubs is None):
        raise click.UsageError("give one of --keys-out DIR (generate keys) or --pubs DIR")
    signer = signer_key(key_file)
    stations = read_stations(csv_file, fmt)
    keys = station_public_keys(stations, keys_out=Path(keys_out) if keys_out else None,
                               pub_dir=Path(pubs) if pubs else None,
                               progress=terminal_progress("station keys"))
    with Ledger.open(ledger, signer) as lg:
        result = register_stations(lg, stations, keys,
                                   progress=terminal_progress("registering stations"))
    refused = [Finding.from_error(r.error) for r in result.rejected]
    skipped = len(stations) - len(result.accepted) - len(result.rejected)
    exit_when_done(ctx, not refused)
    if as_json:
        emit_json({"ok": not refused, "stations": len(stations),
                   "registered": len(result.accepted), "unchanged": skipped,
                   "tree_size": result.size, "errors": [f.to_json() for f in refused]})
    else:
        click.echo(f"{csv_file}: {len(stations):,} stations, {len(result.accepted):,} "
                   f"registered, {skipped:,} already registered with that key, "
                   f"{len(refused):,} refused; tree size {result.size:,}")
        for finding in refused:
            click.echo(f"  refused {describe(finding)}")
    if refused:
        ctx.exit(1)


@station_group.command("revoke")
@click.argument("ledger", metavar="LEDGER")
@click.option("--key", "key_file", required=True, metavar="KEY", help="The publisher's .key.")
@click.option("--station", "station_id", default=None, help="Revoke this station's current key.")
@click.option("--key-id", default=None, metavar="HEX",
              help="Revoke the station key with this key id (64 hex digits).")
@click.option("--reason", required=True, help="Why, in words (it is published).")
@json_option
def revoke_command(ledger: str, key_file: str, station_id: str | None, key_id: str | None,
                   reason: str, as_json: bool) -> None:
    """Revoke a station key: entries it signs from now on are refused."""
    if (station_id is None) == (key_id is None):
        raise click.UsageError("give one of --station ID and --key-id HEX")
    with Ledger.open(ledger, signer_key(key_file)) as lg:
        key = _key_id(lg, station_id, key_id)
        index = lg.revoke_key(key, reason)
    if as_json:
        emit_json({"ok": True, "index": index, "key_id": key.hex(), "station": station_id})
        return
    click.echo(f"revoked key {key.hex()[:16]}... at entry {index}")


def _key_id(lg: Ledger, station_id: str | None, key_id: str | None) -> bytes:
    if key_id is not None:
        if len(key_id) != 64 or key_id != key_id.lower():
            raise click.UsageError("--key-id is 64 lower-case hex digits")
        try:
            return bytes.fromhex(key_id)
        except ValueError as e:
            raise click.UsageError("--key-id is 64 lower-case hex digits") from e
    public_key = lg.checker.registry.station_key(station_id or "")
    if public_key is None:
        raise click.UsageError(f"station {station_id} has no current key (not registered, or "
                               "already revoked)")
    return key_id_of(public_key)
