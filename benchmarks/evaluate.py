"""Rates divided by their limits, and the issue's targets checked (issue 6, "Targets").

Limits are measured twice per run, before and after the workloads; each limit is the better of
the two (a limit is what the machine can do at best). Audit and ingest are divided by the bare
verify loop running on every core at once; their ratio to cores x one core is kept beside it.
Peer rows are divided the other way: our rate over pymerkle's for the same operation at the
same N.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

MILLION = 1_000_000
BIG = 16_800_000

#: Our row that a peer row compares against: (figure, op) by the peer's op.
_OURS_FOR_PEER = {
    "append": ("sequencing", "append"),
    "inclusion": ("proofs", "inclusion"),
    "consistency": ("proofs", "consistency"),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Target:
    """A target of the issue: a floor on the ratio and/or on the rate, from some N on."""

    text: str
    min_ratio: float | None = None
    min_rate: float | None = None
    from_n: int = 0

    def met(self, rate: float, ratio: float | None, n: int) -> bool | None:
        """True / False where the target applies at ``n``, None where it does not."""
        if n < self.from_n:
            return None
        if self.min_ratio is not None and (ratio is None or ratio < self.min_ratio):
            return False
        return self.min_rate is None or rate >= self.min_rate


TARGETS: dict[tuple[str, str, str], Target] = {
    ("audit", "verify", "ours"): Target(text="ratio >= 0.85", min_ratio=0.85),
    ("ingest", "append+seal", "ours"): Target(text="ratio >= 0.8", min_ratio=0.8),
    ("sequencing", "append", "ours"): Target(
        text=">= 250k/s, ratio >= 0.12", min_rate=250_000, min_ratio=0.12),
    ("proofs", "inclusion", "ours"): Target(
        text=">= 20k/s at N >= 1M", min_rate=20_000, from_n=MILLION),
    ("witness", "add-checkpoint, 43 origins", "ours"): Target(
        text=">= 1,000/s", min_rate=1_000),
    ("peer", "append", "pymerkle-sqlite"): Target(text="ours >= 1.5x", min_ratio=1.5),
    ("peer", "inclusion", "pymerkle-sqlite"): Target(text="ours >= 10x", min_ratio=10.0),
    ("peer", "consistency", "pymerkle-sqlite"): Target(text="ours >= 10x", min_ratio=10.0),
}


def combine_limits(start: Mapping[str, Any], end: Mapping[str, Any] | None) -> dict[str, Any]:
    """Each numeric limit: the better of its two measurements."""
    out = dict(start)
    for key, value in (end or {}).items():
        if isinstance(value, int | float) and isinstance(out.get(key), int | float):
            out[key] = max(out[key], value)
    best_crypto = out["ed25519_verify_cryptography"]
    best_nacl = out.get("ed25519_verify_pynacl") or 0.0
    out["ed25519_verify_best"] = max(best_crypto, best_nacl)
    out["ed25519_verify_best_library"] = "pynacl" if best_nacl > best_crypto else "cryptography"
    out["ed25519_verify_all_cores"] = out["ed25519_verify_best"] * out["cores"]
    if out.get("ed25519_verify_concurrent"):
        library = out.get("ed25519_verify_concurrent_library", "pynacl")
        single = out.get(f"ed25519_verify_{library}") or out["ed25519_verify_best"]
        out["ed25519_scaling"] = round(out["ed25519_verify_concurrent"] / (out["cores"] * single),
                                       3)
    return out


def audit_limit(limits: Mapping[str, Any]) -> float:
    """The limit audit and ingest are divided by: the bare verify loop on every core at once
    (cores x one core where a run of old did not measure it)."""
    value: float = limits.get("ed25519_verify_concurrent") or limits["ed25519_verify_all_cores"]
    return value


def non_signature_budget_us(limits: Mapping[str, Any], target: float) -> float:
    """Microseconds per entry, summed over all processes, left for everything but the signature
    check at ``target`` of the limit: V * (1/target - 1), V = cores / limit seconds per verify."""
    per_verify: float = limits["cores"] / audit_limit(limits)
    return per_verify * (1 / target - 1) * 1e6


def _limit(row: Mapping[str, Any], n: int, limits: Mapping[str, Any]) -> tuple[float | None, str]:
    """The limit a row is divided by, and how it was made."""
    figure = row["figure"]
    if figure in ("audit", "ingest"):
        if limits.get("ed25519_verify_concurrent"):
            library = limits.get("ed25519_verify_concurrent_library", "pynacl")
            return audit_limit(limits), f"Ed25519 ({library}) on {limits['cores']} cores at once"
        library = limits["ed25519_verify_best_library"]
        return limits["ed25519_verify_all_cores"], f"{limits['cores']} cores x Ed25519 ({library})"
    if figure == "sequencing":
        return limits["sha256_leaf"], "SHA-256 leaf hashes/s"
    if figure == "proofs":
        return limits["sha256_node"] / math.log2(n), "SHA-256/s / log2(N)"
    if figure == "proof checks":
        length = row["extra"]["proof_length"]
        return limits["sha256_node"] / max(length, 1.0), "SHA-256/s / proof length"
    return None, ""


def evaluate(
    results: Sequence[Mapping[str, Any]], limits: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """One flat row per measured rate (or per unavailable workload), with limit, ratio, target."""
    ours = {
        (r["figure"], r["op"], res["n"]): r["rate"]
        for res in results for r in res["rows"] if r["impl"] == "ours"
    }
    rows: list[dict[str, Any]] = []
    for res in results:
        n = res["n"]
        if not res["available"]:
            rows.append({"figure": res["workload"], "op": "", "impl": "", "n": n,
                         "available": False, "reason": res.get("reason", ""),
                         "memory": res["memory"]})
            continue
        for r in res["rows"]:
            limit, basis = _limit(r, n, limits)
            ratio = None if not limit else r["rate"] / limit
            if r["figure"] == "peer":
                mine = ours.get((*_OURS_FOR_PEER[r["op"]], n))
                ratio = None if mine is None or not r["rate"] else mine / r["rate"]
                basis = "ours / pymerkle"
            if r["figure"] in ("audit", "ingest") and limits.get("ed25519_verify_all_cores"):
                r = {**r, "extra": {**r.get("extra", {}), "ratio_vs_cores_x_single": round(
                    r["rate"] / limits["ed25519_verify_all_cores"], 3)}}
            target = TARGETS.get((r["figure"], r["op"], r["impl"]))
            rows.append({
                **r, "n": n, "available": True, "limit": None if limit is None else round(limit, 1),
                "limit_basis": basis, "ratio": None if ratio is None else round(ratio, 3),
                "target": target.text if target else None,
                "met": target.met(r["rate"], ratio, n) if target else None,
                "memory": res["memory"],
            })
    return rows


def memory_growth(results: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Peak anonymous RSS by workload and N, and the 16.8M / 1M target where both ran."""
    table: dict[str, dict[int, float]] = {}
    for res in results:
        peak = res["memory"].get("rss_anon_peak_mib")
        if peak is not None:
            table.setdefault(res["workload"], {})[res["n"]] = peak
    checks = {}
    for workload, by_n in table.items():
        if MILLION in by_n and BIG in by_n:
            growth = by_n[BIG] / by_n[MILLION]
            checks[workload] = {"growth_16_8M_over_1M": round(growth, 3), "met": growth <= 1.2}
    return {"rss_anon_peak_mib": table, "target": "at 16.8M within 1.2x of 1M", "checks": checks}
