"""`ledger tally SOURCE --pub FILE`: the results and the turnout, from the audited log."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import click

from ledger.auditor.tally import Tally, TallyBuilder, Totals
from ledger.auditor.verify import verify
from ledger.errors import InputError, Where
from ledger.files import read_bounded
from ledger.formats.notes import MAX_NOTE_SIZE

from ..app import exit_code_for_findings
from ..output import emit_json, exit_when_done, json_option
from ..sources import (
    note_passed_over,
    open_log,
    refuse_split_sources,
    source_warnings,
    sources_option,
)
from ..trust import read_trust, trust_options

#: Competitors and counties printed on the terminal per category (all of them are in --json).
SHOW = 12


@click.command("tally", short_help="Results and turnout from the audited log.")
@click.argument("source", metavar="[SOURCE]", required=False)
@sources_option
@trust_options
@click.option("--stage", type=click.Choice(["FINAL"]), default=None,
              help="Count each station's latest FINAL report only (default: its latest).")
@click.option("--csv", "csv_dir", metavar="DIR", default=None,
              help="Also write one CSV file per table into DIR (made when missing).")
@click.option("--chart", "chart_dir", metavar="DIR", default=None,
              help="Also write PNG charts into DIR: results per competitor, turnout through "
                   "the day (needs the plots extra: matplotlib).")
@click.option("--trusted", metavar="CHECKPOINT", default=None,
              help="A checkpoint you trust: the log must extend it (as for ledger verify).")
@click.option("--state", metavar="FILE", default=None,
              help="Your state file, with the tally in it: read only what is new (as for "
                   "ledger verify); rewritten after a run without errors.")
@click.option("--workers", type=click.IntRange(min=1), default=None, metavar="N",
              help="Processes checking signatures (default: every core).")
@json_option
@click.pass_context
def tally_command(ctx: click.Context, source: str | None, more_sources: tuple[str, ...],
                  pub: str | None, policy: str | None,
                  stage: str | None, csv_dir: str | None, chart_dir: str | None,
                  trusted: str | None, state: str | None, workers: int | None,
                  as_json: bool) -> None:
    """Verify the log at SOURCE as `ledger verify` does and, in the same run, add up what its
    records say: votes per competitor (nationally, per county, per UAT, per constituency),
    field totals, stations that reported, and the turnout through the day.

    A log with errors is tallied from its accepted entries only, the errors come first and
    the exit is 1.
    """
    files = read_trust(pub, policy)
    trusted_note = None if trusted is None else read_bounded(trusted, MAX_NOTE_SIZE,
                                                             "a checkpoint")
    builder = TallyBuilder(stage=stage)
    with open_log(source, more_sources, files) as log:
        trust = files.resolve(log.read_checkpoint)
        refuse_split_sources(log, trust.log_key, None)
        report = verify(log, trust.log_key, workers=workers, policy=trust.policy,
                        trusted=trusted_note, state_path=state, tally=builder)
        source_warnings(log, report)
        note_passed_over(log)
    tally = builder.result(origin=report.origin or "", tree_size=report.tree_size or 0,
                           errors=len(report.errors))
    code = exit_code_for_findings([f.category for f in report.errors])
    exit_when_done(ctx, report.ok, code)
    if csv_dir is not None:
        write_csv(tally, Path(csv_dir))
    if chart_dir is not None:
        from ..charts import write_charts  # matplotlib only when charts are asked for

        write_charts(tally, Path(chart_dir),
                     tz=builder.election.tz if builder.election is not None else "UTC")
    if as_json:
        emit_json({"ok": report.ok, "errors": [e.to_json() for e in report.errors],
                   "resumed_from": report.extra.get("resumed_from"), "tally": tally.to_json()})
    else:
        for error in report.errors:
            click.echo(f"error [{error.category}] {error.describe()}")
        if "resumed_from" in report.extra:
            click.echo(f"(resumed from the state file at size {report.extra['resumed_from']:,})")
        _print(tally)
    if code:
        ctx.exit(code)


def _print(tally: Tally) -> None:
    state = ("" if not tally.errors else
             f" (the log has {tally.errors:,} errors: refused entries count nothing)")
    click.echo(f"tally of {tally.origin} at tree size {tally.tree_size:,}, "
               f"{tally.stage or 'latest'} reports{state}")
    for code, category in tally.categories.items():
        registered = tally.stations
        click.echo(f"\n{code} ({category.rules}): {category.reported:,} of {registered:,} "
                   f"stations reported ({category.station_signed:,} station-signed, "
                   f"{category.publisher_signed:,} publisher-signed)")
        _print_totals(category.national)
        if category.scope is not None:
            click.echo(f"  by {category.scope}: {len(category.by_constituency):,} "
                       "constituencies (winners in --json and --csv)")
    for name, totals in tally.combined.items():
        click.echo(f"\n{name} (precincts and mail combined):")
        _print_totals(totals)
    curve = tally.turnout_national
    if curve.points:
        share = curve.to_json()["share"]
        click.echo(f"\nturnout: LT {curve.final_lt:,}"
                   + (f" of {curve.registered:,} registered ({share:.2f}%)" if share else ""))
    if tally.turnout_by_county:
        click.echo("  " + ", ".join(f"{county} {c.final_lt:,}" for county, c
                                    in list(tally.turnout_by_county.items())[:SHOW])
                   + (" ..." if len(tally.turnout_by_county) > SHOW else ""))
    if tally.lt_differs_from_b:
        n = len(tally.lt_differs_from_b)
        click.echo(f"  {n:,} {'station' if n == 1 else 'stations'} whose last turnout LT "
                   "differs from their report's b")


def _print_totals(totals: Totals) -> None:
    shares = totals.shares()
    ranked = sorted(totals.votes.items(), key=lambda item: -item[1])
    for name, votes in ranked[:SHOW]:
        click.echo(f"  {name:<40} {votes:>12,}  {shares[name]:6.2f}%")
    if len(ranked) > SHOW:
        click.echo(f"  ... and {len(ranked) - SHOW} more (see --json)")
    click.echo(f"  {'valid votes':<40} {totals.valid:>12,}")


def write_csv(tally: Tally, directory: Path) -> None:
    """One CSV per table: per category national, by county, by UAT, by constituency; turnout."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for code, category in tally.categories.items():
            tables = {"national": {"national": category.national}, "by-county": category.by_county,
                      "by-uat": category.by_uat, "by-constituency": category.by_constituency}
            for name, rows in tables.items():
                if rows:
                    _write_totals(directory / f"{code}-{name}.csv", rows)
        rows_out: list[list[Any]] = [["county", "at", "LT"]]
        for county, curve in tally.turnout_by_county.items():
            rows_out += [[county, point["at"], point["LT"]] for point in curve.to_json()["points"]]
        _write_rows(directory / "turnout-by-county.csv", rows_out)
    except OSError as e:
        raise InputError(f"cannot write the CSV files: {e.strerror or e}",
                         where=Where(file=str(directory))) from e


def _write_totals(path: Path, rows: dict[str, Totals] | Any) -> None:
    names: list[str] = []
    for totals in rows.values():
        names += [n for n in totals.votes if n not in names]
    out: list[list[Any]] = [["where", "stations", "valid votes", *names]]
    for where, totals in rows.items():
        votes = [totals.votes.get(n, "") for n in names]
        out.append([where, totals.stations, totals.valid, *votes])
    _write_rows(path, out)


def _write_rows(path: Path, rows: list[list[Any]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)
