"""Deterministic election-day records for the benchmarks, seeded with real AEP data.

Stations, their reports and their final turnout come from the 2025 presidential PV file; locality
and medium from the 2018 turnout file. A log of N records is: the election record, S stations
(S = min(20,000, N // 50), a seeded sample), turnout of every station in rounds spread over the
day (07:00 to 21:00 local; cumulative counters, 2024-format fields with age buckets), then one
report per station. At S = 20,000 and 838 rounds that is 16.8M records: one per station per
minute. Everything streams: nothing here grows with N.
"""

from __future__ import annotations

import csv
import hashlib
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import TypeVar

from ledger.core.hashing import entry_signed_message, key_id
from ledger.formats.records import (
    Category,
    Election,
    Entry,
    Record,
    Registered,
    Report,
    Station,
    Turnout,
    encode_record,
    sign_body,
)
from ledger.formats.signing import Signer

_HERE = Path(__file__).resolve().parent
_SHARED_DATA = _HERE.parent.parent / "shared" / "data"
DATA_DIR = _SHARED_DATA if _SHARED_DATA.is_dir() else _HERE.parent / "tests" / "data"
PV_2025 = DATA_DIR / "prezidentiale18052025" / "pv_part_cntry_prsd.csv"
TURNOUT_2018 = DATA_DIR / "referendum07102018" / "presence_RO_2018-10-07_21-00.csv"

ORIGIN = "bench.example.ro/prezidentiale18052025"
CATEGORY = "PRSD"
MAX_STATIONS = 20_000
RECORDS_PER_STATION = 50
#: Polls open 07:00 to 21:00 Europe/Bucharest (UTC+3 in May): 04:00Z to 18:00Z.
DAY_START = datetime(2025, 5, 18, 4, 0, tzinfo=UTC)
DAY_MS = 14 * 3600 * 1000
_LOCAL_OFFSET = timedelta(hours=3)
_LETTERS = ("a", "b", "b1", "b2", "b3", "c", "d", "e", "f")
#: Share of each sex x age bucket in the turnout (fixed, so counters never decrease).
_BUCKETS = (
    ("F-18-24", 0.04), ("F-25-34", 0.07), ("F-35-44", 0.09), ("F-45-64", 0.17), ("F-65+", 0.15),
    ("M-18-24", 0.04), ("M-25-34", 0.07), ("M-35-44", 0.09), ("M-45-64", 0.16), ("M-65+", 0.12),
)
#: AEP county number (precinct_county_nce) -> the 2-letter code of station ids (SOURCES.md).
_COUNTY_CODES = (
    "AB", "AR", "AG", "BC", "BH", "BN", "BT", "BV", "BR", "BZ", "CS", "CL", "CJ", "CT", "CV",
    "DB", "DJ", "GL", "GR", "GJ", "HR", "HD", "IL", "IS", "IF", "MM", "MH", "MS", "NT", "OT",
    "PH", "SM", "SJ", "SB", "SV", "TR", "TM", "TL", "VS", "VL", "VN", "B", "SR",
)

T = TypeVar("T")


@dataclass(frozen=True, slots=True, kw_only=True)
class StationProfile:
    """One polling station as the real files describe it, with its final PV report."""

    id: str
    county: str
    number: int
    name: str
    siruta: int
    uat: str
    locality: str | None
    medium: str | None
    fields: dict[str, int]
    votes: dict[str, int]
    version: int
    reported_at: int


def _uint(text: str, what: str) -> int:
    if not text.isascii() or not text.isdigit() or (len(text) > 1 and text[0] == "0"):
        raise ValueError(f"{what}: expected a decimal count, got {text!r}")
    return int(text)


def _local_ms(text: str) -> int:
    """``2025-05-18 22:32:21`` (Bucharest summer time) as ms since the epoch, UTC."""
    local = datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    return int((local - _LOCAL_OFFSET).timestamp() * 1000)


def _localities(ids: set[str]) -> dict[str, tuple[str, str]]:
    """Station id -> (locality, medium) from the 2018 turnout file, for ``ids`` only."""
    out = {}
    with TURNOUT_2018.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            station = f"{row['Judet']}-{_uint(row['Nr sectie de votare'], 'station number')}"
            if station in ids:
                out[station] = (row["Localitate"], row["Mediu"])
    return out


@cache
def _pv_count() -> int:
    """Data rows in the 2025 PV file."""
    with PV_2025.open(encoding="utf-8-sig", newline="") as f:
        return sum(1 for _ in csv.reader(f)) - 1


