"""`ledger national init|add-log|update`: the national log over one log per county (docs/spec.md,
"One log per county under a national log")."""

from __future__ import annotations

from pathlib import Path

import click

from ledger.errors import InputError
from ledger.files import read_policy, read_verifier_key, write_new_file
from ledger.formats.times import parse_time
from ledger.importers.manifest import read_manifest
from ledger.national.writer import register_log, update
from ledger.publisher.ledger import Ledger

from ..output import emit_json, exit_when_done, json_option, signer_key


@click.group("national", short_help="The national log over one log per county.")
def national_group() -> None:
    """Write a national log: it registers county logs and records their checkpoints."""


@national_group.command("init")
@click.argument("ledger", metavar="DIR")
@click.option("--origin", required=True, help="The national origin: <host>/<election id>.")
@click.option("--key", "key_file", required=True, metavar="KEY",
              help="The national publisher's .key file; its key name must be the origin.")
@click.option("--election", "manifest", required=True, metavar="MANIFEST.json",
              help="The manifest: its election record is entry 0 (its ballots belong in the "
                   "county logs).")
@json_option
def init_command(ledger: str, origin: str, key_file: str, manifest: str, as_json: bool) -> None:
    """Create the national ledger DIR: entry 0 is the election; `add-log` comes next."""
    signer = signer_key(key_file)
    election = read_manifest(manifest).election
    with Ledger.create(ledger, origin, signer, election) as lg:
        vkey = str(lg.verifier_key)
    if as_json:
        emit_json({"ok": True, "ledger": ledger, "origin": origin, "vkey": vkey})
        return
    click.echo(f"created national ledger {ledger} for {origin}: entry 0 is {election.name!r}")
    click.echo(f"national verifier key: {vkey}")


@national_group.command("add-log")
@click.argument("ledger", metavar="DIR")
@click.argument("code", metavar="ID")
@click.option("--key", "key_file", required=True, metavar="KEY",
              help="The national publisher's .key.")
@click.option("--origin", required=True,
              help="The county log's origin: the national origin, '/', ID.")
@click.option("--pub", required=True, metavar="ID.pub",
              help="The county bureau's verifier key (its key name is the county origin).")
@json_option
def add_log_command(ledger: str, code: str, key_file: str, origin: str, pub: str,
                    as_json: bool) -> None:
    """Register county log ID (a county code) with its origin and key: a `log` record."""
    key = read_verifier_key(pub)
    with Ledger.open(ledger, signer_key(key_file)) as lg:
        index = register_log(lg, code, origin, key)
    if as_json:
        emit_json({"ok": True, "log": code, "origin": origin, "index": index})
        return
    click.echo(f"registered county log {code} ({origin}) at entry {index}")


@national_group.command("update")
@click.argument("ledger", metavar="DIR")
@click.option("--key", "key_file", required=True, metavar="KEY",
              help="The national publisher's .key.")
@click.option("--county-logs", "county_logs", required=True, metavar="PREFIX",
              help="Where the county logs are read: PREFIX/<id>/ (a directory or an "
                   "http(s):// URL).")
@click.option("--evidence-dir", "evidence_dir", default=".", show_default=True, metavar="DIR",
              help="Where evidence of a county that forked or rolled back is written.")
@click.option("--time", "time_text", default=None, metavar="TIME",
              help="Block time (default: now), as `ledger seal --time`.")
@click.option("--policy", "policy_file", default=None, metavar="FILE",
              help="A tlog-policy file: a county checkpoint is recorded only when cosigned to "
                   "its quorum, and the policy's log line for the county's origin must be the "
                   "registered key.")
@json_option
@click.pass_context
def update_command(ctx: click.Context, ledger: str, key_file: str, county_logs: str,
                   evidence_dir: str, time_text: str | None, policy_file: str | None,
                   as_json: bool) -> None:
    """Record every registered county's latest checkpoint, then seal.

    Each is verified with the county's registered key and proved consistent with the one
    recorded last (from the county's tiles), and a block checkpoint of the county log with its
    root. A county whose source is down, that forked or rolled back, whose checkpoint is not a
    block checkpoint, or (with --policy) is not cosigned to the quorum, is named and not
    recorded (exit 1, with evidence for a fork or a rollback); the others are recorded all the
    same.
    """
    policy = None if policy_file is None else read_policy(policy_file)
    with Ledger.open(ledger, signer_key(key_file)) as lg:
        time_ms = None if time_text is None else parse_time(time_text, lg.election().tz,
                                                            what="block time")
        report = update(lg, county_logs, time=time_ms, policy=policy)
    written: dict[str, str] = {}
    for county in report.counties:
        if county.evidence is not None:
            path = Path(evidence_dir) / county.evidence[0]
            try:
                write_new_file(path, county.evidence[1])
            except InputError:
                if path.read_bytes() != county.evidence[1]:
                    raise
            written[county.code] = str(path)
    cp = report.checkpoint
    exit_when_done(ctx, report.ok)
    if as_json:
        emit_json({
            "ok": report.ok,
            "tree_size": None if cp is None else cp.checkpoint.size,
            "counties": [{"log": c.code, "status": c.status, "size": c.size, "index": c.index,
                          "message": c.message, "evidence": written.get(c.code)}
                         for c in report.counties],
        })
    else:
        for c in report.counties:
            line = f"{c.code}: {c.status} ({c.message})"
            if c.code in written:
                line += f"; evidence written to {written[c.code]}"
            click.echo(line)
        if cp is None:
            click.echo("nothing new recorded: not sealed")
        else:
            click.echo(f"sealed the national log at tree size {cp.checkpoint.size:,}")
    if not report.ok:
        ctx.exit(1)
