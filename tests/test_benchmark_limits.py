"""The audit/ingest limit is the bare verify loop on every core at once, and the figures are
divided by it (issue 20, "An honest limit")."""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks.evaluate import combine_limits, evaluate, non_signature_budget_us
from benchmarks.limits import concurrent_rates, sign_pairs, signature_triples
from benchmarks.table import limits_lines


def _limits(concurrent: float | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "cores": 2, "ed25519_verify_cryptography": 10_000.0, "ed25519_verify_pynacl": 20_000.0,
        "ed25519_verify_ledger_signing": 9_000.0, "sha256_leaf": 1e6, "sha256_node": 1e6,
        "entry_bytes_mean": 315.0,
    }
    if concurrent is not None:
        out.update(ed25519_verify_concurrent=concurrent,
                   ed25519_verify_concurrent_library="pynacl",
                   ed25519_verify_concurrent_per_process=[concurrent / 2, concurrent / 2])
    return out


def _audit_row(rate: float) -> dict[str, Any]:
    return {"workload": "audit", "n": 1000, "available": True, "memory": {},
            "rows": [{"figure": "audit", "op": "verify", "impl": "ours", "count": 1000,
                      "seconds": 1000 / rate, "rate": rate, "extra": {}}]}


def test_concurrent_loops_count_every_process_in_the_same_windows() -> None:
    loops = [("verify-pynacl", signature_triples()[:64]),
             ("verify-cryptography", signature_triples()[:64]), ("sign", sign_pairs()[:64])]
    results = concurrent_rates(loops, processes=2, seconds=0.05, repeats=2)
    for kind, _ in loops:
        result = results[kind]
        assert result["processes"] == 2
        assert len(result["per_process"]) == 2
        assert all(rate > 0 for rate in result["per_process"])
        assert result["total"] == pytest.approx(sum(result["per_process"]), rel=1e-3)


def test_audit_is_divided_by_the_concurrent_limit_with_the_old_ratio_beside_it() -> None:
    limits = combine_limits(_limits(30_000.0), None)
    [row] = evaluate([_audit_row(15_000.0)], limits)
    assert row["limit"] == 30_000.0
    assert row["ratio"] == 0.5
    assert row["extra"]["ratio_vs_cores_x_single"] == 0.375  # 15k / (2 x 20k)
    assert limits["ed25519_scaling"] == 0.75


def test_a_run_without_the_concurrent_limit_still_divides_by_cores_x_single() -> None:
    limits = combine_limits(_limits(None), None)
    [row] = evaluate([_audit_row(15_000.0)], limits)
    assert row["limit"] == 40_000.0
    assert "concurrent" not in limits_lines(limits)


def test_budget_per_entry_is_recomputed_from_the_concurrent_limit() -> None:
    limits = combine_limits(_limits(40_000.0), None)
    # V = 2 / 40,000 s = 50 us per verify; 50 * (1 / 0.85 - 1) = 8.82 us
    assert non_signature_budget_us(limits, 0.85) == pytest.approx(8.8235, rel=1e-3)
    text = limits_lines(limits)
    assert "on every core at once" in text
    assert "scaling 1" in text
    assert "8.8 us at 0.85" in text
