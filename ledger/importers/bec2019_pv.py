"""The BEC 2019 results form (``pv_[<scope>_]<category>_FINAL*.csv``) and its legend file
(docs/records.md, "The BEC 2019 PV form").

Header: ``Cod birou electoral, Județ, Uat, [Siruta,] Localitate, Secție, Nr, Tip, [Versiune,]``
then one rule set's letters (European files add the free-text ``h``, ``i``, left out of the
record), then ``g1..gN`` (mail: ``e1..eN``), whose names are only in the legend, in its section
headed ``Fișierul <file name>``. What the form does not say is given or fixed here: the category
comes from the file name (a ``-`` reads ``_``) unless given; the stage is ``FINAL``; the version
is ``Versiune`` where present, else 1; ``at`` is given (the rows carry no time); the county is
the form's own code (1-41 the counties, 42-47 Bucharest's sectors, 48 abroad); a mail-vote
bureau is ``SR-C<Nr>``. A row repeating a station of the same file carries the earlier line
(:attr:`~ledger.importers.aep_pv.PvRow.repeats`): the caller refuses it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from ledger.check.rules import RULE_SETS
from ledger.errors import InputError, MalformedError, Where
from ledger.formats.records import Report
from ledger.formats.records.ids import COUNTY_CODES_IN_ORDER
from ledger.importers import AEP_CATEGORY_RULES
from ledger.importers.aep_pv import PvHeader, PvRow
from ledger.importers.csvfile import CsvFile, parse_uint, read_validated
from ledger.importers.stations import StationInfo, station_id

#: The form's ``Cod birou electoral`` -> county code (SOURCES.md, "The BEC 2019 form").
BEC_CODES: Mapping[int, str] = {
    **dict(enumerate(COUNTY_CODES_IN_ORDER[:41], start=1)),
    **dict.fromkeys(range(42, 48), "B"),
    48: "SR",
}
#: Station columns, in header order; ``Siruta`` and ``Versiune`` may be missing (European 2019).
STATION_COLUMNS = ("Cod birou electoral", "Județ", "Uat", "Siruta", "Localitate", "Secție", "Nr",
                   "Tip", "Versiune")
OPTIONAL_COLUMNS = frozenset({"Siruta", "Versiune"})
#: Free-text columns (seal status, e.g. ``INTACTE``) left out of the record.
FREE_TEXT_COLUMNS = frozenset({"h", "i"})
STAGE = "FINAL"

_VOTE = re.compile(r"([ge])([1-9][0-9]*)")
_FILE_NAME = re.compile(r"pv_(?:([A-Za-z]+)_)?([A-Z0-9-]+)_FINAL[^/]*\.csv")
_SECTION = re.compile(r"Fi[șş]ierul\s+(\S+)\s*")
_LEGEND_LINE = re.compile(r"([A-Za-z0-9]+)\s*=\s*(.*\S)\s*")
#: Largest legend file read.
MAX_LEGEND_BYTES = 1 << 20


def is_bec2019_header(first_line: bytes) -> bool:
    """True when a file's first line (BOM removed) is a BEC 2019 form header."""
    return first_line.startswith((b'"Cod birou electoral",', b"Cod birou electoral,"))


def category_from_name(path: str | Path) -> str | None:
    """The AEP category code a BEC 2019 file name gives (``PRSD-C`` reads ``PRSD_C``)."""
    match = _FILE_NAME.fullmatch(Path(path).name)
    return None if match is None else match.group(2).replace("-", "_")


@dataclass(frozen=True, slots=True)
class Legend:
    """A legend file: for each CSV file name it describes, its column -> meaning, in order."""

    path: str
    sections: Mapping[str, Mapping[str, str]]

    def competitors(self, csv_name: str, columns: tuple[str, ...]) -> tuple[str, ...]:
        """The names of ``columns`` (``g1``...) in the section of ``csv_name``.

        Raises:
            InputError: no such section, or a column it does not name.
        """
        section = self.sections.get(csv_name)
        if section is None:
            raise InputError(f"no section 'Fișierul {csv_name}' in the legend file",
                             where=Where(file=self.path))
        missing = [c for c in columns if c not in section]
        if missing:
            raise InputError(f"the legend's section of {csv_name} does not name the columns "
                             f"{missing}", where=Where(file=self.path, column=missing[0]))
        return tuple(section[c] for c in columns)


