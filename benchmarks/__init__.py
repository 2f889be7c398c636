"""election-ledger benchmarks: rates as ratios to limits measured in the same run (issue 6).

Run ``python -m benchmarks.run --quick`` (minutes) or ``--full`` (an hour, ~10 GB of disk). Each
workload runs in its own subprocess per N so its memory figures are its own. Benchmark-only
extras (never project dependencies): PyNaCl (comparison), pymerkle 7 (GPL peer), matplotlib.
"""
