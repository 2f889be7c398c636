"""What every command shares for its output: the `--json` flag, JSON on stdout, progress lines."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

import click

from ledger.check.findings import Finding

#: Where a command records the exit status it has reached before it prints (``ctx.meta``), so
#: that a reader closing the pipe early does not turn a failed audit into a success.
EXIT_SO_FAR = "ledger.exit"


def exit_when_done(ctx: click.Context, ok: bool) -> None:
    """Record the command's verdict before it prints (see :data:`EXIT_SO_FAR`)."""
    ctx.meta[EXIT_SO_FAR] = 0 if ok else 1


def emit_json(obj: Any) -> None:
    """Print one JSON object on stdout."""
    click.echo(json.dumps(obj, ensure_ascii=False, indent=1, sort_keys=False))


def json_option(f: Any) -> Any:
    """The `--json` flag every command takes; remembered so errors are printed as JSON too."""

    def remember(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
        ctx.meta["ledger.json"] = value
        return value

    return click.option(
        "--json", "as_json", is_flag=True, callback=remember, is_eager=True,
        help="Print one JSON object on stdout.",
    )(f)


def terminal_progress(label: str) -> Callable[[int, int], None] | None:
    """A progress callback writing to stderr, or None when stderr is not a terminal."""
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        end = "\n" if done >= total else ""
        click.echo(f"\r{label}: {done:,}/{total:,}{end}", err=True, nl=False)

    return show


def describe(finding: Finding) -> str:
    """One line for a finding about a CSV row or a batch item."""
    w = finding.where
    where = f"{w.file}:{w.line}" if w.line is not None else w.file
    text = f"{finding.message} [{finding.code}]"
    return f"{where}: {text}" if where else text
