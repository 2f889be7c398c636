"""The election manifest: entry 0's ``election`` record and the ``ballot`` records of its scoped
categories, derived from PV files or read as JSON (docs/records.md, "The manifest file").

Derived: one category per ``report_type_category_code`` found in the files (in order of first
appearance), its rule set from docs/records.md, "Election rules"; a national category's
competitors are the ``<NAME>-voturi`` columns, a scoped one (``S``, ``CD``, ``P``, ...) gets one
ballot per constituency: the competitors whose vote cell is not empty in its rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledger.check.rules import RuleChecker
from ledger.errors import InputError, MalformedError, Where
from ledger.files import read_json
from ledger.formats.records import (
    Ballot,
    Category,
    Election,
    record_from_json,
    record_to_json,
)
from ledger.formats.records.ids import county_of
from ledger.formats.times import zone
from ledger.importers import AEP_CATEGORY_SCOPES
from ledger.importers.pv_forms import NO_OPTIONS, PvOptions, pv_header, pv_rows

#: Largest manifest file read: the ~3,200 ballots of local elections fit in a few MB.
MAX_MANIFEST_FILE = 64 << 20


@dataclass(frozen=True, slots=True)
class Manifest:
    """An election record and the ballots of its scoped categories, in order."""

    election: Election
    ballots: tuple[Ballot, ...] = ()


def manifest_from_pv(paths: Sequence[str | Path], *, name: str, date: str,
                     tz: str, fmt: str = "aep-pv", options: PvOptions = NO_OPTIONS) -> Manifest:
    """The manifest of the election the PV files report on (reads and checks each file whole).

    ``fmt`` is the files' form; ``options`` what the BEC 2019 form needs (a legend file; the
    category when the file name does not say it).

    Raises:
        InputError: a file is not a well-formed PV file; two files give a national category
            other competitors; two rows of one constituency disagree on its ballot (naming both
            lines); a uat-scoped row without a siruta; or name, date or tz are invalid.
    """
    zone(tz)
    categories: dict[str, Category] = {}
    ballots: dict[tuple[str, str], tuple[tuple[str, ...], str]] = {}
    for path in paths:
        header = pv_header(path, fmt=fmt, options=options)
        for row in pv_rows(path, fmt=fmt, tz=tz, options=options, need_time=False):
            code = row.report.category
            scope = AEP_CATEGORY_SCOPES.get(code)
            category = (Category(rules=header.rule_set, competitors=header.competitors)
                        if scope is None else Category(rules=header.rule_set, scope=scope))
            known = categories.setdefault(code, category)
            here = f"{path}:{row.line}"
            if known != category:
                raise InputError(f"category {code} has other competitors than in an earlier "
                                 "file", where=Where(file=str(path), line=row.line))
            if scope is None:
                continue
            constituency = _constituency(scope, row.station.id, row.station.siruta,
                                         str(path), row.line)
            on_ballot = tuple(n for n in header.competitors if n in row.report.votes)
            seen = ballots.setdefault((code, constituency), (on_ballot, here))
            if seen[0] != on_ballot:
                raise InputError(
                    f"rows of constituency {constituency} of {code} disagree on its ballot: "
                    f"{seen[1]} lists {list(seen[0])}, this row {list(on_ballot)}",
                    where=Where(file=str(path), line=row.line),
                )
    try:
        election = Election(name=name, date=date, tz=tz, categories=categories)
        return Manifest(election, tuple(
            Ballot(category=code, constituency=constituency, competitors=competitors)
            for (code, constituency), (competitors, _) in ballots.items()
        ))
    except MalformedError as e:
        raise InputError(f"invalid manifest: {e.message}") from e


def _constituency(scope: str, station: str, siruta: int | None, file: str, line: int) -> str:
    if scope == "county":
        return county_of(station)
    if siruta is None:
        raise InputError(f"station {station} has no uat_siruta: a uat-scoped report needs one",
                         where=Where(file=file, line=line, column="uat_siruta"))
    return str(siruta)


def election_from_pv(path: str | Path, *, name: str, date: str, tz: str) -> Election:
    """The election record of the election a PV file reports on (its ballots left out).

    Raises:
        InputError: as :func:`manifest_from_pv`.
    """
    return manifest_from_pv([path], name=name, date=date, tz=tz).election


def read_manifest(path: str | Path) -> Manifest:
    """The manifest in a JSON file: ``{"election": {...}, "ballots": [...]}``, or the election
    record alone (the earlier form).

    Raises:
        InputError: unreadable, not JSON, not that shape, a record that is not valid, or an
            unknown time zone.
    """
    obj = read_json(path, "an election manifest", limit=MAX_MANIFEST_FILE)
    where = Where(file=str(path))
    if isinstance(obj, dict) and "election" in obj:
        if set(obj) - {"election", "ballots"} or not isinstance(obj.get("ballots", []), list):
            raise InputError('a manifest is {"election": {...}, "ballots": [...]}', where=where)
        election = _record(obj["election"], Election, where, "election")
        ballots = tuple(_record(b, Ballot, where, f"ballots[{i}]")
                        for i, b in enumerate(obj.get("ballots", [])))
    else:
        election, ballots = _record(obj, Election, where, "election"), ()
    zone(election.tz)
    return Manifest(election, ballots)


def _record(obj: Any, kind: type[Election] | type[Ballot], where: Where,
            what: str) -> Any:
    try:
        record = record_from_json(obj)
    except MalformedError as e:
        raise InputError(f"{what}: not a valid record: {e.message}", where=where) from e
    if not isinstance(record, kind):
        article = "an" if kind is Election else "a"
        raise InputError(f"{what}: expected {article} {kind.KIND} record, got {record.KIND!r}",
                         where=where)
    return record


def check_ballots(manifest: Manifest, *, file: str | None = None) -> None:
    """Refuse, before anything is written, ballots the rules would refuse in this order.

    Raises:
        InputError: naming the ballot (its position) and the rule it breaks.
    """
    rules = RuleChecker(manifest.election)
    for position, ballot in enumerate(manifest.ballots):
        for violation in rules.check(ballot):
            raise InputError(f"ballots[{position}]: {violation.message} ({violation.rule})",
                             where=Where(file=file, kind="ballot"))


def manifest_json(election: Election, ballots: Iterable[Ballot] = ()) -> dict[str, Any]:
    """The manifest's JSON form (what :func:`read_manifest` reads back)."""
    return {"ballots": [record_to_json(b) for b in ballots], "election": record_to_json(election)}
