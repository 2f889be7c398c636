"""Station ids and descriptions shared by the AEP importers (docs/records.md, "Record kinds",
SOURCES.md table).

A station id is ``<county code>-<number>`` (``<county code>-C<number>`` for a mail-vote
bureau): the 2-letter county code, ``B`` for Bucharest (the
whole city and, in 2024 files, each sector) and ``SR`` abroad. Importers yield
:class:`StationInfo` (everything but the key); the caller attaches a public key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ledger.formats.records import Station
from ledger.formats.records.ids import COUNTY_CODES, COUNTY_CODES_IN_ORDER

#: AEP ``precinct_county_nce`` -> county code (SOURCES.md); 44-49 are Bucharest's sectors 1-6.
NCE_CODES: Mapping[int, str] = {
    **dict(enumerate(COUNTY_CODES_IN_ORDER, start=1)),
    **dict.fromkeys(range(44, 50), "B"),
}
__all__ = ["COUNTY_CODES", "NCE_CODES", "StationInfo", "station_id"]


def station_id(code: str, number: int, *, mail: bool = False) -> str:
    """The station id of station ``number`` in county ``code``; ``mail``: of mail-vote bureau
    ``number`` (``<code>-C<number>``, never an ordinary station's id)."""
    return f"{code}-C{number}" if mail else f"{code}-{number}"


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
