"""The election manifest (entry 0's ``election`` record): derived from a PV file or read as JSON.

Derived: one category per ``report_type_category_code`` found in the file (in order of first
appearance), its rule set from docs/records.md, "Election rules" and its competitors from the
``<NAME>-voturi`` columns. JSON: the record's JSON form (``record_to_json``), as ``ledger
manifest`` writes it.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ledger.errors import InputError, MalformedError, Where
from ledger.files import read_record_json
from ledger.formats.records import Category, Election, record_to_json
from ledger.formats.times import zone
from ledger.importers.aep_pv import PvHeader, read_pv, read_pv_header

#: Largest manifest file read (a few hundred competitors fit in a few KB).


def election_from_pv(path: str | Path, *, name: str, date: str, tz: str) -> Election:
    """The manifest of the election a PV file reports on (reads and checks the whole file).

    Raises:
        InputError: the file is not a well-formed PV file, or name, date or tz are invalid.
    """
    header = read_pv_header(path)
    codes = dict.fromkeys(row.report.category for row in read_pv(path, tz=tz))
    return _election(header, codes, name=name, date=date, tz=tz)


def election_for_header(header: PvHeader, *, name: str, date: str, tz: str) -> Election:
    """A manifest accepting every category code that fits ``header`` (for ``ledger validate``)."""
    return _election(header, header.categories(), name=name, date=date, tz=tz)


def _election(header: PvHeader, codes: Iterable[str], *, name: str, date: str, tz: str) -> Election:
    zone(tz)
    category = Category(rules=header.rule_set, competitors=header.competitors)
    try:
        return Election(name=name, date=date, tz=tz,
                        categories=dict.fromkeys(codes, category))
    except MalformedError as e:
        raise InputError(f"invalid manifest: {e.message}") from e


def read_manifest(path: str | Path) -> Election:
    """The election record in a JSON manifest file.

    Raises:
        InputError: unreadable, not JSON, not an ``election`` record, or an unknown time zone.
    """
    record = read_record_json(path)
    if not isinstance(record, Election):
        raise InputError(f"expected an election record, got {record.KIND!r}",
                         where=Where(file=str(path)))
    zone(record.tz)
    return record


def manifest_json(election: Election) -> dict[str, Any]:
    """The manifest's JSON form (what :func:`read_manifest` reads back)."""
    return record_to_json(election)
