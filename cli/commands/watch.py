"""`ledger watch [SOURCE] [--source URL...] --pub KEY --state FILE [--every SECONDS]`: a monitor
that follows a log, verifying each new checkpoint (docs/auditor.md, "Watch the log")."""

from __future__ import annotations

import json
import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

import click

from ledger.errors import SourceUnavailableError
from ledger.mirror.watch import Monitor, WatchStep

from ..output import json_option
from ..sources import open_log, sources_option
from ..trust import read_trust, trust_options

EXIT_INTERRUPTED = 130
#: The longest pause between two tries of a source that does not answer.
MAX_BACKOFF = 300.0


@click.command("watch", short_help="Follow a log: verify each new checkpoint.")
@click.argument("source", metavar="[SOURCE]", required=False)
@sources_option
@trust_options
@click.option("--state", "state", required=True, metavar="FILE",
              help="The monitor's state file (an audit state holding the checkpoint verified).")
@click.option("--every", type=click.FloatRange(min=0.05), default=60.0, show_default=True,
              metavar="SECONDS", help="Look for a new checkpoint every SECONDS.")
@click.option("--workers", type=click.IntRange(min=1), default=None, metavar="N",
              help="Processes checking signatures (default: every core).")
@json_option
@click.pass_context
def watch_command(ctx: click.Context, source: str | None, more_sources: tuple[str, ...],
                  pub: str | None, policy: str | None, state: str, every: float,
                  workers: int | None, as_json: bool) -> None:
    """Follow the log at SOURCE: on each new checkpoint, verify what is new (from the state),
    save the state and print one line (one JSON object with --json).

    On a fork or a rollback the evidence is written beside the state and the exit is 1; on a
    rule or check error the report is printed and the exit is 1. A source that does not answer
    is retried with backoff and reported, never an exit. Ctrl-C ends it after the current
    step, exit 130.
    """
    files = read_trust(pub, policy)
    stop = {"asked": False}

    def interrupted(signum: int, frame: FrameType | None) -> None:
        del signum, frame
        stop["asked"] = True

    previous = signal.signal(signal.SIGINT, interrupted)
    try:
        with open_log(source, more_sources, files) as log:
            trust = files.resolve(log.read_checkpoint)
        monitor = Monitor(trust.log_key, state, policy=trust.policy,
                          evidence_dir=Path(state).resolve().parent, workers=workers)
        pause = every
        while not stop["asked"]:  # bounded by the operator's Ctrl-C (or an error: exit 1)
            with open_log(source, more_sources, files) as log:
                try:
                    step = monitor.step([log])
                except SourceUnavailableError as e:
                    click.echo(f"ledger: warning: the source does not answer: {e}; trying "
                               f"again in {pause:g} s", err=True)
                    _sleep(pause, stop)
                    pause = min(pause * 2, MAX_BACKOFF)
                    continue
            pause = every
            _show(step, as_json=as_json)
            if not step.ok:
                ctx.exit(1)
            _sleep(every, stop)
    finally:
        signal.signal(signal.SIGINT, previous)
    click.echo("ledger: interrupted", err=True)
    sys.exit(EXIT_INTERRUPTED)


def _sleep(seconds: float, stop: dict[str, bool]) -> None:
    end = time.monotonic() + seconds
    while not stop["asked"] and time.monotonic() < end:  # bounded by the deadline
        time.sleep(min(0.05, max(0.0, end - time.monotonic())))


def _show(step: WatchStep, *, as_json: bool) -> None:
    try:
        _line(step, as_json=as_json)
    finally:
        sys.stdout.flush()  # one line per checkpoint, as it comes, even into a pipe


def _line(step: WatchStep, *, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(_json(step), ensure_ascii=False))
        return
    if step.status == "same":
        return
    report = step.report
    size = "?" if step.tree_size is None else f"{step.tree_size:,}"
    if step.status == "new" and report is not None:
        kinds = ", ".join(f"{n:,} {k}" for k, n in sorted(step.new_by_kind.items())) or "none"
        click.echo(f"tree size {size}: {report.entries:,} new entries ({kinds}), "
                   f"{step.new_by_kind.get('report', 0):,} new reports, "
                   f"{len(report.warnings):,} warnings ({step.source})")
    elif step.status == "split-view":
        click.echo(f"SPLIT VIEW at tree size {size} ({step.source}): evidence written to "
                   f"{step.evidence}")
    elif step.status == "rollback":
        click.echo(f"ROLLBACK: the log went back to tree size {size} from "
                   f"{step.previous_size:,} ({step.source})")
    else:
        click.echo(f"FAILED at tree size {size} ({step.source}):")
        for finding in (report.errors if report else [])[:20]:
            click.echo(f"  [{finding.category}] {finding.describe()}")


def _json(step: WatchStep) -> dict[str, Any]:
    report = step.report
    value: dict[str, Any] = {"ok": step.ok, "status": step.status, "source": step.source,
                             "tree_size": step.tree_size, "previous_size": step.previous_size,
                             "evidence": None if step.evidence is None else str(step.evidence)}
    if report is not None:
        value |= {"new_entries": report.entries, "new_by_kind": step.new_by_kind,
                  "warnings": len(report.warnings), "report": report.to_json()}
    return value
