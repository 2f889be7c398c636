"""Plot a results JSON: records/s and peak anonymous RSS against N (matplotlib, PNG).

``python -m benchmarks.plot benchmarks/results/<date>.json [-o FILE.png]`` (default: the JSON's
name with ``.png``). matplotlib is a benchmark-only extra.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

#: The rates worth a line: (figure, op, impl) -> label.
SERIES = {
    ("sequencing", "append", "ours"): "sequencing (ours)",
    ("ingest", "append+seal", "ours"): "ingest (ours)",
    ("audit", "verify", "ours"): "audit (ours)",
    ("proofs", "inclusion", "ours"): "inclusion proofs from storage (ours)",
    ("proofs", "consistency", "ours"): "consistency proofs from storage (ours)",
    ("peer", "append", "pymerkle-sqlite"): "append, pymerkle SqliteTree",
    ("peer", "inclusion", "pymerkle-sqlite"): "inclusion proofs, pymerkle SqliteTree",
    ("peer", "append", "pymerkle-inmemory"): "append, pymerkle InmemoryTree",
}


def series(rows: Sequence[Mapping[str, Any]]) -> dict[str, list[tuple[int, float]]]:
    """Label -> [(N, rate)] sorted by N, for the rows in :data:`SERIES`."""
    out: dict[str, list[tuple[int, float]]] = {}
    for row in rows:
        label = SERIES.get((row["figure"], row["op"], row["impl"])) if row["available"] else None
        if label is not None:
            out.setdefault(label, []).append((row["n"], row["rate"]))
    return {label: sorted(points) for label, points in out.items()}


def memory_series(report: Mapping[str, Any]) -> dict[str, list[tuple[int, float]]]:
    """Workload -> [(N, peak anonymous RSS in MiB)] sorted by N."""
    table = report["memory"]["rss_anon_peak_mib"]
    return {w: sorted((int(n), mib) for n, mib in by_n.items()) for w, by_n in table.items()}


def plot(report: Mapping[str, Any], out: Path) -> None:
    """Write the two-panel PNG for ``report`` to ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (rates, memory) = plt.subplots(1, 2, figsize=(13, 5.5))
    for label, points in series(report["rows"]).items():
        ns, values = zip(*points, strict=True)
        rates.plot(ns, values, marker="o", label=label,
                   linestyle="--" if "pymerkle" in label else "-")
    limits = report["limits"]
    together = limits.get("ed25519_verify_concurrent")
    rates.axhline(together or limits["ed25519_verify_all_cores"], linestyle="--", color="grey",
                  label="limit: Ed25519 verify/s, every core at once" if together
                  else "limit: cores x Ed25519 verify/s")
    rates.set(xscale="log", yscale="log", xlabel="N (records)", ylabel="per second",
              title="rates against N")
    rates.legend(fontsize=7)
    for workload, points in memory_series(report).items():
        ns, values = zip(*points, strict=True)
        memory.plot(ns, values, marker="o", label=workload)
    memory.set(xscale="log", xlabel="N (records)", ylabel="MiB",
               title="peak anonymous RSS (one process per N)")
    memory.set_ylim(bottom=0)
    memory.legend(fontsize=7)
    fig.suptitle(f"election-ledger benchmarks, {report['date']}, {report['machine']['cpu']}, "
                 f"{limits['cores']} cores", fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> Path:
    """Read the JSON, write the PNG, return its path."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.plot")
    parser.add_argument("results", type=Path)
    parser.add_argument("-o", "--out", type=Path)
    args = parser.parse_args(argv)
    report = json.loads(args.results.read_text(encoding="utf-8"))
    out: Path = args.out or args.results.with_suffix(".png")
    plot(report, out)
    print(out)
    return out


if __name__ == "__main__":
    main()
