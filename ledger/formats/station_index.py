"""The station index of a published tree (docs/spec.md, "Published form", "The station index"):
``stations/index.json`` (station id -> name) and one ``stations/<id>.json`` per station listing
the entry indexes of its registrations, turnouts, reports and revocations.

Pure: bytes <-> values and the index built from records in log order. The index is not
authenticated: readers prove every entry it points at, so a wrong index can hide a record but
never fake one.
"""

from __future__ import annotations

import itertools
import json
from array import array
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ledger.errors import MalformedError, Where
from ledger.formats.records import Record, Report, Revoke, Station, Turnout
from ledger.formats.records.ids import station_id_problem

STATIONS_DIR = "stations"
INDEX_FILE = f"{STATIONS_DIR}/index.json"
#: The lists of a station file, in the order they are written.
INDEX_KINDS = ("station", "turnout", "report", "revoke")
#: Byte limits on what a reader takes: a station file (one list entry is at most 21 bytes),
#: and the index of every station (a name is at most one entry).
MAX_STATION_FILE_BYTES = 16 << 20
MAX_INDEX_BYTES = 64 << 20


def station_file(station: str) -> str:
    """``stations/<id>.json``: the path of a station's file, for a valid station id only.

    Raises:
        MalformedError: ``station`` is not a station id (so never a path outside ``stations/``).
    """
    problem = station_id_problem(station) if type(station) is str else "not a string"
    if problem is not None:
        raise MalformedError(f"station id {str(station)[:80]!r}: {problem}",
                             code="bad-station-id", where=Where(station=str(station)[:80]))
    return f"{STATIONS_DIR}/{station}.json"


@dataclass(frozen=True, slots=True, kw_only=True)
class StationFile:
    """One ``stations/<id>.json``: the station, its name, and its entry indexes by kind."""

    station: str
    name: str
    entries: Mapping[str, tuple[int, ...]]


def format_station_file(station: StationFile) -> bytes:
    """The bytes of ``stations/<id>.json`` (compact JSON, UTF-8, one line)."""
    value = {"station": station.station, "name": station.name,
             "entries": {kind: list(station.entries.get(kind, ())) for kind in INDEX_KINDS}}
    return _dump(value)


def format_index(names: Mapping[str, str]) -> bytes:
    """The bytes of ``stations/index.json``: station id -> name, by station id."""
    return _dump(dict(sorted(names.items())))


def _dump(value: Any) -> bytes:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return (text + "\n").encode("utf-8")


def _bad(path: str, why: str, station: str | None = None) -> MalformedError:
    return MalformedError(f"station index {path}: {why}", category="tiles",
                          code="station-index-malformed", where=Where(file=path, station=station))


def _load(data: bytes, path: str) -> Any:
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise _bad(path, f"not UTF-8 JSON: {e}") from e


def parse_index(data: bytes, path: str = INDEX_FILE) -> dict[str, str]:
    """``stations/index.json`` as station id -> name.

    Raises:
        MalformedError: (category ``tiles``) not a JSON object of station ids to strings.
    """
    value = _load(data, path)
    if type(value) is not dict:
        raise _bad(path, "expected a JSON object of station id -> name")
    for station, name in value.items():
        if station_id_problem(station) is not None:
            raise _bad(path, f"{station[:80]!r} is not a station id")
        if type(name) is not str:
            raise _bad(path, f"the name of {station} is not a string", station)
    return value


def parse_station_file(data: bytes, path: str) -> StationFile:
    """One ``stations/<id>.json``.

    Raises:
        MalformedError: (category ``tiles``) not the object docs/spec.md describes: a station
            id, a name, and lists of entry indexes (non-negative integers, ascending).
    """
    value = _load(data, path)
    if type(value) is not dict or type(value.get("entries")) is not dict:
        raise _bad(path, 'expected {"station", "name", "entries": {...}}')
    station, name, lists = value.get("station"), value.get("name"), value["entries"]
    if type(station) is not str or station_id_problem(station) is not None:
        raise _bad(path, "its station is not a station id")
    if type(name) is not str:
        raise _bad(path, "its name is not a string", station)
    entries: dict[str, tuple[int, ...]] = {}
    for kind, indexes in lists.items():
        if kind not in INDEX_KINDS:
            raise _bad(path, f"unknown list {str(kind)[:40]!r}", station)
        if type(indexes) is not list or not all(type(i) is int and i >= 0 for i in indexes):
            raise _bad(path, f"entries.{kind} is not a list of entry indexes", station)
        if any(a >= b for a, b in itertools.pairwise(indexes)):
            raise _bad(path, f"entries.{kind} is not in ascending order", station)
        entries[kind] = tuple(indexes)
    return StationFile(station=station, name=name, entries=entries)


