"""``make fuzz``: every target of tests/fuzz_targets.py under atheris (coverage-guided, libFuzzer),
one process per target, for ``--seconds`` each; prints the inputs each ran (docs/threat-model.md,
"Tested against").

    python -m tests.fuzz_atheris [--seconds N] [TARGET ...]

Each target starts from its seeds (valid inputs) in a fresh corpus folder. A crash (an exception
that is not a LedgerError, or a failed round trip) stops that target, keeps the input in
``fuzz-crashes/`` and makes the run exit 1. Without atheris installed (the ``fuzz`` extra), the
same targets run under hypothesis with as many examples as fit in the time.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_DONE = re.compile(rb"Done (\d+) runs in (\d+) second")
CRASHES = Path("fuzz-crashes")


def _one(name: str, seconds: int, corpus: str) -> None:
    """The child: fuzz one target with atheris until the time is up."""
    import atheris

    with atheris.instrument_imports(include=["ledger"]):
        from tests import fuzz_targets

    def test_one_input(data: bytes) -> None:
        fuzz_targets.run(name, data)

    CRASHES.mkdir(exist_ok=True)
    atheris.Setup([sys.argv[0], f"-max_total_time={seconds}", "-rss_limit_mb=2048",
                   f"-artifact_prefix={CRASHES}/{name}-", "-print_final_stats=1", corpus],
                  test_one_input)
    atheris.Fuzz()


def _atheris(names: list[str], seconds: int) -> int:
    from tests.fuzz_targets import seeds

    failed = 0
    total = 0
    for name in names:
        with tempfile.TemporaryDirectory(prefix=f"fuzz-{name}-") as corpus:
            for i, data in enumerate(seeds()[name]):
                Path(corpus, f"seed-{i}").write_bytes(data)
            started = time.monotonic()
            child = subprocess.run(
                [sys.executable, "-m", "tests.fuzz_atheris", "--one", name, "--seconds",
                 str(seconds), "--corpus", corpus], capture_output=True, check=False)
            found = _DONE.search(child.stderr)
            runs = int(found.group(1)) if found else 0
            total += runs
            verdict = "ok" if child.returncode == 0 else f"CRASH (exit {child.returncode})"
            print(f"{name:16} {runs:>12,} inputs in {time.monotonic() - started:6.1f} s  "
                  f"{verdict}", flush=True)
            if child.returncode != 0:
                failed += 1
                sys.stderr.write(child.stderr.decode("utf-8", "replace")[-4000:])
    print(f"{'all':16} {total:>12,} inputs, {len(names)} targets, atheris, {failed} crashed")
    return 1 if failed else 0


def _hypothesis(names: list[str], seconds: int) -> int:
    """Fallback without atheris: hypothesis, as in make test, with many more examples."""
    total = 0
    for name in names:
        count = _hypothesis_one(name, seconds)
        total += count
        print(f"{name:16} {count:>12,} inputs in {seconds} s  ok", flush=True)
    print(f"{'all':16} {total:>12,} inputs, {len(names)} targets, hypothesis")
    return 0


def _hypothesis_one(name: str, seconds: int) -> int:
    from hypothesis import HealthCheck, given, settings

    from tests.fuzz_targets import run
    from tests.test_fuzz import inputs

    count = [0]
    deadline = time.monotonic() + seconds

    @settings(max_examples=10**9, derandomize=False, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(inputs(name))
    def fuzz(data: bytes) -> None:
        if time.monotonic() > deadline:
            raise _TimeUp
        count[0] += 1
        run(name, data)

    with contextlib.suppress(_TimeUp):
        fuzz()
    return count[0]


class _TimeUp(Exception):  # noqa: N818 - a signal to stop, not an error
    pass


def main() -> int:
    from tests.fuzz_targets import TARGETS

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("targets", nargs="*", default=[], help="targets (default: all)")
    parser.add_argument("--seconds", type=int, default=int(os.environ.get("FUZZ_SECONDS", 60)))
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--corpus", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        _one(args.one, args.seconds, args.corpus)
        return 0
    names = args.targets or sorted(TARGETS)
    unknown = set(names) - set(TARGETS)
    if unknown:
        parser.error(f"unknown targets {sorted(unknown)}; known: {', '.join(sorted(TARGETS))}")
    try:
        import atheris  # noqa: F401
    except ImportError:
        print("atheris is not installed (pip install -e '.[fuzz]'): fuzzing with hypothesis")
        return _hypothesis(names, args.seconds)
    return _atheris(names, args.seconds)


if __name__ == "__main__":
    sys.exit(main())