def pool_size() -> int:
    """Stations to pick from: the 19,944 of the PV file, padded to 20,000."""
    return max(MAX_STATIONS, _pv_count())


def _station_id(row: dict[str, str]) -> str:
    code = _COUNTY_CODES[_uint(row["precinct_county_nce"], "county") - 1]
    return f"{code}-{_uint(row['precinct_nr'], 'station number')}"


def _real_profile(row: dict[str, str], localities: dict[str, tuple[str, str]]) -> StationProfile:
    station = _station_id(row)
    locality, medium = localities.get(station, (None, None))
    candidates = [c for c in row if c.endswith("-voturi")]
    return StationProfile(
        id=station, county=row["precinct_county_name"], number=_uint(row["precinct_nr"], "nr"),
        name=row["precinct_name"], siruta=_uint(row["uat_siruta"], "siruta"),
        uat=row["uat_name"], locality=locality, medium=medium,
        fields={k: _uint(row[k], k) for k in _LETTERS},
        votes={c.removesuffix("-voturi"): _uint(row[c], c) for c in candidates},
        version=_uint(row["report_version"], "version"),
        reported_at=_local_ms(row["created_at"]),
    )


def _synthetic(p: StationProfile, number: int) -> StationProfile:
    """A station abroad that copies a real profile (to pad the pool to 20,000)."""
    return StationProfile(
        id=f"SR-{number}", county="STRĂINĂTATE", number=number, name=p.name, siruta=9999,
        uat=p.uat, locality=None, medium=None, fields=p.fields, votes=p.votes,
        version=p.version, reported_at=p.reported_at,
    )


def profiles(picked: Iterable[int]) -> tuple[StationProfile, ...]:
    """Stations ``picked`` of the pool, streaming the files (only those stations are kept).

    Past the PV file's rows, station ``k`` is a synthetic one copying row ``k - rows``.
    """
    count = _pv_count()
    picked = list(picked)
    real = {k if k < count else k - count for k in picked}
    with PV_2025.open(encoding="utf-8-sig", newline="") as f:
        rows = {i: row for i, row in enumerate(csv.DictReader(f)) if i in real}
    localities = _localities({_station_id(row) for row in rows.values()})
    made = {i: _real_profile(row, localities) for i, row in rows.items()}
    return tuple(made[k] if k < count else _synthetic(made[k - count], 5000 + k - count)
                 for k in picked)


