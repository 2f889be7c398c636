"""PNG charts of a tally (`ledger tally --chart DIR`): results per competitor, turnout through the
day. matplotlib is the optional extra `election-ledger[plots]`, loaded only when charts are
asked for."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from ledger.auditor.tally import Tally
from ledger.errors import InputError, Where

#: Competitors shown per results chart (the others are summed as "others").
TOP = 12


def write_charts(tally: Tally, directory: Path, *, tz: str) -> list[Path]:
    """``results-<category>.png`` per category with votes and ``turnout.png``; the paths.

    Raises:
        InputError: matplotlib is not installed, or DIR cannot be written.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise InputError("charts need matplotlib: pip install 'election-ledger[plots]'") from e
    written: list[Path] = []
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for code, category in tally.categories.items():
            votes = category.national.votes
            if not votes:
                continue
            written.append(_results(plt, directory / f"results-{code}.png", code,
                                    category.national.shares()))
        if tally.turnout_national.points:
            written.append(_turnout(plt, directory / "turnout.png", tally, ZoneInfo(tz)))
    except OSError as e:
        raise InputError(f"cannot write the charts: {e.strerror or e}",
                         where=Where(file=str(directory))) from e
    return written


def _results(plt: Any, path: Path, code: str, shares: dict[str, float]) -> Path:
    ranked = sorted(shares.items(), key=lambda item: -item[1])
    shown = ranked[:TOP]
    if len(ranked) > TOP:
        shown.append(("others", sum(share for _, share in ranked[TOP:])))
    figure, axes = plt.subplots(figsize=(8, 0.45 * len(shown) + 1.2))
    names = [name for name, _ in reversed(shown)]
    axes.barh(names, [share for _, share in reversed(shown)], color="#3b6ea5")
    axes.set_xlabel("% of the valid votes")
    axes.set_title(f"{code}: results from the audited log")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def _turnout(plt: Any, path: Path, tally: Tally, zone: ZoneInfo) -> Path:
    figure, axes = plt.subplots(figsize=(9, 5))
    curves = sorted(tally.turnout_by_county.items(), key=lambda item: -item[1].final_lt)[:8]
    for county, curve in [("national", tally.turnout_national), *curves]:
        times = [datetime.fromtimestamp(at / 1000, zone) for at, _ in curve.points]
        axes.step(times, [lt for _, lt in curve.points], where="post", label=county)
    axes.set_ylabel("LT (voters so far)")
    axes.set_title("turnout through the day, by the records' own times")
    axes.legend(fontsize="small")
    figure.autofmt_xdate()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
