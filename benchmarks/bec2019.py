"""The 2019 presidential first round in the BEC 2019 form, whole files: ``python -m
benchmarks.bec2019 [--data DIR] [--work DIR]`` (``make bec2019``).

Runs the installed CLI as a publisher would: manifest from both files with their legend, init,
station import, import of the round-1 file and of its mail file (``--at``: the form's rows carry
no time), seal, verify; then checks that each candidate's total in the ledger equals the sum of
the CSV's column over the rows imported (the repeated mail bureau 48/3 is refused, line 5).
Prints each step's figures as Markdown (docs/records.md, "The BEC 2019 PV form").
"""

from __future__ import annotations

import argparse
import csv
import tempfile
from collections import Counter
from pathlib import Path

from benchmarks.election_night import DATA, TZ, Night, _header
from ledger.formats.records import Report
from ledger.publisher.ledger import Ledger

AT = "2019-11-10 21:00"
FILES = ("pv_PRSD_FINAL_tur1.csv", "pv_SR_PRSD-C_FINAL_tur1.csv")


def csv_sums(path: Path, refused_lines: set[int], legend: dict[str, str]) -> Counter[str]:
    """Per candidate, the sum of the CSV's vote column over every row not refused."""
    sums: Counter[str] = Counter()
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        for line, row in enumerate(reader, start=2):  # no quoted newlines in these files
            if line in refused_lines:
                continue
            for column, cell in zip(header, row, strict=True):
                if column in legend:
                    sums[legend[column]] += int(cell)
    return sums


def ledger_totals(led: Path) -> dict[str, Counter[str]]:
    """Votes per candidate of every report in the ledger, by category (PRSD and PRSD_C)."""
    totals: dict[str, Counter[str]] = {"PRSD": Counter(), "PRSD_C": Counter()}
    with Ledger.open(led) as lg:
        for index in range(lg.size):
            record = lg.record(index)
            if isinstance(record, Report):
                totals[record.category].update(record.votes)
    return totals


def legend_of(path: Path, csv_name: str) -> dict[str, str]:
    """The ``g<N>``/``e<N>`` -> name lines of the legend's section of ``csv_name``."""
    names: dict[str, str] = {}
    inside = False
    for line in path.read_text(encoding="utf-8-sig").splitlines():
        if line.startswith("Fișierul"):
            inside = line.split()[-1] == csv_name
        elif inside and " = " in line and line[0] in "ge" and line[1].isdigit():
            column, _, name = line.partition(" = ")
            names[column.strip()] = name.strip()
    return names


def run(night: Night, data: Path) -> bool:
    """The whole run; True when verify passed and every total matched."""
    folder = data / "prezidentiale10112019"
    legend = folder / "Legenda.txt"
    paths = [folder / name for name in FILES]
    manifest = night.work / "prsd2019.json"
    night.ledger("manifest", "--format", "bec2019-pv", *paths, "--legend", legend,
                 "--name", "Presidential 2019, round 1", "--date", "2019-11-10", "--tz", TZ,
                 "-o", manifest)
    led, key = night.new_ledger("prsd2019", "prezenta.example.ro/prezidentiale10112019",
                                manifest)
    _header(night, "2019 presidential round 1, BEC 2019 form (and its mail vote)")
    refused: dict[str, set[int]] = {}
    for path in paths:
        stations = night.ledger("station", "import", led, "--key", key, path, "--keys-out",
                                night.work / "prsd2019" / "stations")
        night.say(f"| station import {path.name} | {stations.get('registered', '')} | | | | | "
                  f"| {stations['_exit']} | {stations['_seconds']:.1f} |")
        result = night.ledger("import", led, "--key", key, path, "--legend", legend,
                              "--at", AT, ok=(0, 1))
        night.step(f"import {path.name}", result)
        refused[path.name] = {e["line"] for e in result.get("errors", [])}
        for error in result.get("errors", []):
            night.say(f"| refused: line {error['line']}, {error['message']} | | | | | | | | |")
    night.ledger("seal", led, "--key", key)
    audit = night.ledger("verify", led, "--pub", key.with_suffix(".pub"), ok=(0, 1))
    night.step("verify", audit)
    totals = ledger_totals(led)
    ok = audit["_exit"] == 0
    night.say("")
    night.say("| file | candidate | ledger total | CSV column sum (rows imported) |")
    night.say("| --- | --- | --- | --- |")
    for path, category in zip(paths, ("PRSD", "PRSD_C"), strict=True):
        expected = csv_sums(path, refused[path.name], legend_of(legend, path.name))
        ok = ok and expected == totals[category]
        for name, total in expected.most_common(3):
            night.say(f"| {path.name} | {name} | {totals[category][name]:,} | {total:,} |")
    night.say("")
    night.say(f"every candidate's total equals its column sum, verify exit "
              f"{audit['_exit']}: {'yes' if ok else 'NO'}")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        work = args.work or Path(scratch)
        if not run(Night(work), args.data):
            raise SystemExit(1)


if __name__ == "__main__":
    main()
