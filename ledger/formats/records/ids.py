"""Station ids and constituencies (docs/records.md, "Identity and keys"): pure string rules.

A station id is ``<county code>-<number>``, or ``<county code>-C<number>`` for a mail-vote
bureau: one of the 43 county codes (the 41 counties, ``B`` for Bucharest, ``SR`` abroad), then
a positive decimal without leading zeros.
"""

from __future__ import annotations

import re

#: The 43 county codes a station id may start with, in the AEP's ``precinct_county_nce`` order.
COUNTY_CODES_IN_ORDER = (
    "AB", "AR", "AG", "BC", "BH", "BN", "BT", "BV", "BR", "BZ", "CS", "CL", "CJ", "CT", "CV",
    "DB", "DJ", "GL", "GR", "GJ", "HR", "HD", "IL", "IS", "IF", "MM", "MH", "MS", "NT", "OT",
    "PH", "SM", "SJ", "SB", "SV", "TR", "TM", "TL", "VS", "VL", "VN", "B", "SR",
)
COUNTY_CODES = frozenset(COUNTY_CODES_IN_ORDER)

_STATION_ID = re.compile(r"([A-Z]{1,2})-(C?)([1-9][0-9]*)")
_SIRUTA = re.compile(r"[1-9][0-9]*")


def station_id_problem(station_id: str) -> str | None:
    """Why ``station_id`` is not a station id, or None when it is one."""
    match = _STATION_ID.fullmatch(station_id)
    if match is None:
        return "expected <county code>-<number> (or <county code>-C<number> for mail votes)"
    if match.group(1) not in COUNTY_CODES:
        return f"{match.group(1)!r} is not one of the 43 county codes"
    return None


def county_of(station_id: str) -> str:
    """The county code of a station id: the part before its first ``-``."""
    return station_id.partition("-")[0]


def is_siruta_constituency(constituency: str) -> bool:
    """True for the decimal form of a SIRUTA code: no sign, no leading zeros."""
    return _SIRUTA.fullmatch(constituency) is not None