def read_legend(path: str | Path) -> Legend:
    """Read a legend file: ``Fișierul <name>`` headings, then ``<column> = <meaning>`` lines.

    Raises:
        InputError: unreadable, not UTF-8, too large, or a line that is neither.
    """
    where = Where(file=str(path))
    try:
        data = Path(path).read_bytes()[: MAX_LEGEND_BYTES + 1]
    except OSError as e:
        raise InputError(f"cannot read the legend file: {e.strerror or e}", where=where) from e
    if len(data) > MAX_LEGEND_BYTES:
        raise InputError(f"a legend file is at most {MAX_LEGEND_BYTES} bytes", where=where)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError("the legend file is not UTF-8", where=where) from e
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        heading = _SECTION.fullmatch(line)
        entry = _LEGEND_LINE.fullmatch(line)
        if heading is not None:
            current = sections.setdefault(heading.group(1), {})
        elif entry is not None and current is not None:
            current[entry.group(1)] = entry.group(2)
        else:
            raise InputError("expected 'Fișierul <file name>' or '<column> = <meaning>'",
                             where=Where(file=str(path), line=number))
    return Legend(path=str(path), sections=sections)


@dataclass(frozen=True, slots=True)
class _Layout:
    header: PvHeader
    category: str
    station: dict[str, int]
    letters: list[tuple[int, str]]
    votes: list[tuple[int, str, str]]


def _layout(file: CsvFile, legend: Legend | None, category: str | None) -> _Layout:
    header = file.header
    station: dict[str, int] = {}
    position = 0
    for name in STATION_COLUMNS:
        if position < len(header) and header[position] == name:
            station[name] = position
            position += 1
        elif name not in OPTIONAL_COLUMNS:
            found = header[position] if position < len(header) else None
            raise file.error(f"not a BEC 2019 PV header: expected column {name!r} here, found "
                             f"{found!r}", line=1, column=name)
    rest = list(enumerate(header))[position:]
    votes = [(i, name) for i, name in rest if _VOTE.fullmatch(name)]
    letters = [(i, name) for i, name in rest
               if not _VOTE.fullmatch(name) and name not in FREE_TEXT_COLUMNS]
    if not votes:
        raise file.error("no g<N> (or e<N>) competitor column", line=1)
    if rest[-len(votes):] != votes:
        raise file.error("the competitor columns must come last", line=1,
                         column=next(n for i, n in rest[-len(votes):] if (i, n) not in votes))
    names = {name for _, name in letters}
    rule_set = next((s.name for s in RULE_SETS.values() if set(s.letters) == names), None)
    if rule_set is None:
        raise file.error(f"the letter columns {sorted(names)} are not those of any rule set",
                         line=1, column=letters[0][1] if letters else None)
    code = category if category is not None else category_from_name(file.path)
    if code is None:
        raise file.error("no category in the file name (pv_[<scope>_]<category>_FINAL...): "
                         "the category must be given")
    if AEP_CATEGORY_RULES.get(code) != rule_set:
        raise file.error(f"category {code!r} does not use the {rule_set} letters of this file's "
                         "header", line=1)
    if set(FREE_TEXT_COLUMNS) & set(header) and rule_set != "european":
        raise file.error("free-text columns h, i belong to the European form only", line=1,
                         column="h")
    columns = tuple(name for _, name in votes)
    competitors = (legend.competitors(file.path.name, columns) if legend is not None
                   else columns)
    if len(set(competitors)) != len(competitors):
        raise file.error("two competitor columns have the same name in the legend", line=1)
    return _Layout(
        header=PvHeader(letters=tuple(n for _, n in letters), rule_set=rule_set,
                        competitors=competitors),
        category=code, station=station, letters=sorted(letters, key=lambda item: item[1]),
        votes=[(i, column, name) for (i, column), name in zip(votes, competitors, strict=True)],
    )


