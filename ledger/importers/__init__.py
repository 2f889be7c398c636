"""AEP CSV rows -> records: the file forms the authority publishes, and what they name."""

from __future__ import annotations

from collections.abc import Mapping

#: The file forms the importers read.
FORMATS = ("aep-pv", "aep-turnout", "bec2019-pv")
#: The forms of results (PV) files.
PV_FORMATS = ("aep-pv", "bec2019-pv")

#: AEP ``report_type_category_code`` -> rule set (docs/records.md).
AEP_CATEGORY_RULES: Mapping[str, str] = {
    "PRSD": "presidential",
    "PRSD_C": "mail",
    "S_C": "mail",
    "CD_C": "mail",
    "S": "parliamentary",
    "CD": "parliamentary",
    "P": "local",
    "CL": "local",
    "CJ": "local",
    "PCJ": "local",
    "CGMB_BEC": "local",
    "PG_BEC": "local",
    "EUP": "european",
    "REFL1": "referendum",
    "REFL2": "referendum",
    "REFL3": "referendum",
}

#: The AEP categories with one ballot per constituency -> their scope (docs/records.md, "Record
#: kinds"): county for the Senate, the Chamber, the county councils and their presidents and
#: Bucharest's general council and mayor (abroad, SR, is a constituency of its own); uat for
#: mayors and local councils. The others (PRSD, EUP, REFL*, the mail votes) are national.
AEP_CATEGORY_SCOPES: Mapping[str, str] = {
    "S": "county",
    "CD": "county",
    "CJ": "county",
    "PCJ": "county",
    "CGMB_BEC": "county",
    "PG_BEC": "county",
    "P": "uat",
    "CL": "uat",
}