class StationIndexBuilder:
    """The station index of a log, built from its accepted records in log order.

    A ``revoke`` names a key id, not a station: it is listed under the station whose
    registration carried that key.
    """

    def __init__(self, *, earlier: Callable[[str], StationFile | None] | None = None,
                 owner_of: Callable[[bytes], str | None] | None = None) -> None:
        """An index kept up to date gives ``earlier`` (a station's file as written before, met
        again) and ``owner_of`` (the station of a key id registered before)."""
        self.names: dict[str, str] = {}
        # 8 bytes an entry (a list of ints takes about 36): the index lists every entry of a
        # log, 16.8M of them on an election day.
        self.lists: dict[str, dict[str, array[int]]] = {}
        self._owners: dict[bytes, str] = {}  # key id -> station
        self._earlier = earlier
        self._owner_of = owner_of

    def add(self, index: int, record: Record) -> str | None:
        """Note entry ``index``; return the station it is listed under, or None."""
        if type(record) is Turnout or type(record) is Report:  # the most of a log, first
            station: str | None = record.station
            known = self.lists.get(record.station)
            if known is not None:
                known[record.KIND].append(index)
                return station
        elif type(record) is Station:
            station = record.id
        elif type(record) is Revoke:
            station = self._owners.get(record.key)
            if station is None and self._owner_of is not None:
                station = self._owner_of(record.key)
        else:
            return None
        if station is None:
            return None
        lists = self.lists.get(station)
        if lists is None:
            before = None if self._earlier is None else self._earlier(station)
            if before is not None:
                self.extend(before)
                lists = self.lists[station]
            else:
                lists = self.lists[station] = {k: array("q") for k in INDEX_KINDS}
        if type(record) is Station:
            self.names[record.id] = record.name
            self._owners[record.key_id] = record.id
        lists[record.KIND].append(index)
        return station

    def extend(self, station: StationFile) -> None:
        """Start from a station's file as written before (an index kept up to date)."""
        self.names[station.station] = station.name
        self.lists[station.station] = {k: array("q", station.entries.get(k, ()))
                                       for k in INDEX_KINDS}

    def station_file(self, station: str) -> StationFile:
        """The file of ``station`` as the records so far give it."""
        lists = self.lists.get(station, {})
        return StationFile(station=station, name=self.names.get(station, ""),
                           entries={k: tuple(lists.get(k, ())) for k in INDEX_KINDS})

    def stations(self) -> Iterable[str]:
        """Every station listed, in the order first met."""
        return self.lists.keys()


def station_file_differences(station: str, published: StationFile | None,
                             expected: StationFile | None, size: int) -> list[tuple[int | None,
                                                                                     str]]:
    """How a published ``stations/<station>.json`` differs from the one the entries of the tree
    of ``size`` give (``expected``; None when no entry names the station), as (entry index or
    None, what is wrong) pairs; none when they agree.

    Entries at or past ``size`` are not judged: a publish writes the index before the
    checkpoint that covers them, and a station whose registration is past it is not named.
    """
    if published is None:
        return [] if expected is None else [(None, "is missing")]
    if published.station != station:
        return [(None, f"is the file of station {published.station!r}")]
    pending = any(i >= size for i in published.entries.get("station", ()))
    out: list[tuple[int | None, str]] = []
    if expected is not None and not pending and published.name != expected.name:
        out.append((None, f"names the station {published.name!r}, its registration "
                          f"{expected.name!r}"))
    for kind in INDEX_KINDS:
        listed = {i for i in published.entries.get(kind, ()) if i < size}
        real = set(() if expected is None else expected.entries.get(kind, ()))
        out += [(i, f"does not list entry {i}, a {kind} record of station {station}")
                for i in sorted(real - listed)]
        out += [(i, f"lists entry {i} as a {kind} record of station {station}, which it is not")
                for i in sorted(listed - real)]
    return out


def index_differences(station: str, names: Mapping[str, str], expected: StationFile | None,
                      pending: bool) -> str | None:
    """How ``stations/index.json`` (``names``) is wrong about ``station``, or None;
    ``pending``: the station's file lists a registration past the checkpoint."""
    if station not in names:
        return None if expected is None or not expected.entries.get("station") else \
            f"does not list station {station}, registered in the log"
    if pending:
        return None
    if expected is None or not expected.entries.get("station"):
        return f"lists station {station}, which no entry of the log registers"
    if names[station] != expected.name:
        return f"names station {station} {names[station]!r}, its registration {expected.name!r}"
    return None
