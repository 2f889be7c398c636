"""``ledger validate``: an AEP file through its importer and the election rules, without a ledger.

The check an operator runs before publishing. A malformed file raises
:class:`~ledger.errors.InputError` (nothing is reported for it but that); a well-formed file gives
an :class:`~ledger.check.findings.AuditReport` whose errors are hard rule violations and whose
warnings are soft ones, each with the CSV line it came from.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from ledger.check.findings import AuditReport, Finding
from ledger.check.rules import RuleChecker
from ledger.errors import InputError, Where
from ledger.formats.records import Ballot, Election, Record
from ledger.importers import FORMATS, PV_FORMATS
from ledger.importers.aep_pv import PvRow
from ledger.importers.aep_turnout import TurnoutRow, read_turnout, turnout_time
from ledger.importers.manifest import Manifest, manifest_from_pv, read_manifest
from ledger.importers.pv_forms import NO_OPTIONS, PvOptions, pv_rows


def validate_pv(path: str | Path, *, tz: str, manifest: Manifest | None = None,
                fmt: str = "aep-pv", options: PvOptions = NO_OPTIONS) -> AuditReport:
    """Check every row of a PV file against its rule set, its ballot and the cross-record rules.

    Without ``manifest`` the competitors are the file's own: its ``-voturi`` columns (the BEC
    2019 form: its legend's names), and for a scoped category each constituency's ballot as its
    rows give it. A row repeating a station of the file is an error naming both lines.

    Raises:
        InputError: the file is not a well-formed PV file of form ``fmt``.
    """
    started = time.perf_counter()
    if manifest is None:
        manifest = manifest_from_pv([path], name=Path(path).name, date="1970-01-01", tz=tz,
                                    fmt=fmt, options=options)
    rows: Iterator[PvRow] = pv_rows(path, fmt=fmt, tz=manifest.election.tz, options=options)
    repeated: list[Finding] = []
    report = _run(path, fmt, manifest.election, _unrepeated(rows, str(path), repeated),
                  started, ballots=manifest.ballots)
    for finding in repeated:
        report.error(finding)
    report.entries += len(repeated)  # rows read, the refused ones too
    report.extra["rows"] = report.entries
    return report


def repeated_finding(row: PvRow, file: str) -> Finding:
    """The refusal of a row that repeats a station of its file (docs/records.md)."""
    return Finding(
        category="rules", code="IMPORT-REPEATED",
        message=f"station {row.station.id} already appears on line {row.repeats} of this file: "
                "row refused",
        where=Where(file=file, line=row.line, station=row.station.id, kind="report"),
    )


def _unrepeated(rows: Iterable[PvRow], file: str,
                repeated: list[Finding]) -> Iterator[tuple[int, str, int | None, Record]]:
    for r in rows:
        if r.repeats is not None:
            repeated.append(repeated_finding(r, file))
            continue
        yield r.line, r.station.id, r.station.siruta, r.report


def validate_turnout(path: str | Path, *, tz: str, at: str | None = None,
                     age_detail: bool = False) -> AuditReport:
    """Check every row of a turnout snapshot against the turnout rules.

    Raises:
        InputError: the file is not a well-formed AEP turnout file, or its time is unknown.
    """
    started = time.perf_counter()
    at_ms = turnout_time(path, at=at, tz=tz)
    day = datetime.fromtimestamp(at_ms // 1000, UTC).date().isoformat()
    election = Election(name=Path(path).name, date=day, tz=tz, categories={})
    rows: Iterator[TurnoutRow] = read_turnout(path, at=at_ms, age_detail=age_detail)
    report = _run(path, "aep-turnout", election,
                  ((r.line, r.station.id, r.station.siruta, r.turnout) for r in rows), started)
    report.extra["at"] = at_ms
    return report


def _run(path: str | Path, fmt: str, election: Election,
         rows: Iterable[tuple[int, str, int | None, Record]], started: float,
         ballots: Iterable[Ballot] = ()) -> AuditReport:
    checker = RuleChecker(election)
    report = AuditReport()
    name = str(path)
    for ballot in ballots:
        for v in checker.check(ballot):
            report.error(v.to_finding(file=name))
    stations: dict[str, int] = {}
    count = 0
    for line, station, siruta, record in rows:
        count += 1
        stations[station] = line
        checker.learn_station(station, siruta)
        for v in checker.check(record):
            finding = v.to_finding(file=name, line=line)
            (report.error if v.hard else report.warning)(finding)
    for v in checker.finish():
        finding = v.to_finding(file=name, line=stations.get(v.station or ""))
        (report.error if v.hard else report.warning)(finding)
    kind = "report" if fmt in PV_FORMATS else "turnout"
    report.entries = count
    report.stations = len(stations)
    report.records_by_kind[kind] = count
    report.seconds = time.perf_counter() - started
    report.extra.update({"format": fmt, "file": name, "rows": count})
    return report


def validate_file(path: str | Path, *, fmt: str, tz: str, at: str | None = None,
                  manifest: str | Path | None = None, age_detail: bool = False,
                  legend: str | Path | None = None, category: str | None = None,
                  ) -> AuditReport:
    """Validate ``path`` as ``fmt`` (one of :data:`FORMATS`); ``manifest`` is a JSON manifest.

    For the BEC 2019 form, ``legend`` is its legend file, ``category`` the category when the
    file name does not say it, ``at`` the reports' time.

    Raises:
        InputError: the file (or the manifest) is not a well-formed file of that kind.
        InputError: also an unknown format, or an option that does not apply to it.
    """
    if fmt != "bec2019-pv" and (legend is not None or category is not None):
        raise InputError("a legend file and a category apply to the BEC 2019 form only")
    if fmt == "aep-pv":
        if at is not None or age_detail:
            raise InputError("a snapshot time and age detail apply to turnout files only")
        election = read_manifest(manifest) if manifest is not None else None
        return validate_pv(path, tz=tz, manifest=election)
    if fmt == "bec2019-pv":
        if age_detail:
            raise InputError("age detail applies to turnout files only")
        election = read_manifest(manifest) if manifest is not None else None
        return validate_pv(path, tz=tz, manifest=election, fmt=fmt,
                           options=PvOptions(legend=legend, category=category, at=at))
    if fmt == "aep-turnout":
        if manifest is not None:
            raise InputError("an election manifest applies to PV files only")
        return validate_turnout(path, tz=tz, at=at, age_detail=age_detail)
    raise InputError(f"unknown format {fmt!r}: expected one of {', '.join(FORMATS)}")
