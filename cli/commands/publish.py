"""`ledger publish LEDGER OUTDIR [--witnesses FILE]`: write the log as a static C2SP tlog-tiles
tree (a directory or an ``s3://`` object store), with the witness cosignatures collected first
when a witnesses' policy is given."""

from __future__ import annotations

import os
from contextlib import closing
from typing import Any

import click

from ledger.files import read_policy
from ledger.publisher.destination import open_destination
from ledger.publisher.publish import PublishResult, publish, read_published_vkey
from ledger.publisher.results import RESULTS_FILE, publish_results
from ledger.publisher.witnesses import DEFAULT_TIMEOUT, Cosigned, publish_cosigned

from ..output import emit_json, json_option, terminal_progress


@click.command("publish", short_help="Write the static tlog-tiles tree.")
@click.argument("ledger", metavar="LEDGER")
@click.argument("outdir", metavar="OUTDIR")
@click.option("--endpoint-url", metavar="URL",
              help="The S3 endpoint of an s3:// OUTDIR that is not AWS (default: as the AWS "
                   "tools read it, AWS_ENDPOINT_URL or ~/.aws/config).")
@click.option("--witnesses", "witnesses", metavar="FILE",
              help="A tlog-policy file of the witnesses to ask for cosignatures (their URLs).")
@click.option("--page-policy", "page_policy", metavar="FILE",
              help="A tlog-policy file written into the observer's page: the witnesses and "
                   "quorum observers should require (its log line must be this log's key).")
@click.option("--witness-timeout", type=click.FloatRange(min=0.1, max=600),
              default=DEFAULT_TIMEOUT, show_default=True, metavar="SECONDS",
              help="Time each witness has to answer (a 409 retry gets as long again).")
@click.option("--full", is_flag=True,
              help="Read every entry and compare every file already in OUTDIR (rewrites a "
                   "damaged one), instead of carrying on after the checkpoint there.")
@click.option("--results", is_flag=True,
              help="Also tally the published tree (the audit anyone runs) and write "
                   "results.json beside the tiles.")
@json_option
def publish_command(ledger: str, outdir: str, endpoint_url: str | None, witnesses: str | None,
                    page_policy: str | None, witness_timeout: float, full: bool,
                    results: bool, as_json: bool) -> None:
    """Publish LEDGER (a ledger directory, or any published tree or URL to mirror) into OUTDIR,
    a directory or s3://BUCKET/PREFIX of an S3-compatible object store.

    Tiles, entry bundles and ledger.json are written first, the checkpoint last. Where OUTDIR
    serves a checkpoint of this log, only the entries after it are read and only what they
    change is written (the files at its right edge are checked first); --full reads every entry
    and compares every file, which rewrites a damaged one.
    In an object store, tiles and bundles are uploaded 16 at a time with Cache-Control "public,
    max-age=31536000, immutable", every other file with "no-cache"; credentials and region are
    read as the AWS tools read them (AWS_* variables, ~/.aws/config, ~/.aws/credentials).
    With --witnesses, LEDGER must be a ledger directory: its latest checkpoint is first sent to
    every witness of the file that has a URL, and published with the cosignatures they gave.
    With --results, the published tree is then audited and tallied, and results.json written.
    The observer's page (index.html and observer/) is written too, with the publisher's key and,
    with --page-policy, the witnesses and quorum observers should require.
    """
    progress = terminal_progress("publishing entries")
    observers = None if page_policy is None else read_policy(page_policy)
    cosigned: Cosigned | None = None
    if witnesses is not None:
        cosigned, result = publish_cosigned(ledger, outdir, read_policy(witnesses),
                                            timeout=witness_timeout, progress=progress,
                                            page_policy=observers, endpoint_url=endpoint_url,
                                            full=full)
    else:
        result = publish(ledger, outdir, progress=progress, page_policy=observers,
                         endpoint_url=endpoint_url, full=full)
    tally = None
    if results:
        with closing(open_destination(outdir, endpoint_url=endpoint_url)) as destination:
            tally = publish_results(destination, read_published_vkey(destination))
    if as_json:
        emit_json(_json(result, cosigned) | (
            {} if tally is None else {"results": _beside(result.outdir, RESULTS_FILE)}))
        return
    if cosigned is not None:
        for r in cosigned.results:
            mark = "cosigned" if r.cosigned else "no cosignature"
            status = "no answer" if r.status is None else f"HTTP {r.status}"
            click.echo(f"witness {r.name} ({r.url}): {mark} ({status}: {r.detail})")
        for name in cosigned.not_asked:
            click.echo(f"witness {name}: not asked (no URL in the policy)")
        who = ", ".join(cosigned.cosigned_by) or "no witness"
        quorum = "met" if cosigned.quorum_met else "NOT met"
        click.echo(f"checkpoint of size {cosigned.size} cosigned by {who}; the policy's quorum "
                   f"is {quorum}")
    click.echo(
        f"published {result.origin} at tree size {result.tree_size} to {result.outdir}: "
        f"{result.written} files written, {result.skipped} already up to date"
    )
    if tally is not None:
        click.echo(f"results.json: the tally at tree size {tally.tree_size:,} "
                   f"({', '.join(tally.categories) or 'no category'})")


def _json(result: PublishResult, cosigned: Cosigned | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "ok": True,
        "origin": result.origin,
        "tree_size": result.tree_size,
        "outdir": str(result.outdir),
        "written": result.written,
        "skipped": result.skipped,
        "checkpoint_sizes": list(result.checkpoint_sizes),
        "paths_written": list(result.paths_written),
    }
    if cosigned is not None:
        out["cosigned_by"] = list(cosigned.cosigned_by)
        out["quorum_met"] = cosigned.quorum_met
        out["witnesses"] = [
            {"name": r.name, "url": r.url, "cosigned": r.cosigned, "status": r.status,
             "detail": r.detail, "old": r.old, "retried": r.retried, "held": r.held}
            for r in cosigned.results]
        out["not_asked"] = list(cosigned.not_asked)
    return out


def _beside(outdir: str, name: str) -> str:
    """The path or URL of ``name`` in the tree published at ``outdir``."""
    return outdir.rstrip("/") + "/" + name if "://" in outdir else os.path.join(outdir, name)
