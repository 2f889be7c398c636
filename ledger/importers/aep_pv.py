"""The AEP results-report CSV (``pv_part_cntry_*.csv``, ``pv_prov_*``, ...), any category.

Header: twelve fixed columns, then exactly the letters of one rule set, then one
``<NAME>-voturi`` column per competitor. Each row becomes a ``report`` record: the rule set
follows ``report_type_category_code`` (docs/records.md, "Election rules"), ``created_at`` is local
time in the election's time zone, and the station is ``<county code>-<precinct_nr>``
(``<county code>-C<precinct_nr>`` for a mail-vote bureau). In a file of
a scoped category (one ballot per constituency) an empty vote cell means the competitor is not on
that constituency's ballot (0: on it, with no votes); elsewhere every cell is a count.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from ledger.check.rules import RULE_SETS
from ledger.errors import MalformedError
from ledger.formats.records import STAGES, Report
from ledger.formats.times import zone
from ledger.importers import AEP_CATEGORY_RULES, AEP_CATEGORY_SCOPES
from ledger.importers.csvfile import (
    CsvFile,
    parse_local_time,
    parse_uint,
    read_validated,
)
from ledger.importers.stations import NCE_CODES, StationInfo, station_id

FIXED_COLUMNS = (
    "precinct_county_nce", "precinct_county_name", "precinct_name", "precinct_nr", "uat_name",
    "uat_siruta", "report_version", "report_stage_code", "report_type_scope_code",
    "report_type_category_code", "report_type_code", "created_at",
)
VOTES_SUFFIX = "-voturi"


@dataclass(frozen=True, slots=True, kw_only=True)
class PvHeader:
    """What a PV file's header says: its rule set's letters and its competitors, in order."""

    letters: tuple[str, ...]
    rule_set: str
    competitors: tuple[str, ...]

    def categories(self) -> tuple[str, ...]:
        """The AEP category codes whose rule set has exactly this file's letters."""
        return tuple(code for code, rules in AEP_CATEGORY_RULES.items()
                     if rules == self.rule_set)


@dataclass(frozen=True, slots=True, kw_only=True)
class PvRow:
    """One PV row: its line, the station it describes and the report it carries."""

    line: int
    station: StationInfo
    report: Report
    #: The line of an earlier row of the same file for this station (the row is refused).
    repeats: int | None = None


def parse_pv_header(file: CsvFile) -> PvHeader:
    """Check a PV header (fixed columns, one rule set's letters, ``-voturi`` columns).

    Raises:
        InputError: naming the first column that does not fit.
    """
    header = file.header
    for i, expected in enumerate(FIXED_COLUMNS):
        if i >= len(header) or header[i] != expected:
            found = header[i] if i < len(header) else None
            raise file.error(f"not an AEP PV header: expected column {expected!r} here, "
                             f"found {found!r}", line=1, column=expected)
    rest = header[len(FIXED_COLUMNS):]
    split = next((i for i, name in enumerate(rest) if name.endswith(VOTES_SUFFIX)), len(rest))
    letters = tuple(rest[:split])
    rule_set = next((s.name for s in RULE_SETS.values() if set(s.letters) == set(letters)), None)
    if rule_set is None:
        raise file.error(f"the letter columns {list(letters)} are not those of any rule set",
                         line=1, column=_odd_letter(letters))
    competitors = []
    for name in rest[split:]:
        competitor = name[: -len(VOTES_SUFFIX)]
        if not name.endswith(VOTES_SUFFIX) or not competitor.strip():
            raise file.error(f"expected a '<NAME>{VOTES_SUFFIX}' competitor column",
                             line=1, column=name)
        competitors.append(competitor)
    if not competitors:
        raise file.error(f"no '<NAME>{VOTES_SUFFIX}' competitor column", line=1)
    return PvHeader(letters=letters, rule_set=rule_set, competitors=tuple(competitors))


def _odd_letter(letters: tuple[str, ...]) -> str | None:
    # Name the first column that the closest rule set does not have (else the first letter).
    closest = max(RULE_SETS.values(), key=lambda s: len(set(s.letters) & set(letters)))
    extra = [name for name in letters if name not in closest.letters]
    return extra[0] if extra else (letters[0] if letters else None)


