"""The AEP turnout CSV (``presence_*.csv``): the 2018 form, the 2019-2021 form and the 2024 form.

Columns are recognised by name (SOURCES.md): the station columns, the registered voters
(``Votanti lista`` / ``Votanti pe lista permanenta`` / ``Înscriși pe liste permanente``, and the
complementary list where there is one), the counters ``LP, LS, LSC, UM, LC, LT`` and the sex x
age columns (``Barbati 18-24`` -> bucket ``M-18-24``, ``Femei 65+`` -> ``F-65+``; one-year columns
``Barbati 18`` -> ``M-18`` only with ``age_detail``). Any other column refuses the file. A
snapshot's time is not in the file: it is given, or read from the ``YYYY-MM-DD_HH-MM`` in its name.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ledger.errors import InputError
from ledger.formats.records import Registered, Turnout
from ledger.formats.times import parse_time
from ledger.importers.csvfile import CsvFile, parse_uint, read_validated
from ledger.importers.stations import COUNTY_CODES, StationInfo, station_id

STATION_COLUMNS = ("Judet", "UAT", "Localitate", "Siruta", "Nr sectie de votare",
                   "Nume sectie de votare", "Mediu")
PERMANENT_COLUMNS = frozenset({"Votanti lista", "Votanti pe lista permanenta",
                               "Înscriși pe liste permanente"})
COMPLEMENTARY_COLUMNS = frozenset({"Votanti pe lista complementara",
                                   "Înscriși pe liste complementare"})
COUNT_COLUMNS = frozenset({"LP", "LS", "LSC", "UM", "LC", "LT"})
REQUIRED_COUNTS = ("LP", "LS", "UM", "LT")

_BUCKET = re.compile(r"(Barbati|Femei) ([0-9]{2,3})(-[0-9]{2,3}|\+)?")
_SEX = {"Barbati": "M", "Femei": "F"}
_FILE_TIME = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2})_([0-9]{2})-([0-9]{2})")
# Romanian letters written with a cedilla in older files, and the comma-below form we match on.
_COMMA_BELOW = str.maketrans("şţŞŢ", "șțȘȚ")


@dataclass(frozen=True, slots=True, kw_only=True)
class TurnoutRow:
    """One turnout row: its line, the station it describes and its turnout record."""

    line: int
    station: StationInfo
    turnout: Turnout


@dataclass(frozen=True, slots=True, kw_only=True)
class _Layout:
    station: dict[str, int]
    permanent: tuple[int, str]
    complementary: tuple[int, str] | None
    counts: list[tuple[int, str]]
    buckets: list[tuple[int, str, str]]
    skipped: list[tuple[int, str]]


def _normal(name: str) -> str:
    return unicodedata.normalize("NFC", name).translate(_COMMA_BELOW)


def _layout(file: CsvFile, age_detail: bool) -> _Layout:
    station: dict[str, int] = {}
    permanent: tuple[int, str] | None = None
    complementary: tuple[int, str] | None = None
    counts: list[tuple[int, str]] = []
    buckets: list[tuple[int, str, str]] = []
    skipped: list[tuple[int, str]] = []
    for i, column in enumerate(file.header):
        name = _normal(column)
        bucket = _BUCKET.fullmatch(name)
        if name in STATION_COLUMNS:
            station[name] = i
        elif name in PERMANENT_COLUMNS and permanent is None:
            permanent = (i, column)
        elif name in COMPLEMENTARY_COLUMNS and complementary is None:
            complementary = (i, column)
        elif name in COUNT_COLUMNS:
            counts.append((i, name))
        elif bucket is not None:
            sex, low, high = bucket.groups()
            key = f"{_SEX[sex]}-{low}{high or ''}"
            if high is None and not age_detail:
                skipped.append((i, column))
            else:
                buckets.append((i, column, key))
        else:
            raise file.error("not a column of an AEP turnout file", line=1, column=column)
    missing = [c for c in STATION_COLUMNS if c not in station]
    missing += [c for c in REQUIRED_COUNTS if c not in {name for _, name in counts}]
    if permanent is None:
        missing.append("Votanti lista")
    if missing or permanent is None:
        raise file.error(f"not an AEP turnout header: missing columns {missing}", line=1,
                         column=missing[0])
    return _Layout(station=station, permanent=permanent, complementary=complementary,
                   counts=sorted(counts, key=lambda c: c[1]),
                   buckets=sorted(buckets, key=lambda b: b[2]), skipped=skipped)


def _read(file: CsvFile, at: int, age_detail: bool) -> Iterator[TurnoutRow]:
    layouts: list[_Layout] = []
    seen: dict[str, int] = {}
    for row in file.rows(on_header=lambda: layouts.append(_layout(file, age_detail))):
        result = _row(file, layouts[0], at, row.cells, row.line)
        earlier = seen.setdefault(result.station.id, row.line)
        if earlier != row.line:
            raise file.error(f"station {result.station.id} already appears on line {earlier}",
                             line=row.line, column="Nr sectie de votare")
        yield result


def _row(file: CsvFile, layout: _Layout, at: int, cells: list[str], line: int) -> TurnoutRow:
    s = layout.station
    code = cells[s["Judet"]]
    if code not in COUNTY_CODES:
        raise file.error(f"unknown county code {code!r}", line=line, column="Judet")
    number = parse_uint(file, cells[s["Nr sectie de votare"]], line, "Nr sectie de votare")
    siruta_text = cells[s["Siruta"]]
    sid = station_id(code, number)
    station = StationInfo(
        id=sid, county=code, number=number, name=cells[s["Nume sectie de votare"]],
        siruta=parse_uint(file, siruta_text, line, "Siruta") if siruta_text else None,
        uat=cells[s["UAT"]] or None, locality=cells[s["Localitate"]] or None,
        medium=cells[s["Mediu"]] or None,
    )
    index, column = layout.permanent
    permanent = parse_uint(file, cells[index], line, column)
    complementary = None
    if layout.complementary is not None:
        index, column = layout.complementary
        complementary = parse_uint(file, cells[index], line, column)
    counts = {name: parse_uint(file, cells[i], line, name) for i, name in layout.counts}
    buckets = {key: parse_uint(file, cells[i], line, column) for i, column, key in layout.buckets}
    for i, column in layout.skipped:
        parse_uint(file, cells[i], line, column)
    turnout = Turnout(station=sid, at=at,
                      registered=Registered(permanent=permanent, complementary=complementary),
                      counts=counts, buckets=buckets or None)
    return TurnoutRow(line=line, station=station, turnout=turnout)


def turnout_time(path: str | Path, *, at: str | None, tz: str) -> int:
    """A snapshot's time in ms UTC: ``at`` if given, else the ``YYYY-MM-DD_HH-MM`` in its name.

    ``at`` is ``YYYY-MM-DD HH:MM[:SS]`` (or with ``T``), local time in ``tz`` unless it ends in
    ``Z`` or an offset; the file-name time is local time in ``tz``.

    Raises:
        InputError: no time given and none in the file name, or a time that cannot be read.
    """
    if at is not None:
        return parse_time(at, tz, what="snapshot time")
    match = _FILE_TIME.search(Path(path).name)
    if match is None:
        raise InputError(f"{path}: no YYYY-MM-DD_HH-MM in the file name: the snapshot time "
                         "must be given")
    return parse_time(f"{match.group(1)} {match.group(2)}:{match.group(3)}", tz,
                      what=f"{Path(path).name}: the time in the name")


def read_turnout(path: str | Path, *, at: int, age_detail: bool = False) -> Iterator[TurnoutRow]:
    """Stream the rows of a turnout snapshot taken at ``at`` (ms UTC), in one pass.

    Raises:
        InputError: at the first malformed row, after the rows before it were yielded.
    """
    return _read(CsvFile(path), at, age_detail)


def import_turnout(path: str | Path, *, at: int, age_detail: bool = False,
                   ) -> Iterator[TurnoutRow]:
    """Stream a turnout snapshot only after the whole file was read and checked.

    Raises:
        InputError: any malformed row (before the first row is yielded), or the file changed.
    """
    return read_validated(path, lambda file: _read(file, at, age_detail))
