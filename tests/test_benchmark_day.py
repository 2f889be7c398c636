"""The election-day benchmark runs every phase, reports every figure, and resumes where it
stopped (issue 20, items 3 and 4), at 20,000 records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import day
from benchmarks.generator import Keys, Plan, log_records, record_at


def test_record_at_makes_the_records_of_the_log_in_order() -> None:
    plan = Plan.for_records(400)
    keys = Keys.for_plan(plan)
    assert [record_at(plan, keys, i) for i in range(plan.n)] == list(log_records(plan, keys))


def test_seals_fall_after_the_stations_and_every_round_of_turnout() -> None:
    plan = Plan.for_records(20_000)
    count = len(plan.stations)
    seals = [p for p in range(1, plan.n) if day.seals_after(plan, p)]
    assert seals[:2] == [count, 2 * count]
    assert count + plan.turnout in seals
    assert seals[-1] == plan.n - 1


def test_the_day_runs_every_phase_and_a_rerun_skips_the_finished_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    work, out = tmp_path / "work", tmp_path / "day.json"
    common = ["--size", "20000", "--workdir", str(work), "--limit-seconds", "0.01",
              "--out", str(out)]
    assert day.main([*common, "--stop-after", "publish"]) is None
    progress = json.loads((work / "progress.json").read_text(encoding="utf-8"))
    assert list(progress["phases"]) == ["limits-start", "sign", "ingest", "publish"]
    assert not out.exists()
    capsys.readouterr()

    result = day.main(common)
    assert result is not None
    log = capsys.readouterr().err
    for phase in ("limits-start", "sign", "ingest", "publish"):
        assert f"{phase}: done before, skipped" in log
    assert "audit: done before" not in log
    assert result["phases"]["ingest"] == progress["phases"]["ingest"]
    assert not work.exists()  # deleted without --keep

    written = json.loads(out.read_text(encoding="utf-8"))
    rows = {r["phase"]: r for r in written["rows"]}
    assert set(rows) == {"sign", "ingest", "publish", "audit", "append", "republish",
                         "incremental"}
    for name, row in rows.items():
        assert row["seconds"] > 0, name
        assert row["rate"] > 0, name
        assert row["rss_anon_peak_mib"] > 0, name
    for name in ("sign", "ingest", "audit"):
        assert rows[name]["ratio"] > 0, name
    assert rows["ingest"]["ratio_vs_cores_x_single"] > 0
    assert rows["audit"]["records"] == written["phases"]["ingest"]["tree_size"]
    assert rows["incremental"]["records"] == 1_001  # the 1,000 held back and their block
    assert written["incremental"]["ratio"] > 0
    assert written["limits"]["ed25519_verify_concurrent"] > 0
    assert written["limits"]["ed25519_sign_concurrent"] > 0
    assert written["memory"]["end_over_probe"] > 0
    assert written["memory"]["max_over_max_to_probe"] >= 1
    assert written["disk"]["peak_workdir_bytes"] > 0


def test_the_day_refuses_to_start_without_the_disk_it_needs(tmp_path: Path) -> None:
    plan = day.Day(size=day.FULL * 10_000, seed=1, workdir=tmp_path / "w", limit_seconds=0.1)
    with pytest.raises(RuntimeError, match="needs"):
        day.check_disk(plan)
    assert day.required_free_bytes(day.FULL) == day.FULL_FREE_BYTES
