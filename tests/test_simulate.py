"""Synthesised turnout: series that the turnout rules accept, ending at the real closing counts."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.check.rules import RuleChecker
from ledger.formats.records import Category, Election, Registered, Report
from ledger.publisher.simulate import (
    closing_counts,
    cumulative,
    demo_signer,
    period_end,
    polling_day,
    report_turnout,
    snapshot_times,
    station_weights,
    turnout_series,
)

DAY = polling_day("2025-05-18", "Europe/Bucharest")
ELECTION = Election(name="t", date="2025-05-18", tz="Europe/Bucharest",
                    categories={"PRSD": Category(rules="presidential", competitors=("A", "B"))})


def _report(b1: int, b2: int, b3: int) -> Report:
    b = b1 + b2 + b3
    return Report(station="AB-1", category="PRSD", version=1, stage="PART", at=DAY.closes,
                  fields={"a": b1, "b": b, "b1": b1, "b2": b2, "b3": b3, "c": b, "d": 0,
                          "e": b, "f": 0},
                  votes={"A": b, "B": 0})


def test_polling_day_is_local_time_in_summer() -> None:
    # 07:00 and 21:00 in Bucharest on 18 May 2025 (EEST, UTC+3) are 04:00 and 18:00 UTC.
    assert (DAY.opens, DAY.closes) == (1_747_540_800_000, 1_747_591_200_000)


def test_polling_day_refuses_unknown_zones_and_dates() -> None:
    with pytest.raises(ValueError, match="not a polling day"):
        polling_day("2025-05-18", "Mars/Olympus")
    with pytest.raises(ValueError, match="not a polling day"):
        polling_day("2025-02-30", "Europe/Bucharest")
    with pytest.raises(ValueError, match="open before"):
        polling_day("2025-05-18", "Europe/Bucharest", opens="21:00", closes="07:00")


def test_snapshots_are_staggered_and_the_last_is_at_closing() -> None:
    times = snapshot_times(DAY, every_minutes=60, offset_minutes=17)
    assert times[0] == DAY.opens + 17 * 60_000
    assert times[-2] == DAY.opens + (13 * 60 + 17) * 60_000
    assert times[-1] == DAY.closes
    assert len(times) == 15
    assert snapshot_times(DAY, every_minutes=60, offset_minutes=0)[0] == DAY.opens
    with pytest.raises(ValueError, match="offset"):
        snapshot_times(DAY, every_minutes=60, offset_minutes=60)


def test_closing_counts_end_at_b1_b2_b3_and_lt_is_b() -> None:
    assert closing_counts(_report(900, 40, 3)) == {"LP": 900, "LS": 40, "UM": 3, "LT": 943}


def test_closing_counts_need_the_b_letters() -> None:
    report = Report(station="AB-1", category="REFL1", version=1, stage="PART", at=0,
                    fields={"1": 1, "2": 1}, votes={})
    with pytest.raises(ValueError, match="b1, b2, b3"):
        closing_counts(report)


def test_cumulative_is_zero_at_opening_and_everything_at_closing() -> None:
    weights = station_weights(b"s", "LP")
    assert cumulative(1000, weights, DAY, DAY.opens) == 0
    assert cumulative(1000, weights, DAY, DAY.closes) == 1000
    with pytest.raises(ValueError, match="outside"):
        cumulative(1000, weights, DAY, DAY.closes + 1)


def test_weights_are_positive_and_differ_between_stations() -> None:
    a, b = station_weights(b"AB-1", "LP"), station_weights(b"AB-2", "LP")
    assert min(a + b) > 0
    assert a != b
    assert station_weights(b"AB-1", "LP") == a


@settings(max_examples=60, deadline=None)
@given(b1=st.integers(0, 3000), b2=st.integers(0, 500), b3=st.integers(0, 60),
       slack=st.integers(0, 500), every=st.sampled_from([15, 30, 60]), data=st.data())
def test_series_passes_the_turnout_rules_and_ends_at_the_report(
    b1: int, b2: int, b3: int, slack: int, every: int, data: st.DataObject,
) -> None:
    report = _report(b1, b2, b3)
    offset = data.draw(st.integers(0, every - 1))
    times = snapshot_times(DAY, every_minutes=every, offset_minutes=offset)
    series = turnout_series("AB-1", final=closing_counts(report),
                            registered=Registered(permanent=b1 + slack), times=times, day=DAY,
                            seed=data.draw(st.binary(max_size=8)))
    checker = RuleChecker(ELECTION)
    violations = [v for t in series for v in checker.check(t)]
    violations += checker.check(report)
    violations += checker.finish()
    assert violations == []
    assert series[-1].counts == closing_counts(report)
    assert [t.at for t in series] == list(times)


def test_series_refuses_more_permanent_voters_than_registered() -> None:
    with pytest.raises(ValueError, match="permanent list"):
        turnout_series("AB-1", final=closing_counts(_report(10, 0, 0)),
                       registered=Registered(permanent=9), times=(DAY.closes,), day=DAY,
                       seed=b"")


def test_series_refuses_times_not_ending_at_closing() -> None:
    with pytest.raises(ValueError, match="closing"):
        turnout_series("AB-1", final=closing_counts(_report(1, 0, 0)),
                       registered=Registered(permanent=1), times=(DAY.opens,), day=DAY,
                       seed=b"")


def test_demo_signer_is_the_same_key_for_the_same_label_only() -> None:
    assert demo_signer("AB-1").public_key == demo_signer("AB-1").public_key
    assert demo_signer("AB-1").public_key != demo_signer("AB-2").public_key


def test_report_turnout_keeps_a_station_minute_and_registers_a() -> None:
    report = _report(900, 40, 3)
    series = report_turnout(report, DAY, every_minutes=60)
    assert series == report_turnout(report, DAY, every_minutes=60)
    assert len(series) == 15
    assert {t.registered.permanent for t in series} == {900}
    assert len({(t.at - DAY.opens) % 3_600_000 for t in series[:-1]}) == 1
    assert series[-1].counts == {"LP": 900, "LS": 40, "UM": 3, "LT": 943}


def test_report_turnout_needs_the_registered_field_a() -> None:
    fields = {k: v for k, v in _report(1, 0, 0).fields.items() if k != "a"}
    report = Report(station="AB-1", category="PRSD", version=1, stage="PART", at=0,
                    fields=fields, votes={})
    with pytest.raises(ValueError, match="no field a"):
        report_turnout(report, DAY, every_minutes=60)


def test_period_end_puts_a_boundary_time_in_the_period_it_ends() -> None:
    quarter = 15 * 60_000
    assert period_end(DAY.opens, DAY.opens, 15) == DAY.opens
    assert period_end(DAY.opens + 1, DAY.opens, 15) == DAY.opens + quarter
    assert period_end(DAY.opens + quarter, DAY.opens, 15) == DAY.opens + quarter
    assert period_end(DAY.opens + quarter + 1, DAY.opens, 15) == DAY.opens + 2 * quarter
    with pytest.raises(ValueError, match="at least a minute"):
        period_end(0, 0, 0)
