"""What every command shares for its output: the `--json` flag, JSON on stdout, progress lines."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

import click

from ledger.check.findings import Finding
from ledger.check.rule_sets import COUNT_MEANINGS, FIELD_MEANINGS
from ledger.files import read_signer_key
from ledger.formats.keys import NoteSigner
from ledger.formats.records import Record, Report, Turnout, record_to_json
from ledger.formats.times import iso_utc, local_time

#: Where a command records the exit status it has reached before it prints (``ctx.meta``), so
#: that a reader closing the pipe early does not turn a failed audit into a success.
EXIT_SO_FAR = "ledger.exit"


def exit_when_done(ctx: click.Context, ok: bool, code: int | None = None) -> None:
    """Record the command's verdict (``code``, default 0 or 1) before it prints (see
    :data:`EXIT_SO_FAR`)."""
    ctx.meta[EXIT_SO_FAR] = code if code is not None else 0 if ok else 1


#: Set by ``ledger --insecure-key-permissions``: secret keys others may read are accepted.
INSECURE_KEYS = "ledger.insecure_keys"


def signer_key(path: str) -> NoteSigner:
    """The secret key in ``path``, refused if others may read it unless the command line said
    ``--insecure-key-permissions``."""
    insecure = bool(click.get_current_context().find_root().meta.get(INSECURE_KEYS))
    return read_signer_key(path, insecure=insecure)


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


def plural(count: int, one: str, many: str | None = None) -> str:
    """``1 entry``, ``2 entries``, ``1,914 stations``: the count in the one number format."""
    return f"{count:,} {one if count == 1 else (many or one + 's')}"


def describe(finding: Finding) -> str:
    """One line for a finding about a CSV row or a batch item."""
    w = finding.where
    where = f"{w.file}:{w.line}" if w.line is not None else w.file
    text = f"{finding.message} [{finding.code}]"
    return f"{where}: {text}" if where else text


def record_lines(record: Record, *, tz: str | None, rules: str | None) -> list[str]:
    """A record as people read it: times in ``tz`` (UTC when unknown), counts in one number
    format, a report's letters with what they count under its rule set ``rules``."""

    def when(ms: int) -> str:
        return local_time(ms, tz) if tz else iso_utc(ms).replace("T", " ").replace("Z", " UTC")

    if isinstance(record, Report):
        meanings = FIELD_MEANINGS.get(rules or "", {})
        lines = [f"report of station {record.station}, {record.category} version "
                 f"{record.version}, stage {record.stage}, at {when(record.at)}"]
        for letter, value in record.fields.items():
            name = f"{letter} ({meanings[letter]})" if letter in meanings else letter
            lines.append(f"  {name}: {value:,}")
        lines.append("  votes: " + ", ".join(f"{c} {n:,}" for c, n in record.votes.items()))
        return lines
    if isinstance(record, Turnout):
        reg = record.registered
        registered = f"{reg.permanent:,} permanent" + (
            f", {reg.complementary:,} complementary" if reg.complementary is not None else "")
        counts = ", ".join(f"{k} ({COUNT_MEANINGS.get(k, k)}) {v:,}"
                           for k, v in record.counts.items())
        return [f"turnout of station {record.station} at {when(record.at)}",
                f"  registered: {registered}", f"  came: {counts}"]
    fields = record_to_json(record)
    return [f"{record.KIND}"] + [
        f"  {k}: {v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)}"
        for k, v in fields.items() if k != "kind"]