def _read(file: CsvFile, at: int, legend: Legend | None,
          category: str | None) -> Iterator[PvRow]:
    layouts: list[_Layout] = []
    seen: dict[str, int] = {}
    for row in file.rows(on_header=lambda: layouts.append(_layout(file, legend, category))):
        result = _row(file, layouts[0], at, row.cells, row.line)
        earlier = seen.setdefault(result.station.id, row.line)
        if earlier != row.line:
            result = PvRow(line=result.line, station=result.station, report=result.report,
                           repeats=earlier)
        yield result


def _row(file: CsvFile, layout: _Layout, at: int, cells: list[str], line: int) -> PvRow:
    s = layout.station
    office = parse_uint(file, cells[s["Cod birou electoral"]], line, "Cod birou electoral")
    code = BEC_CODES.get(office)
    if code is None:
        raise file.error(f"unknown electoral bureau code {office}", line=line,
                         column="Cod birou electoral")
    number = parse_uint(file, cells[s["Nr"]], line, "Nr")
    if number == 0:
        raise file.error("a station number is positive", line=line, column="Nr")
    mail = layout.header.rule_set == "mail"
    if mail and code != "SR":
        raise file.error("a mail-vote bureau is abroad (code 48)", line=line,
                         column="Cod birou electoral")
    sid = station_id(code, number, mail=mail)
    siruta = None
    if "Siruta" in s and cells[s["Siruta"]]:
        siruta = parse_uint(file, cells[s["Siruta"]], line, "Siruta")
    version = parse_uint(file, cells[s["Versiune"]], line, "Versiune") if "Versiune" in s else 1
    fields = {name: parse_uint(file, cells[i], line, name) for i, name in layout.letters}
    votes = {name: parse_uint(file, cells[i], line, column) for i, column, name in layout.votes}
    try:
        report = Report(station=sid, category=layout.category, version=version, stage=STAGE,
                        at=at, fields=fields, votes=votes)
        station = StationInfo(id=sid, county=cells[s["Județ"]], number=number,
                              name=cells[s["Secție"]], siruta=siruta,
                              uat=cells[s["Uat"]] or None,
                              locality=cells[s["Localitate"]] or None)
    except MalformedError as e:
        raise file.error(e.message, line=line) from e
    return PvRow(line=line, station=station, report=report)


def read_bec2019_header(path: str | Path, *, legend: Legend | None = None,
                        category: str | None = None) -> PvHeader:
    """The header of a BEC 2019 file (competitors named by ``legend`` when given).

    Raises:
        InputError: unreadable, or not a BEC 2019 header.
    """
    file = CsvFile(path)
    layouts: list[_Layout] = []
    rows = file.rows(on_header=lambda: layouts.append(_layout(file, legend, category)))
    try:
        next(rows, None)
    finally:
        rows.close()
    return layouts[0].header


def read_bec2019(path: str | Path, *, at: int, legend: Legend | None = None,
                 category: str | None = None) -> Iterator[PvRow]:
    """Stream the rows of a BEC 2019 file in one pass; reports dated ``at`` (ms UTC).

    Without ``legend`` the competitors are the column names (``g1``...).

    Raises:
        InputError: at the first malformed row, after the rows before it were yielded.
    """
    return _read(CsvFile(path), at, legend, category)


def import_bec2019(path: str | Path, *, at: int, legend: Legend | None = None,
                   category: str | None = None) -> Iterator[PvRow]:
    """Stream a BEC 2019 file only after the whole file was read and checked.

    Raises:
        InputError: any malformed row (before the first row is yielded), or the file changed.
    """
    return read_validated(path, lambda file: _read(file, at, legend, category))
