"""Times as people write and read them: one syntax in, local time with its zone out.

Records hold milliseconds since the Unix epoch, UTC (docs/records.md, "Record kinds"). People
give a time as ``YYYY-MM-DD HH:MM[:SS]`` local time in the election's zone, or ISO 8601 with
``Z`` or an offset; output shows local time with the zone's abbreviation, and JSON the ISO 8601
UTC form.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ledger.errors import InputError

#: The one time syntax every input takes.
TIME_SYNTAX = "YYYY-MM-DD HH:MM[:SS] (local time), or with Z or +HH:MM"
_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2})?(Z|[+-][0-9]{2}:[0-9]{2})?"
)


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``.

    Raises:
        InputError: no such zone.
    """
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise InputError(f"unknown time zone {name!r}") from e


def local_to_ms(when: datetime, tz: ZoneInfo) -> int | None:
    """Milliseconds since the epoch (UTC) of naive local time ``when`` in ``tz``.

    None when the local time does not exist (skipped by a DST change); an ambiguous time (the
    repeated hour) is read as its first occurrence (fold 0).
    """
    aware = when.replace(tzinfo=tz)
    utc = aware.astimezone(UTC)
    if utc.astimezone(tz).replace(tzinfo=None) != when:
        return None
    return int(utc.timestamp()) * 1000 + utc.microsecond // 1000


def parse_time(text: str, tz: str, *, what: str = "time") -> int:
    """``text`` in the one time syntax, as milliseconds since the epoch, UTC; a time without an
    offset is local time in ``tz``.

    Raises:
        InputError: not that syntax, not a calendar time, or a local time a DST change skips.
    """
    if _TIME.fullmatch(text) is None:
        raise InputError(f"{what} {text!r}: expected {TIME_SYNTAX}")
    try:
        when = datetime.fromisoformat(text)
    except ValueError as e:
        raise InputError(f"{what} {text!r} is not a calendar time") from e
    if when.tzinfo is not None:
        return int(when.timestamp()) * 1000
    ms = local_to_ms(when, zone(tz))
    if ms is None:
        raise InputError(f"{what} {text} does not exist in {tz} (daylight saving change)")
    return ms


def local_time(ms: int, tz: str) -> str:
    """``2025-05-18 21:00:00 EEST``: the time in ``tz``, with the zone's abbreviation."""
    when = datetime.fromtimestamp(ms / 1000, zone(tz))
    text = when.strftime("%Y-%m-%d %H:%M:%S")
    return f"{text}.{ms % 1000:03d} {when.tzname()}" if ms % 1000 else f"{text} {when.tzname()}"


def iso_utc(ms: int) -> str:
    """``2025-05-18T18:00:00Z`` (milliseconds shown when there are any): for JSON."""
    when = datetime.fromtimestamp(ms // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{when}.{ms % 1000:03d}Z" if ms % 1000 else f"{when}Z"
