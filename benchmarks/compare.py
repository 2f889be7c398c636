"""Two runs side by side: ``python -m benchmarks.compare PREVIOUS.json NEW.json``.

Prints a Markdown table with one line per (figure, op, impl, N) measured in either run: each
run's rate and ratio to its own limits, and the change of the rate, so that a full run's page
in docs/performance.md shows the previous run's figures beside the new ones.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from benchmarks.table import _number, _size

Key = tuple[str, str, str, int]


def _rows(report: Mapping[str, Any]) -> dict[Key, Mapping[str, Any]]:
    return {(r["figure"], r["op"], r["impl"], r["n"]): r
            for r in report["rows"] if r.get("available")}


def _ratio(row: Mapping[str, Any] | None) -> str:
    if row is None or row.get("ratio") is None:
        return "-"
    return f"{row['ratio']:.3g}"


def _rate(row: Mapping[str, Any] | None) -> str:
    return "-" if row is None else _number(row["rate"])


def compare(previous: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    """The Markdown table of both runs' rows, in the new run's order, then the rows only the
    previous run had."""
    old, now = _rows(previous), _rows(new)
    keys: list[Key] = list(now) + [k for k in old if k not in now]
    lines = ["| figure | op | impl | N | previous rate/s | ratio | new rate/s | ratio | change |",
             "|---|---|---|---|---|---|---|---|---|"]
    for key in keys:
        before, after = old.get(key), now.get(key)
        change = "-"
        if before is not None and after is not None and before["rate"]:
            change = f"{after['rate'] / before['rate']:.2f}x"
        figure, op, impl, n = key
        lines.append(f"| {figure} | {op} | {impl} | {_size(n)} | {_rate(before)} | "
                     f"{_ratio(before)} | {_rate(after)} | {_ratio(after)} | {change} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.compare",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("previous", type=Path)
    parser.add_argument("new", type=Path)
    args = parser.parse_args(argv)
    print(compare(json.loads(args.previous.read_text(encoding="utf-8")),
                  json.loads(args.new.read_text(encoding="utf-8"))))


if __name__ == "__main__":
    main()
