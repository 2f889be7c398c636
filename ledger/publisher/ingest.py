"""Publisher-side import: AEP files into a ledger (stations, reports, turnout), one batch each.

The importers (:mod:`ledger.importers`) turn rows into records; this module signs them (with the
station's own key when there is one, else the publisher's: already-published data) and appends
the whole file as ONE :meth:`~ledger.publisher.ledger.Ledger.append` batch, so a file is written
whole or, after a crash, not at all. Refused rows are findings naming the CSV line and station.

The AEP republishes each file every few minutes with every row, so a file is imported again as
docs/records.md, "AEP importers" says: a row equal to the station's latest accepted record of
its kind is *unchanged* (skipped, counted); a report row below the station's latest (version,
stage) is *stale* (skipped, counted, a warning); the rest is written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from ledger.check.findings import Finding
from ledger.check.rules import STAGE_RANK, RuleChecker, report_content
from ledger.errors import InputError, VerificationError, Where
from ledger.files import (
    KEY_SUFFIX,
    StationKeys,
    fsync_files,
    make_directory,
    read_signer_key,
    read_verifier_key,
    write_key_files,
)
from ledger.formats.records import Record, Report, Turnout, encode_entry, sign_record
from ledger.importers import FORMATS, PV_FORMATS
from ledger.importers.aep_pv import PvRow, import_pv
from ledger.importers.aep_turnout import import_turnout, turnout_time
from ledger.importers.bec2019_pv import import_bec2019, is_bec2019_header
from ledger.importers.pv_forms import PvOptions, pv_rows
from ledger.importers.stations import StationInfo
from ledger.importers.validation import repeated_finding
from ledger.publisher.ledger import AppendResult, Ledger

Progress = Callable[[int, int], None]


#: Stations between two progress calls.
_PROGRESS_EVERY = 256


@dataclass(frozen=True, slots=True, kw_only=True)
class ImportResult:
    """What importing one file did: rows read, entries written, rows refused, warnings."""

    file: str
    rows: int
    appended: int
    refused: tuple[Finding, ...]
    warnings: tuple[Finding, ...]
    size: int
    written: bool
    station_signed: int = 0
    publisher_signed: int = 0
    #: The kind of record the file's rows are (``report`` or ``turnout``).
    kind: str = "report"
    #: Rows equal to the station's latest accepted record: skipped.
    unchanged: int = 0
    #: Report rows below the station's latest (version, stage): skipped, each a warning.
    stale: int = 0
    #: Publisher-signed corrections written (turnout whose counters went down or out).
    corrections: int = 0


def detect_format(path: str | Path) -> str:
    """``aep-pv``, ``aep-turnout`` or ``bec2019-pv``, from the file's header line.

    Raises:
        InputError: unreadable, or neither header.
    """
    try:
        with Path(path).open("rb") as handle:
            head = handle.read(4096)
    except OSError as e:
        raise InputError(f"cannot read: {e.strerror or e}", where=Where(file=str(path))) from e
    first = head.removeprefix(b"\xef\xbb\xbf").split(b"\n", 1)[0]
    if first.startswith(b"precinct_county_nce,"):
        return "aep-pv"
    if first.startswith((b"Judet,", b'"Judet",')):
        return "aep-turnout"
    if is_bec2019_header(first):
        return "bec2019-pv"
    raise InputError("not an AEP PV, AEP turnout or BEC 2019 PV CSV file (unknown header)",
                     where=Where(file=str(path), line=1))


def read_stations(path: str | Path, fmt: str | None = None) -> list[StationInfo]:
    """Every station an AEP file describes, in file order, each once.

    Raises:
        InputError: the file is not a well-formed AEP file of that format.
    """
    kind = fmt or detect_format(path)
    rows: Iterable[StationInfo]
    if kind == "aep-pv":
        rows = (row.station for row in import_pv(path, tz="UTC"))
    elif kind == "aep-turnout":
        rows = (row.station for row in import_turnout(path, at=0))
    elif kind == "bec2019-pv":
        rows = (row.station for row in import_bec2019(path, at=0))
    else:
        raise InputError(f"unknown format {kind!r}: expected one of {', '.join(FORMATS)}")
    seen: dict[str, StationInfo] = {}
    for info in rows:
        seen.setdefault(info.id, info)
    return list(seen.values())


def station_public_keys(
    stations: Sequence[StationInfo], *, keys_out: Path | None = None,
    pub_dir: Path | None = None, progress: Callable[[int, int], None] | None = None,
) -> dict[str, bytes]:
    """Each station's public key: from ``<id>.pub`` in ``pub_dir``, or from ``<id>.key`` in
    ``keys_out`` (generated there, mode 0600, when missing; the directory too, mode 0700).

    New key files are written first and made durable together at the end (each file, then the
    directory: nothing but what was written is synced). ``progress(done, total)`` is called
    now and then.

    Raises:
        InputError: a key file is missing, unreadable or named for another station, or
            ``pub_dir`` is not a directory.
    """
    if (keys_out is None) == (pub_dir is None):
        raise ValueError("give exactly one of keys_out and pub_dir")
    if keys_out is not None:
        make_directory(keys_out, mode=0o700)
    if pub_dir is not None and not pub_dir.is_dir():
        raise InputError("no such directory: expected a directory of station keys, "
                         "<station id>.pub", where=Where(file=str(pub_dir)))
    keys: dict[str, bytes] = {}
    written: list[Path] = []
    for done, info in enumerate(stations):
        if progress is not None and done % _PROGRESS_EVERY == 0:
            progress(done, len(stations))
        if pub_dir is not None:
            vkey = read_verifier_key(pub_dir / f"{info.id}.pub")
            name, public_key = vkey.name, vkey.public_key
        elif keys_out is not None:
            path = keys_out / (info.id + KEY_SUFFIX)
            if path.exists():
                signer = read_signer_key(path)
            else:
                files = write_key_files(keys_out, info.id, info.id, durable=False)
                written += [files.key_path, files.pub_path]
                signer = files.signer
            name, public_key = signer.name, signer.signer.public_key
        if name != info.id:
            raise InputError(f"key of station {info.id} is named {name!r}",
                             where=Where(file=str(keys_out or pub_dir), station=info.id))
        keys[info.id] = public_key
    if written:
        fsync_files(written)
    if progress is not None:
        progress(len(stations), len(stations))
    return keys


def register_stations(
    ledger: Ledger, stations: Iterable[StationInfo], public_keys: dict[str, bytes], *,
    progress: Progress | None = None,
) -> AppendResult:
    """Register (or re-key) each station in one batch; stations already registered with the
    same key are left alone."""
    registry = ledger.checker.registry
    batch = [
        ledger.sign(info.with_key(public_keys[info.id])) for info in stations
        if registry.station_key(info.id) != public_keys[info.id]
    ]
    return ledger.append(batch, progress=progress)


#: How far a PV row's ``created_at`` may be from the election's date (docs/records.md).
MAX_REPORT_DISTANCE = timedelta(days=2)


def import_file(
    ledger: Ledger, path: str | Path, *, fmt: str | None = None,
    station_keys: StationKeys | None = None, at: str | None = None, strict: bool = False,
    corrections: str | None = None, progress: Progress | None = None,
    legend: str | Path | None = None, category: str | None = None,
) -> ImportResult:
    """Import a PV or turnout file as one batch; refused rows are findings with their line.

    A BEC 2019 PV file needs ``legend`` (its legend file) and ``at`` (the reports' time; its
    rows carry none), and ``category`` when its file name does not say it; a row of it that
    repeats a station of the same file is refused.

    Rows equal to what the ledger holds are skipped (unchanged), report rows older than it are
    skipped with a warning (stale). ``strict`` writes nothing when any row is refused. A row
    without a station key is signed by the publisher. With ``corrections`` (the reason), a
    turnout row whose counters went down or were left out since the station's latest turnout
    is written as a publisher-signed correction; without it, such a row is refused.

    Raises:
        InputError: the file is malformed, or a PV row is more than two days from the
            election's date (refused whole, nothing written).
        StoreError: the write failed (nothing written).
    """
    kind = fmt or detect_format(path)
    election = ledger.election()
    rows: Iterator[tuple[int, str, Record]]
    name = str(path)
    repeated: list[Finding] = []
    if kind != "bec2019-pv" and (legend is not None or category is not None):
        raise InputError("a legend file and a category apply to the BEC 2019 form only")
    if kind == "aep-pv":
        if at is not None or corrections is not None:
            raise InputError("a snapshot time and corrections apply to turnout files only")
        rows = _dated_reports(import_pv(path, tz=election.tz), name, election.date, election.tz)
    elif kind == "bec2019-pv":
        if corrections is not None:
            raise InputError("corrections apply to turnout files only")
        options = PvOptions(legend=legend, category=category, at=at)
        rows = _unrepeated(pv_rows(path, fmt=kind, tz=election.tz, options=options,
                                   validated=True), name, repeated)
    elif kind == "aep-turnout":
        at_ms = turnout_time(path, at=at, tz=election.tz)
        rows = ((r.line, r.station.id, r.turnout) for r in import_turnout(path, at=at_ms))
    else:
        raise InputError(f"unknown format {kind!r}: expected one of {', '.join(FORMATS)}")
    batch: list[bytes] = []
    lines: list[tuple[int, str]] = []
    refused: list[Finding] = []
    stale: list[Finding] = []
    station_signed: list[bool] = []
    correcting: list[bool] = []
    count = unchanged = 0
    checker = ledger.checker
    registry, rules = checker.registry, checker.rules
    for line, station, record in rows:
        count += 1
        if rules is not None:
            state = _row_state(rules, record)
            if state == "unchanged":
                unchanged += 1
                continue
            if state == "stale":
                stale.append(_stale_finding(rules, record, name, line))
                continue
            if state == "lower" and corrections is not None and type(record) is Turnout:
                record = replace(record, correction=corrections)
        try:
            data, own = _sign_row(ledger, station_keys, station, record,
                                  registry.is_registered(station))
        except VerificationError as e:
            refused.append(_located(Finding.from_error(e), name, line, station))
            continue
        station_signed.append(own)
        correcting.append(type(record) is Turnout and record.correction is not None)
        batch.append(data)
        lines.append((line, station))
    count += len(repeated)
    refused += repeated
    record_kind = "report" if kind in PV_FORMATS else "turnout"
    if strict and refused:
        return ImportResult(file=name, rows=count, appended=0, refused=tuple(refused),
                            warnings=tuple(stale), size=ledger.size, written=False,
                            kind=record_kind, unchanged=unchanged, stale=len(stale))
    result = ledger.append(batch, stop_on_error=strict, progress=progress)
    for rejected in result.rejected:
        line, station = lines[rejected.position]
        refused.append(_located(Finding.from_error(rejected.error), name, line, station))
    positions = {a.index: a.position for a in result.accepted}
    warnings = stale + [_located(w, name, lines[positions.get(w.where.index or 0, 0)][0], None)
                        for w in result.warnings]
    return ImportResult(
        file=name, rows=count, appended=len(result.accepted),
        refused=tuple(sorted(refused, key=lambda f: f.where.line or 0)),
        warnings=tuple(sorted(warnings, key=lambda f: f.where.line or 0)),
        size=result.size, written=result.written,
        station_signed=sum(station_signed[a.position] for a in result.accepted),
        publisher_signed=sum(not station_signed[a.position] for a in result.accepted),
        kind=record_kind, unchanged=unchanged, stale=len(stale),
        corrections=sum(correcting[a.position] for a in result.accepted),
    )


def _row_state(rules: RuleChecker, record: Record) -> str:
    """``unchanged``, ``stale``, ``lower`` (turnout counters went down or out) or ``new``,
    against the station's latest accepted record of the row's kind (docs/records.md)."""
    if type(record) is Turnout:
        latest = rules.latest_turnout(record.station)
        if latest is None:
            return "new"
        registered, counts, buckets = latest
        reg = record.registered
        if ((reg.permanent, reg.complementary) == registered and dict(record.counts) == counts
                and (None if record.buckets is None else dict(record.buckets))
                == (None if buckets is None else dict(buckets))):
            return "unchanged"
        if _went_lower(counts, record.counts) or _went_lower(buckets or {}, record.buckets or {}):
            return "lower"
        return "new"
    if type(record) is Report:
        report = rules.latest_report(record.station, record.category)
        if report is None:
            return "new"
        version, stage, content = report
        here, there = (record.version, STAGE_RANK[record.stage]), (version, STAGE_RANK[stage])
        if here == there and report_content(record) == content:
            return "unchanged"
        if here < there:
            return "stale"
    return "new"


def _went_lower(before: Mapping[str, int], after: Mapping[str, int]) -> bool:
    return any(after.get(name, -1) < value for name, value in before.items())


def _stale_finding(rules: RuleChecker, record: Record, file: str, line: int) -> Finding:
    if type(record) is not Report:
        raise ValueError("only report rows are stale")
    latest = rules.latest_report(record.station, record.category)
    held = "" if latest is None else f" (the ledger holds version {latest[0]} {latest[1]})"
    return Finding(
        category="rules", code="IMPORT-STALE",
        message=f"station {record.station}, {record.category} version {record.version} "
                f"{record.stage} is older than the ledger's latest report{held}: an older copy "
                "of the file, skipped",
        where=Where(file=file, line=line, station=record.station, kind="report"),
    )


def _unrepeated(rows: Iterable[PvRow], file: str,
                refused: list[Finding]) -> Iterator[tuple[int, str, Record]]:
    """PV rows as records; a row repeating a station of its file is refused (docs/records.md,
    "The BEC 2019 PV form")."""
    for row in rows:
        if row.repeats is not None:
            refused.append(repeated_finding(row, file))
            continue
        yield row.line, row.station.id, row.report


def _dated_reports(rows: Iterable[PvRow], file: str, date: str,
                   tz: str) -> Iterator[tuple[int, str, Record]]:
    """PV rows as records, refusing the file at a row whose time is more than two days from the
    election's date (a file of another election)."""
    start = datetime.fromisoformat(date).replace(tzinfo=ZoneInfo(tz))
    low = int((start - MAX_REPORT_DISTANCE).timestamp() * 1000)
    high = int((start + timedelta(days=1) + MAX_REPORT_DISTANCE).timestamp() * 1000)
    for row in rows:
        if not low <= row.report.at < high:
            raise InputError(
                f"created_at {row.report.at} ms is more than two days from the election's "
                f"date {date}: a file of another election?",
                where=Where(file=file, line=row.line, column="created_at"),
            )
        yield row.line, row.station.id, row.report


def _sign_row(ledger: Ledger, keys: StationKeys | None, station: str, record: Record,
              registered: bool) -> tuple[bytes, bool]:
    """Entry bytes for one row and whether the station signed it (else the publisher)."""
    if not registered:
        raise VerificationError(f"station {station} is not registered (station import first)",
                                category="keys", code="station-unregistered",
                                where=Where(station=station, kind=record.KIND))
    key = keys.get(station) if keys is not None else None
    correction = type(record) is Turnout and record.correction is not None
    if key is not None and not correction:  # only the publisher signs a correction
        return encode_entry(sign_record(key.signer, ledger.origin, record)), True
    if type(record) is not Report and type(record) is not Turnout:
        raise ValueError(f"cannot import a {record.KIND} record")
    return ledger.sign(record), False


def _located(finding: Finding, file: str, line: int, station: str | None) -> Finding:
    """A finding about a CSV row: file and line, no (tentative) entry index."""
    return finding.located(file=file, line=line, index=None,
                           station=finding.where.station or station)