def _curve(x: float) -> float:
    """Cumulative share of the day's voters who have voted by day fraction ``x`` (monotone)."""
    return 0.6 * x + 0.4 * x * x * (3 - 2 * x)


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """The shape of a log of ``n`` records: which stations, how many turnout rounds."""

    n: int
    seed: int
    stations: tuple[StationProfile, ...]
    turnout: int
    rounds: int

    @classmethod
    def for_records(cls, n: int, seed: int = 1) -> Plan:
        """The plan for exactly ``n`` records (at least 3: election, a station, its report)."""
        if n < 3:
            raise ValueError(f"a benchmark log needs at least 3 records, got {n}")
        count = max(1, min(MAX_STATIONS, n // RECORDS_PER_STATION, (n - 1) // 2))
        picked = sorted(random.Random(seed).sample(range(pool_size()), count))
        stations = profiles(picked)
        turnout = n - 1 - 2 * count
        return cls(n=n, seed=seed, stations=stations, turnout=turnout,
                   rounds=-(-turnout // count))

    def election(self) -> Election:
        """Entry 0: the presidential round of 18 May 2025 with the PV file's two candidates."""
        names = tuple(self.stations[0].votes)
        return Election(
            name="Alegeri prezidențiale 2025, turul 2", date="2025-05-18", tz="Europe/Bucharest",
            categories={CATEGORY: Category(rules="presidential", competitors=names)},
        )

    def station(self, i: int, pubkey: bytes) -> Station:
        """Station ``i``'s registration with its public key."""
        p = self.stations[i]
        return Station(id=p.id, county=p.county, number=p.number, name=p.name, pubkey=pubkey,
                       siruta=p.siruta, uat=p.uat, locality=p.locality, medium=p.medium)

    def turnout_record(self, i: int, round_: int) -> Turnout:
        """Station ``i``'s cumulative counters after round ``round_`` (1-based) of the day."""
        p = self.stations[i]
        share = _curve(round_ / self.rounds)
        lp, ls, um = (int(p.fields[k] * share) for k in ("b1", "b2", "b3"))
        total = lp + ls + um
        return Turnout(
            station=p.id, at=_day_ms(round_ / self.rounds),
            registered=Registered(permanent=p.fields["a"]),
            counts={"LP": lp, "LS": ls, "LSC": 0, "LT": total, "UM": um},
            buckets={name: int(total * part) for name, part in _BUCKETS},
        )

    def report(self, i: int) -> Report:
        """Station ``i``'s PV as the 2025 file has it, with the hash of its photo attached."""
        p = self.stations[i]
        photo = hashlib.sha256(f"PV photo {p.id} v{p.version}".encode()).digest()
        return Report(station=p.id, category=CATEGORY, version=p.version, stage="PART",
                      at=p.reported_at, fields=p.fields, votes=p.votes, attachments=(photo,))

    def station_records(self) -> Iterator[tuple[int, Turnout | Report]]:
        """(station index, record) of every station-signed record, in log order."""
        count = len(self.stations)
        for j in range(self.turnout):
            yield j % count, self.turnout_record(j % count, j // count + 1)
        for i in range(count):
            yield i, self.report(i)


def _day_ms(fraction: float) -> int:
    return int(DAY_START.timestamp() * 1000) + int(DAY_MS * fraction)


def _seed(seed: int, label: str) -> bytes:
    return hashlib.sha256(f"election-ledger bench {seed} {label}".encode()).digest()


def publisher_signer(seed: int) -> Signer:
    """The publisher's key of the logs made with ``seed``."""
    return Signer(_seed(seed, "publisher"))


@dataclass(frozen=True, slots=True, kw_only=True)
class Keys:
    """Deterministic publisher and station keys for a plan (seeds from the plan's seed).

    Station private keys are kept only when asked for (``signing``): 20,000 key objects are
    tens of MiB that would blur the memory figures of workloads that never sign.
    """

    publisher: Signer
    public_keys: tuple[bytes, ...]
    signers: tuple[Signer, ...] = ()

    @classmethod
    def for_plan(cls, plan: Plan, *, signing: bool = False) -> Keys:
        signers = tuple(Signer(_seed(plan.seed, p.id)) for p in plan.stations)
        return cls(publisher=publisher_signer(plan.seed),
                   public_keys=tuple(s.public_key for s in signers),
                   signers=signers if signing else ())


def pseudo_signed(signer_key_id: bytes, record: Record, origin: str = ORIGIN) -> Entry:
    """An entry whose ``sig`` is 64 bytes of SHA-512, not a signature: for workloads that do not
    verify (sequencing, the peer), it saves hours of signing at 16.8M and has the same size."""
    body = encode_record(record)
    sig = hashlib.sha512(entry_signed_message(origin, body)).digest()
    return Entry(body=body, key=signer_key_id, sig=sig)


def log_records(plan: Plan, keys: Keys) -> Iterator[tuple[int, Record]]:
    """(signer, record) of all ``plan.n`` records in log order; signer -1 is the publisher."""
    yield -1, plan.election()
    for i, public_key in enumerate(keys.public_keys):
        yield -1, plan.station(i, public_key)
    yield from plan.station_records()


def log_entries(plan: Plan, keys: Keys, *, signed: bool) -> Iterator[tuple[Record, Entry]]:
    """Every record of the plan with its entry: really signed, or :func:`pseudo_signed`."""
    publisher_id = key_id(keys.publisher.public_key)
    station_ids = [key_id(k) for k in keys.public_keys]
    if signed and len(keys.signers) != len(keys.public_keys):
        raise ValueError("signed entries need Keys.for_plan(plan, signing=True)")
    for who, record in log_records(plan, keys):
        if signed:
            signer = keys.publisher if who < 0 else keys.signers[who]
            yield record, sign_body(signer, ORIGIN, encode_record(record))
        else:
            yield record, pseudo_signed(publisher_id if who < 0 else station_ids[who], record)


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of ``size`` items (the last may be shorter)."""
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def record_at(plan: Plan, keys: Keys, position: int) -> tuple[int, Record]:
    """(signer, record) at ``position`` of :func:`log_records`, made directly (signer -1 is the
    publisher): a range of the log can be made anywhere without the records before it."""
    count = len(plan.stations)
    if position == 0:
        return -1, plan.election()
    if not 0 < position < plan.n:
        raise IndexError(f"position {position} is outside a log of {plan.n} records")
    if position <= count:
        return -1, plan.station(position - 1, keys.public_keys[position - 1])
    j = position - 1 - count
    if j < plan.turnout:
        return j % count, plan.turnout_record(j % count, j // count + 1)
    i = j - plan.turnout
    return i, plan.report(i)