def read_pv_header(path: str | Path) -> PvHeader:
    """The header of the PV file at ``path`` (reads only up to the first row).

    Raises:
        InputError: the file cannot be read or its header is not a PV header.
    """
    file = CsvFile(path)
    headers: list[PvHeader] = []
    rows = file.rows(on_header=lambda: headers.append(parse_pv_header(file)))
    try:
        next(rows, None)
    finally:
        rows.close()
    return headers[0]


@dataclass(frozen=True, slots=True)
class _Layout:
    header: PvHeader
    letters: list[tuple[int, str]]
    votes: list[tuple[int, str, str]]


def _layout(file: CsvFile) -> _Layout:
    header = parse_pv_header(file)
    first_letter = len(FIXED_COLUMNS)
    first_vote = first_letter + len(header.letters)
    letters = sorted(((first_letter + i, name) for i, name in enumerate(header.letters)),
                     key=lambda item: item[1])
    votes = [(first_vote + i, name + VOTES_SUFFIX, name)
             for i, name in enumerate(header.competitors)]
    return _Layout(header, letters, votes)


def _read(file: CsvFile, tz_name: str) -> Iterator[PvRow]:
    tz = zone(tz_name)
    layouts: list[_Layout] = []
    for row in file.rows(on_header=lambda: layouts.append(_layout(file))):
        yield _row(file, layouts[0], tz, row.cells, row.line)


def _row(file: CsvFile, layout: _Layout, tz: ZoneInfo, cells: list[str], line: int) -> PvRow:
    nce = parse_uint(file, cells[0], line, "precinct_county_nce")
    code = NCE_CODES.get(nce)
    if code is None:
        raise file.error(f"unknown county number {nce}", line=line, column="precinct_county_nce")
    category = cells[9]
    if AEP_CATEGORY_RULES.get(category) != layout.header.rule_set:
        raise file.error(
            f"category {category!r} does not use the {layout.header.rule_set} letters of this "
            "file's header", line=line, column="report_type_category_code")
    stage = cells[7]
    if stage not in STAGES:
        raise file.error(f"stage must be PROV, PART or FINAL, got {stage!r}", line=line,
                         column="report_stage_code")
    number = parse_uint(file, cells[3], line, "precinct_nr")
    siruta = parse_uint(file, cells[5], line, "uat_siruta") if cells[5] else None
    sid = station_id(code, number, mail=layout.header.rule_set == "mail")
    version = parse_uint(file, cells[6], line, "report_version")
    at = parse_local_time(file, cells[11], tz, line, "created_at")
    fields = {name: parse_uint(file, cells[i], line, name) for i, name in layout.letters}
    if category in AEP_CATEGORY_SCOPES:  # an empty cell: not on this constituency's ballot
        votes = {name: parse_uint(file, cells[i], line, column)
                 for i, column, name in layout.votes if cells[i] != ""}
    else:
        votes = {name: parse_uint(file, cells[i], line, column)
                 for i, column, name in layout.votes}
    try:
        report = Report(station=sid, category=category, version=version, stage=stage, at=at,
                        fields=fields, votes=votes)
        station = StationInfo(id=sid, county=cells[1], number=number, name=cells[2],
                              siruta=siruta, uat=cells[4] or None)
    except MalformedError as e:  # pragma: no cover - every field was parsed above
        raise file.error(e.message, line=line) from e
    return PvRow(line=line, station=station, report=report)


def read_pv(path: str | Path, *, tz: str) -> Iterator[PvRow]:
    """Stream the rows of a PV file in one pass (for checks that write nothing).

    Raises:
        InputError: at the first malformed row, after the rows before it were yielded.
    """
    return _read(CsvFile(path), tz)


def import_pv(path: str | Path, *, tz: str) -> Iterator[PvRow]:
    """Stream the rows of a PV file only after the whole file was read and checked.

    Raises:
        InputError: any malformed row (before the first row is yielded), or the file changed.
    """
    return read_validated(path, lambda file: _read(file, tz))
