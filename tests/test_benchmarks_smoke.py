"""The benchmark harness still runs end to end (tiny N, no pymerkle), so its code cannot rot."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks import run


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("bench") / "smoke.json"
    run.main(["--sizes", "200", "--no-peer", "--seconds", "0.05", "--limit-seconds", "0.02",
              "--no-plot", "--out", str(out)])
    data: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    data["_out"] = str(out)
    return data


def test_harness_measures_every_workload_at_n_200_against_its_limit(
    report: dict[str, Any],
) -> None:
    rows = {(r["figure"], r["op"]): r for r in report["rows"]}
    unavailable = [r for r in report["rows"] if not r["available"]]
    assert unavailable == []
    for key in [("sequencing", "append"), ("proofs", "inclusion"), ("proofs", "consistency"),
                ("proof checks", "inclusion"), ("ingest", "append+seal"), ("audit", "verify")]:
        row = rows[key]
        assert row["rate"] > 0, key
        assert row["ratio"] is not None, key
        assert row["ratio"] > 0, key
        assert row["memory"]["rss_anon_peak_mib"] > 0, key
    for key in [("witness", "add-checkpoint, 1 origin"), ("witness", "durable write"),
                ("witness", "add-checkpoint, 43 origins")]:
        assert rows[key]["rate"] > 0, key  # every request answered 200, or the worker failed
    assert rows[("witness", "add-checkpoint, 43 origins")]["target"] == ">= 1,000/s"
    for key in [("publish", "to a directory"), ("publish", "to S3 (rclone serve s3)")]:
        assert rows[key]["rate"] > 0, key
        assert rows[key]["count"] == rows[("publish", "tiles built, not written")]["count"], key
    assert rows[("publish", "to S3 again (nothing new)")]["extra"]["written"] == 0
    assert rows[("audit", "verify")]["extra"]["ok"] is True
    assert rows[("audit", "verify")]["count"] == rows[("ingest", "append+seal")]["extra"][
        "tree_size"]
    assert report["limits"]["cores"] >= 1
    assert report["limits"]["sha256_leaf"] > 0
    assert Path(report["_out"]).with_suffix(".md").read_text(encoding="utf-8").startswith(
        "cores:")


def test_the_audit_parts_are_measured_on_a_published_tree() -> None:
    from benchmarks.audit_parts import measure
    from tests.conftest import GOLDEN_DIR

    parts = measure(GOLDEN_DIR / "valid-small", repeat=1)
    assert set(parts) >= {"checker and tile audit", "checker", "decode_checked", "leaf hash"}
    assert all(us > 0 for us in parts.values())


def test_two_runs_are_compared_row_by_row(report: dict[str, Any]) -> None:
    from benchmarks.compare import compare

    slower = {**report, "rows": [{**r, "rate": r["rate"] / 2} for r in report["rows"]
                                  if r["available"] and r["figure"] == "audit"]}
    table = compare(slower, report).splitlines()
    audit = [line for line in table if line.startswith("| audit | verify | ours | 200 |")]
    assert len(audit) == 1
    assert audit[0].endswith("| 2.00x |")
    assert len(table) == 2 + sum(1 for r in report["rows"] if r["available"])


def test_plot_draws_the_smoke_results(report: dict[str, Any], tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from benchmarks import plot

    out = plot.main([report["_out"], "-o", str(tmp_path / "plot.png")])
    assert out.read_bytes().startswith(b"\x89PNG")


def test_same_answer_script_finds_golden_signatures_valid_in_both_libraries() -> None:
    pytest.importorskip("nacl")
    from benchmarks import ed25519_same_answer as same

    golden = same.golden_cases()
    answers = same.answers(golden)
    assert len(golden) > 300
    assert all(a.cryptography and a.pynacl for a in answers)


def test_the_http_latency_benchmark_runs(capsys: pytest.CaptureFixture[str]) -> None:
    from benchmarks import http_latency

    http_latency.main(["--n", "300", "--latency", "0.001"])
    result = json.loads(capsys.readouterr().out)
    assert result["ok"] is True
    assert result["entries"] > 300
    assert result["http_seconds"] > 0


def test_the_national_audit_benchmark_runs(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    from benchmarks import national

    national.main(["--size", "400", "--counties", "3", "--workdir", str(tmp_path / "n")])
    result = json.loads(capsys.readouterr().out.split("(not timed)\n", 1)[1])
    assert result["one_log"]["ok"] is True
    assert result["national"]["ok"] is True
    assert result["national"]["counties"] == 3
    assert result["national"]["county_entries"] >= 400
    assert result["ratio"] > 0
