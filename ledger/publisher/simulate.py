"""Synthesised election-day turnout for the demo and tests: a station's cumulative series, from
its real closing figures to the snapshots the station would have signed through the day.

Only the closing numbers are real (a presidential report's ``b1``, ``b2``, ``b3``); the shape of
the day is invented (:data:`HOURLY_WEIGHTS`, jittered per station and counter). Integer
arithmetic throughout, so a seed gives the same records on every machine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ledger.core.hashing import sha256
from ledger.formats.records import Registered, Report, Turnout
from ledger.formats.signing import Signer

#: Relative share of the day's voters in each hour of a 07:00-21:00 day: a morning peak, a lull
#: at lunch, an evening peak. Invented (a plausible shape), not measured.
HOURLY_WEIGHTS = (4, 7, 9, 9, 8, 7, 6, 6, 6, 7, 8, 9, 8, 6)
#: Each station's weight for an hour moves by up to this many units either way.
JITTER = 3
#: Counters synthesised (LT is their sum), and the report field each one ends at.
CLOSING_FIELDS = {"LP": "b1", "LS": "b2", "UM": "b3"}
_MINUTE = 60_000
_DEMO_KEY_DOMAIN = b"election-ledger demo key\n"


@dataclass(frozen=True, slots=True, kw_only=True)
class PollingDay:
    """When the polls open and close, in ms since the epoch (UTC)."""

    opens: int
    closes: int

    def __post_init__(self) -> None:
        if not 0 <= self.opens < self.closes:
            raise ValueError(f"polls must open before they close, got {self.opens}, "
                             f"{self.closes}")


def polling_day(date: str, tz: str, *, opens: str = "07:00", closes: str = "21:00") -> PollingDay:
    """The polling hours of ``date`` (YYYY-MM-DD), local times ``opens``-``closes`` in ``tz``."""
    try:
        zone = ZoneInfo(tz)
        day = datetime.strptime(date, "%Y-%m-%d").date()
        start, end = time.fromisoformat(opens), time.fromisoformat(closes)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise ValueError(f"not a polling day: {date} {opens}-{closes} {tz}: {e}") from e

    def ms(at: time) -> int:
        return int(datetime.combine(day, at, tzinfo=zone).timestamp()) * 1000

    return PollingDay(opens=ms(start), closes=ms(end))


def snapshot_times(day: PollingDay, *, every_minutes: int, offset_minutes: int) -> tuple[int, ...]:
    """When a station signs its turnout: ``offset`` after opening, then every ``every`` minutes,
    and at closing (the last snapshot holds the closing counts)."""
    if every_minutes <= 0 or not 0 <= offset_minutes < every_minutes:
        raise ValueError(f"need every > 0 and 0 <= offset < every, got {every_minutes}, "
                         f"{offset_minutes}")
    step = every_minutes * _MINUTE
    first = day.opens + offset_minutes * _MINUTE
    return (*range(first, day.closes, step), day.closes)


def closing_counts(report: Report) -> dict[str, int]:
    """The turnout counters at closing that a presidential-style report implies: LP = b1,
    LS = b2, UM = b3, LT = their sum (so LT equals the report's b when b = b1 + b2 + b3)."""
    missing = [name for name in CLOSING_FIELDS.values() if name not in report.fields]
    if missing:
        raise ValueError(f"report of {report.station} ({report.category}) has no field "
                         f"{', '.join(missing)}: no closing turnout to derive")
    counts = {counter: report.fields[name] for counter, name in CLOSING_FIELDS.items()}
    return {**counts, "LT": sum(counts.values())}


def station_weights(seed: bytes, counter: str) -> tuple[int, ...]:
    """The hourly weights of one station's counter: :data:`HOURLY_WEIGHTS` with seeded jitter."""
    weights = []
    for hour, base in enumerate(HOURLY_WEIGHTS):
        draw = sha256(seed + counter.encode() + bytes([hour]))[0]
        weights.append(base * 2 + draw % (2 * JITTER + 1) - JITTER)
    return tuple(weights)


def cumulative(final: int, weights: Sequence[int], day: PollingDay, at: int) -> int:
    """How many of ``final`` voters had voted by ``at``: ``final`` times the share of the day's
    weight up to ``at`` (each hour's weight spread evenly over it), rounded down."""
    if not day.opens <= at <= day.closes:
        raise ValueError(f"time {at} is outside the polling day {day.opens}-{day.closes}")
    if final < 0 or not weights or any(w <= 0 for w in weights):
        raise ValueError("need a non-negative count and positive weights")
    span = day.closes - day.opens
    # With n weights, hour h is [opens + h*span/n, opens + (h+1)*span/n). Scaled by span to stay
    # in integers: `done` whole hours have passed, and `within / span` of the next one.
    n = len(weights)
    done, within = divmod((at - day.opens) * n, span)
    reached = sum(weights[:done]) * span + (weights[done] * within if done < n else 0)
    return final * reached // (sum(weights) * span)


def turnout_series(
    station: str, *, final: Mapping[str, int], registered: Registered, times: Sequence[int],
    day: PollingDay, seed: bytes,
) -> list[Turnout]:
    """The station's cumulative turnout at each of ``times``, ending at ``final`` at closing.

    Every counter is non-decreasing, LT = LP + LS + UM at every time, and LP never passes the
    registered permanent list: the turnout rules of docs/records.md, "Election rules" hold.
    """
    if list(times) != sorted(times) or not times or times[-1] != day.closes:
        raise ValueError("times must be sorted and end at closing")
    if final.get("LP", 0) > registered.permanent:
        raise ValueError(f"station {station}: LP {final['LP']} at closing is more than the "
                         f"{registered.permanent} registered on the permanent list")
    weights = {counter: station_weights(seed, counter) for counter in CLOSING_FIELDS}
    series = []
    for at in times:
        counts = {c: cumulative(final[c], weights[c], day, at) for c in CLOSING_FIELDS}
        counts["LT"] = sum(counts.values())
        series.append(Turnout(station=station, at=at, registered=registered,
                              counts=dict(sorted(counts.items()))))
    return series


def report_turnout(report: Report, day: PollingDay, *, every_minutes: int) -> list[Turnout]:
    """The turnout a station signs through the day, ending at what its report implies: every
    ``every_minutes`` from its own minute past opening (drawn from its id), and at closing.

    Its registered permanent list is the report's ``a``.
    """
    station = report.station
    if "a" not in report.fields:
        raise ValueError(f"report of {station} ({report.category}) has no field a: no "
                         "registered voters")
    offset = int.from_bytes(sha256(station.encode())[:4], "big") % every_minutes
    return turnout_series(
        station, final=closing_counts(report),
        registered=Registered(permanent=report.fields["a"]),
        times=snapshot_times(day, every_minutes=every_minutes, offset_minutes=offset),
        day=day, seed=station.encode(),
    )


def period_end(at: int, start: int, minutes: int) -> int:
    """The end of the ``minutes``-long period, counted from ``start``, that holds ``at``
    (``start`` itself for ``at == start``): when a block sealed every ``minutes`` seals it."""
    if minutes <= 0:
        raise ValueError(f"a period lasts at least a minute, got {minutes}")
    period = minutes * _MINUTE
    return start - (start - at) // period * period


def demo_signer(label: str) -> Signer:
    """A key derived from ``label``: reproducible demos only; anyone who knows the label has it."""
    return Signer(sha256(_DEMO_KEY_DOMAIN + label.encode("utf-8")))
