"""`ledger mirror pull DIR --source URL... --pub KEY --key MIRROR.key` and `ledger mirror serve
DIR`: a verified, cosigned copy of a log (docs/mirror.md)."""

from __future__ import annotations

import sys
from typing import Any

import click

from ledger.errors import InputError, LedgerError, Where
from ledger.formats.keys import SIG_COSIGNATURE_V1
from ledger.mirror.pull import AUDIT_JSON, Mirror, PullResult, follow
from ledger.sources.multi import FallbackSource
from ledger.sources.open import open_source

from ..output import emit_json, json_option, signer_key
from ..trust import read_trust, trust_options

EXIT_INTERRUPTED = 130


@click.group("mirror", short_help="Keep and serve a verified copy of a log.")
def mirror_group() -> None:
    """A verified mirror: pull a log, check it, keep a cosigned copy, serve it (docs/mirror.md)."""


@mirror_group.command("pull", short_help="Copy what is new, verified, and cosign it.")
@click.argument("directory", metavar="DIR")
@click.option("--source", "sources", multiple=True, required=True, metavar="URL",
              help="Where to pull from (the publisher or another mirror); repeat it: the "
                   "first that answers is used, the others serve what it lacks.")
@trust_options
@click.option("--key", "key", required=True, metavar="FILE",
              help="The mirror's secret key (ledger keygen --type mirror).")
@click.option("--follow", "every", type=click.FloatRange(min=0.05), default=None,
              metavar="SECONDS", help="Keep pulling, every SECONDS, until interrupted.")
@click.option("--workers", type=click.IntRange(min=1), default=None, metavar="N",
              help="Processes checking signatures (default: every core).")
@json_option
@click.pass_context
def pull_command(ctx: click.Context, directory: str, sources: tuple[str, ...], pub: str | None,
                 policy: str | None, key: str, every: float | None, workers: int | None,
                 as_json: bool) -> None:
    """Pull the log from the first --source that answers into DIR/<hex SHA-256 of the origin>/,
    audited incrementally; move to the new checkpoint, cosigned by the mirror's key, only when
    it verifies, meets the policy and extends the checkpoint served.

    Election-rule findings do not stop the mirror: they are written to audit.json beside the
    copy. A checkpoint that cannot be honest with the one served is refused and its split-view
    evidence written. Exit 1 when the new checkpoint was refused; 4 when no source answered.
    """
    files = read_trust(pub, policy)
    signer = signer_key(key)
    if signer.type != SIG_COSIGNATURE_V1:
        raise InputError("not a mirror key: a mirror key has type 0x04 (cosignature/v1); make "
                         "one with ledger keygen NAME --type mirror")
    opened = [open_source(s) for s in sources]
    first = FallbackSource(opened)
    trust = files.resolve(first.read_checkpoint)
    mirror = Mirror(directory, trust.log_key, signer, policy=trust.policy)

    def pull() -> PullResult:
        return mirror.pull(opened, workers=workers)  # each pull reads the checkpoints again

    if every is None:
        result = pull()
        _show(result, as_json=as_json)
        if not result.ok:
            ctx.exit(1)
        return

    def report(outcome: PullResult | LedgerError) -> None:
        if isinstance(outcome, LedgerError):
            click.echo(f"ledger: warning: no source answered: {outcome}; trying again in "
                       f"{every:g} s", err=True)
            return
        _show(outcome, as_json=as_json)

    try:
        follow(pull, every, report=report)
    except KeyboardInterrupt:
        click.echo("ledger: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)


def _show(result: PullResult, *, as_json: bool) -> None:
    for passed in result.passed_over:
        if result.ok:
            click.echo(f"ledger: warning: [source] {passed.source}: {passed.file}: "
                       f"{passed.why}", err=True)
    if as_json:
        emit_json(_json(result))
        return
    size = "?" if result.tree_size is None else f"{result.tree_size:,}"
    held = "nothing" if result.held_size is None else f"size {result.held_size:,}"
    if result.status == "moved":
        how = ("incrementally, from size " f"{result.resumed_from:,}"
               if result.resumed_from is not None else "audited from the start")
        click.echo(f"mirrored {result.origin} at size {size} (was {held}; {how}) from "
                   f"{result.source}")
        click.echo(f"  served from {result.directory}, cosigned by the mirror's key")
        if result.rule_errors:
            click.echo(f"  {result.rule_errors} election-rule errors: see "
                       f"{result.directory / AUDIT_JSON}")
    elif result.status == "up-to-date":
        click.echo(f"up to date: {result.origin} at size {size} ({result.source})")
    elif result.status == "behind":
        click.echo(f"{result.source} is behind the mirror (size {size}, the mirror holds "
                   f"{held}) and consistent with it: nothing to do")
    elif result.status == "split-view":
        click.echo(f"SPLIT VIEW: {result.source} serves a checkpoint of size {size} that "
                   f"cannot be honest together with the one the mirror serves ({held}); the "
                   f"mirror stays where it is")
        click.echo(f"  split-view evidence written to {result.evidence}")
    else:
        click.echo(f"REFUSED: the checkpoint of size {size} from {result.source} does not "
                   f"verify; the mirror stays at {held}")
        for finding in (result.report.errors if result.report else [])[:20]:
            click.echo(f"  [{finding.category}] {finding.describe()}")


def _json(result: PullResult) -> dict[str, Any]:
    report = result.report
    return {
        "ok": result.ok, "status": result.status, "origin": result.origin,
        "directory": str(result.directory), "source": result.source,
        "held_size": result.held_size, "tree_size": result.tree_size,
        "resumed_from": result.resumed_from, "rule_errors": result.rule_errors,
        "evidence": None if result.evidence is None else str(result.evidence),
        "errors": [] if report is None else [f.to_json() for f in report.errors[:100]],
        "passed_over": [{"source": p.source, "file": p.file, "why": p.why}
                        for p in result.passed_over],
    }


@mirror_group.command("serve", short_help="Serve a mirror folder over HTTP.")
@click.argument("directory", metavar="DIR")
@click.option("--listen", "listen", default="127.0.0.1:7381", show_default=True,
              metavar="HOST:PORT", help="Address to listen on.")
@json_option
def serve_command(directory: str, listen: str, as_json: bool) -> None:
    """Serve DIR's logs (<hex SHA-256 of the origin>/checkpoint, tile/...) as static files.

    Any static web server serves a mirror folder as well; this one serves only the log files.
    """
    from pathlib import Path

    from ledger.mirror.server import serve

    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise click.UsageError(f"--listen {listen!r} is not HOST:PORT")
    root = Path(directory)
    if not root.is_dir():
        raise InputError("no such directory", where=Where(file=directory))
    click.echo(f"mirror {root} on {listen}", err=True)
    serve(root, host, int(port))

