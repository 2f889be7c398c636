"""`ledger witness serve --key K --policy P --state DIR --listen HOST:PORT`: run a witness."""

from __future__ import annotations

import click

from ledger.errors import InputError
from ledger.files import read_policy
from ledger.formats.keys import SIG_COSIGNATURE_V1

from ..output import json_option, signer_key


@click.group("witness", short_help="Run a tlog-witness for a policy's logs.")
def witness_group() -> None:
    """Run a C2SP tlog-witness for the logs of a policy (docs/witness.md)."""


@witness_group.command("serve", short_help="Serve add-checkpoint for the policy's logs.")
@click.option("--key", "key", required=True, metavar="FILE",
              help="The witness's secret key (ledger keygen --type witness).")
@click.option("--policy", "policy", required=True, metavar="FILE",
              help="A tlog-policy file whose log lines are the logs witnessed.")
@click.option("--state", "state", required=True, metavar="DIR",
              help="The state folder: per origin, the last checkpoint cosigned.")
@click.option("--listen", "listen", default="127.0.0.1:7380", show_default=True,
              metavar="HOST:PORT", help="Address to listen on.")
@click.option("--body-timeout", type=click.FloatRange(min=0.1, max=600), default=10.0,
              show_default=True, metavar="SECONDS",
              help="Time a client has to send a whole request body (else 408).")
@json_option
def serve_command(key: str, policy: str, state: str, listen: str, body_timeout: float,
                  as_json: bool) -> None:
    """Answer POST /add-checkpoint and GET /<hex SHA-256 of the origin>/checkpoint.

    With --json, a failure to start is the JSON error object; requests are logged as lines.
    """
    from ledger.witness.server import serve
    from ledger.witness.state import WitnessState
    from ledger.witness.witness import Witness

    signer = signer_key(key)
    if signer.type != SIG_COSIGNATURE_V1:
        raise InputError("not a witness key: a witness key has type 0x04 (cosignature/v1)")
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise click.UsageError(f"--listen {listen!r} is not HOST:PORT")
    rules = read_policy(policy)
    if not rules.logs:
        raise InputError("the policy has no log lines: nothing to witness")
    witness = Witness(signer, rules, WitnessState(state))
    click.echo(f"witness {signer.name} on {listen}, {len(rules.logs)} logs", err=True)
    serve(witness, host, int(port), body_timeout=body_timeout)
