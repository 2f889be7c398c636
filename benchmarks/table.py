"""The results table: plain text for the terminal, Markdown for docs/performance.md."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from benchmarks.evaluate import non_signature_budget_us

_HEADER = ("figure", "op", "impl", "N", "rate/s", "limit/s", "ratio", "target", "met",
           "anon RSS MiB")


def _number(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def _size(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:g}M"
    if n >= 1_000:
        return f"{n / 1_000:g}k"
    return str(n)


def _cells(row: Mapping[str, Any]) -> tuple[str, ...]:
    peak = row["memory"].get("rss_anon_peak_mib")
    if not row["available"]:
        return (row["figure"], "not available", "", _size(row["n"]), "", "", "", "",
                "", _number(peak))
    met = {True: "yes", False: "NO", None: ""}[row["met"]]
    ratio = "-" if row["ratio"] is None else f"{row['ratio']:.3g}"
    return (row["figure"], row["op"], row["impl"], _size(row["n"]), _number(row["rate"]),
            _number(row["limit"]), ratio, row["target"] or "", met, _number(peak))


def text_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """Aligned columns, then one line per unavailable workload saying why."""
    cells = [_HEADER, *(_cells(r) for r in rows)]
    widths = [max(len(c[i]) for c in cells) for i in range(len(_HEADER))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
             for line in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines += [f"not available: {r['figure']} at N={r['n']}: {r['reason']}"
              for r in rows if not r["available"]]
    return "\n".join(lines)


def markdown_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """The same table in Markdown."""
    lines = ["| " + " | ".join(_HEADER) + " |", "|" + "---|" * len(_HEADER)]
    lines += ["| " + " | ".join(_cells(r)) + " |" for r in rows]
    unavailable = [f"- {r['figure']} at N={r['n']}: not available: {r['reason']}"
                   for r in rows if not r["available"]]
    return "\n".join(lines + (["", *unavailable] if unavailable else []))


def limits_lines(limits: Mapping[str, Any]) -> str:
    """The limits of the run, one per line."""
    nacl = limits.get("ed25519_verify_pynacl")
    return "\n".join([
        f"cores: {limits['cores']}",
        f"Ed25519 verify/s per core: cryptography {_number(limits['ed25519_verify_cryptography'])}"
        f", PyNaCl {_number(nacl) if nacl else 'not installed'}"
        f", ledger.formats.signing {_number(limits['ed25519_verify_ledger_signing'])}",
        *_audit_limit_lines(limits),
        f"SHA-256/s: leaf {_number(limits['sha256_leaf'])} (entries of "
        f"{limits['entry_bytes_mean']:.0f} bytes), node {_number(limits['sha256_node'])}",
    ])


def _audit_limit_lines(limits: Mapping[str, Any]) -> list[str]:
    """The audit/ingest limit: on every core at once, cores x one core, the scaling, the budget."""
    single = (f"{_number(limits['ed25519_verify_all_cores'])}/s as {limits['cores']} cores x one "
              f"core ({limits['ed25519_verify_best_library']})")
    together = limits.get("ed25519_verify_concurrent")
    if not together:
        return [f"audit/ingest limit: {single}"]
    per_process = ", ".join(_number(r) for r in limits.get(
        "ed25519_verify_concurrent_per_process", []))
    budget = ", ".join(f"{_number(non_signature_budget_us(limits, t), 1)} us at {t:g}"
                       for t in (0.85, 0.8))
    return [
        f"audit/ingest limit: {_number(together)}/s, Ed25519 "
        f"({limits.get('ed25519_verify_concurrent_library', 'pynacl')}) on every core at once "
        f"({per_process}); {single}; scaling {limits.get('ed25519_scaling', 0):.3g}",
        f"non-signature budget per entry, all processes: {budget}",
    ]
