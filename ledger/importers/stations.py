"""Station ids and descriptions shared by the AEP importers (docs/records.md, "Record kinds",
SOURCES.md table).

A station id is ``<county code>-<number>``: the 2-letter county code, ``B`` for Bucharest (the
whole city and, in 2024 files, each sector) and ``SR`` abroad. Importers yield
:class:`StationInfo` (everything but the key); the caller attaches a public key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ledger.formats.records import Station

#: AEP ``precinct_county_nce`` -> county code (SOURCES.md); 44-49 are Bucharest's sectors 1-6.
_CODES_BY_NCE = (
    "AB", "AR", "AG", "BC", "BH", "BN", "BT", "BV", "BR", "BZ", "CS", "CL", "CJ", "CT", "CV",
    "DB", "DJ", "GL", "GR", "GJ", "HR", "HD", "IL", "IS", "IF", "MM", "MH", "MS", "NT", "OT",
    "PH", "SM", "SJ", "SB", "SV", "TR", "TM", "TL", "VS", "VL", "VN", "B", "SR",
)
NCE_CODES: Mapping[int, str] = {
    **dict(enumerate(_CODES_BY_NCE, start=1)),
    **dict.fromkeys(range(44, 50), "B"),
}
#: Every county code a station id may start with.
COUNTY_CODES = frozenset(NCE_CODES.values())


def station_id(code: str, number: int) -> str:
    """The station id of station ``number`` in county ``code``."""
    return f"{code}-{number}"


@dataclass(frozen=True, slots=True, kw_only=True)
class StationInfo:
    """A station as an AEP file describes it; :meth:`with_key` makes the ``station`` record."""

    id: str
    county: str
    number: int
    name: str
    siruta: int | None = None
    uat: str | None = None
    locality: str | None = None
    medium: str | None = None

    def with_key(self, pubkey: bytes) -> Station:
        """The station record registering this station with ``pubkey`` (32-byte Ed25519)."""
        return Station(
            id=self.id, county=self.county, number=self.number, name=self.name, pubkey=pubkey,
            siruta=self.siruta, uat=self.uat, locality=self.locality, medium=self.medium,
        )
