"""Entry point: ``python -m benchmarks.run --quick | --full [options]``.

Measures the limits, runs every workload at every N in a subprocess of its own (in dependency
order: sequencing before proofs and the peer, ingest before audit), measures the limits again,
prints the table and writes ``benchmarks/results/<date>.json``, a Markdown copy of the table and,
with matplotlib installed, the plot.
"""

from __future__ import annotations

import argparse
import datetime
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.evaluate import BIG, combine_limits, evaluate, memory_growth
from benchmarks.limits import machine, measure_limits
from benchmarks.table import limits_lines, markdown_table, text_table

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
ORDER = ("sequencing", "proofs", "peer-sqlite", "peer-inmemory", "ingest", "audit", "publish-s3",
         "witness")
PEERS = ("peer-sqlite", "peer-inmemory")
#: A workload at one N that runs longer than this is stopped and reported as failed.
WORKER_TIMEOUT = 3 * 3600
#: Workloads that also run at the full run's 16.8M records.
BIG_WORKLOADS = ("sequencing", "proofs")


@dataclass(frozen=True, slots=True, kw_only=True)
class Mode:
    """Sizes and time windows of a run."""

    sizes: tuple[int, ...]
    big_sizes: tuple[int, ...]
    seconds: float
    limit_seconds: float


MODES = {
    "quick": Mode(sizes=(10_000,), big_sizes=(), seconds=0.5, limit_seconds=0.4),
    "full": Mode(sizes=(10_000, 100_000, 1_000_000), big_sizes=(BIG,), seconds=3.0,
                 limit_seconds=2.0),
}


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _failed(workload: str, n: int, reason: str) -> dict[str, Any]:
    _log(f"  {workload} N={n:,}: FAILED: {reason}")
    return {"workload": workload, "n": n, "available": False, "rows": [], "memory": {},
            "failed": True, "reason": reason}


def run_worker(workload: str, n: int, workdir: Path, seed: int, seconds: float) -> dict[str, Any]:
    """Run one workload at one N in a fresh interpreter; its last stdout line is the result."""
    command = [sys.executable, "-m", "benchmarks.worker", workload, str(n), str(workdir),
               "--seed", str(seed), "--seconds", str(seconds)]
    started = time.perf_counter()
    try:
        done = subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, text=True, check=False,
                              timeout=WORKER_TIMEOUT)
    except subprocess.TimeoutExpired:
        return _failed(workload, n, f"worker still running after {WORKER_TIMEOUT} s: stopped")
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        return _failed(workload, n, f"worker exited with status {done.returncode}")
    result: dict[str, Any] = json.loads(lines[-1])
    status = "ok" if result["available"] else f"not available: {result.get('reason')}"
    _log(f"  {workload} N={n:,}: {status} ({time.perf_counter() - started:.1f} s)")
    return result


def plan_runs(sizes: Sequence[int], big_sizes: Sequence[int],
              workloads: Sequence[str]) -> list[tuple[int, list[str]]]:
    """(N, workloads in dependency order) for every N, smallest first."""
    runs = [(n, [w for w in ORDER if w in workloads]) for n in sorted(sizes)]
    runs += [(n, [w for w in ORDER if w in workloads and w in BIG_WORKLOADS])
             for n in sorted(big_sizes)]
    return [(n, ws) for n, ws in runs if ws]


