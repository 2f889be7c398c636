"""One workload at one N in a process of its own, so its memory figures are its own.

``python -m benchmarks.worker WORKLOAD N WORKDIR [--seed S] [--seconds T]`` prints one JSON
object on its last stdout line: the rows, or why the workload is not available, and memory.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.memory import AnonSampler, memory_report
from benchmarks.peer import peer_inmemory, peer_sqlite
from benchmarks.publish_s3 import publish_s3
from benchmarks.timing import NotAvailableError, Row
from benchmarks.witness import witness
from benchmarks.workloads import WORKLOADS

Workload = Callable[[int, Path, int, float], list[Row]]

ALL: dict[str, Workload] = {**WORKLOADS, "peer-sqlite": peer_sqlite,
                            "peer-inmemory": peer_inmemory, "witness": witness,
                            "publish-s3": publish_s3}


def run_workload(name: str, n: int, workdir: Path, seed: int, seconds: float) -> dict[str, Any]:
    """Run ``name`` at ``n`` here, sampling anonymous RSS; never raises for a workload failure."""
    out: dict[str, Any] = {"workload": name, "n": n, "available": True, "rows": []}
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with AnonSampler() as sampler:
        try:
            out["rows"] = [r.to_json() for r in ALL[name](n, workdir, seed, seconds)]
        except NotAvailableError as e:
            out.update(available=False, reason=str(e))
        except Exception as e:
            traceback.print_exc(file=sys.stderr)
            out.update(available=False, reason=f"failed: {type(e).__name__}: {e}", failed=True)
    out["wall_seconds"] = round(time.perf_counter() - started, 3)
    out["memory"] = memory_report(sampler)
    return out


def main(argv: list[str] | None = None) -> None:
    """Parse the command line, run one workload, print its JSON on the last line."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.worker")
    parser.add_argument("workload", choices=sorted(ALL))
    parser.add_argument("n", type=int)
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args(argv)
    result = run_workload(args.workload, args.n, args.workdir, args.seed, args.seconds)
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