def run(
    *, mode: str, sizes: Sequence[int], big_sizes: Sequence[int], workloads: Sequence[str],
    seconds: float, limit_seconds: float, out: Path, workdir: Path | None, keep: bool, seed: int,
    draw: bool = True,
) -> dict[str, Any]:
    """Run everything and write the JSON (and its Markdown table) to ``out``; return the JSON."""
    started = time.perf_counter()
    _log("measuring limits ...")
    limits_start = measure_limits(limit_seconds)
    base = workdir or Path(tempfile.mkdtemp(prefix="ledger-bench-"))
    results = []
    try:
        for n, names in plan_runs(sizes, big_sizes, workloads):
            _log(f"N = {n:,}")
            for name in names:
                results.append(run_worker(name, n, base / str(n), seed, seconds))
            if not keep:
                shutil.rmtree(base / str(n), ignore_errors=True)
    finally:
        if not keep and workdir is None:
            shutil.rmtree(base, ignore_errors=True)
    _log("measuring limits again ...")
    limits_end = measure_limits(limit_seconds)
    limits = combine_limits(limits_start, limits_end)
    rows = evaluate(results, limits)
    report = {
        "format": "election-ledger-bench/1",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "mode": mode,
        "command": " ".join(["python -m benchmarks.run", *sys.argv[1:]]),
        "seed": seed,
        "machine": machine(),
        "limits": limits,
        "limits_start": limits_start,
        "limits_end": limits_end,
        "rows": rows,
        "memory": memory_growth(results),
        "seconds": round(time.perf_counter() - started, 1),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    out.with_suffix(".md").write_text(
        limits_lines(limits) + "\n\n" + markdown_table(rows) + "\n", encoding="utf-8")
    if draw:
        _plot(report, out.with_suffix(".png"))
    return report


def _plot(report: dict[str, Any], out: Path) -> None:
    """The PNG next to the JSON, when matplotlib (a benchmark-only extra) is installed."""
    try:
        from benchmarks.plot import plot
        plot(report, out)
    except ImportError as e:
        _log(f"no plot ({e}): pip install matplotlib, then python -m benchmarks.plot")


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(part.replace("_", "")) for part in text.split(",") if part]
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"sizes are integers separated by commas: {e}") from e
    if not sizes or min(sizes) < 3:
        raise argparse.ArgumentTypeError("every size must be at least 3")
    return sizes


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Parse the command line, run, print the table; return the JSON report."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--quick", action="store_true", help="N = 10k only (a few minutes)")
    which.add_argument("--full", action="store_true", help="N = 10k, 100k, 1M and 16.8M")
    parser.add_argument("--sizes", type=_sizes, help="comma-separated N (replaces the mode's)")
    parser.add_argument("--workloads", type=lambda s: s.split(","), default=list(ORDER),
                        help=f"comma-separated subset of {','.join(ORDER)}")
    parser.add_argument("--no-peer", action="store_true", help="skip pymerkle")
    parser.add_argument("--seconds", type=float, help="time window of each proof workload")
    parser.add_argument("--limit-seconds", type=float, help="time window of each limit loop")
    parser.add_argument("--out", type=Path, help="JSON path (default benchmarks/results/)")
    parser.add_argument("--workdir", type=Path, help="where ledgers are built (default: tmp)")
    parser.add_argument("--keep", action="store_true", help="keep the ledgers built")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-plot", action="store_true", help="do not draw the PNG")
    args = parser.parse_args(argv)
    mode_name = "full" if args.full else "quick"
    mode = MODES[mode_name]
    unknown = set(args.workloads) - set(ORDER)
    if unknown:
        parser.error(f"unknown workloads: {', '.join(sorted(unknown))}")
    workloads = [w for w in args.workloads if not (args.no_peer and w in PEERS)]
    custom = args.sizes is not None
    date = datetime.date.today().isoformat()
    suffix = "" if mode_name == "full" and not custom else f"-{'custom' if custom else 'quick'}"
    report = run(
        mode=mode_name if not custom else "custom",
        sizes=args.sizes if custom else mode.sizes,
        big_sizes=() if custom else mode.big_sizes,
        workloads=workloads,
        seconds=args.seconds if args.seconds is not None else mode.seconds,
        limit_seconds=args.limit_seconds if args.limit_seconds is not None
        else mode.limit_seconds,
        out=args.out or RESULTS / f"{date}{suffix}.json",
        workdir=args.workdir, keep=args.keep, seed=args.seed, draw=not args.no_plot,
    )
    print(limits_lines(report["limits"]))
    print()
    print(text_table(report["rows"]))
    checks = report["memory"]["checks"]
    for workload, check in checks.items():
        verdict = "yes" if check["met"] else "NO"
        print(f"memory {workload}: anon RSS 16.8M / 1M = {check['growth_16_8M_over_1M']} "
              f"(target <= 1.2: {verdict})")
    return report


if __name__ == "__main__":
    main()
