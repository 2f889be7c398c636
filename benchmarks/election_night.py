"""An election night, file by file, on the whole real AEP files: ``python -m
benchmarks.election_night [--data DIR] [--work DIR]`` (``make election-night``).

Runs the installed CLI as a publisher would, one command per step, and prints each step's
figures (rows written / unchanged / stale / refused, warnings by code, seconds) as Markdown:
the numbers of docs/publisher.md, "An election night, file by file". The data folder defaults
to the shared one beside the checkout (``SOURCES.md`` there says what each file is).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
TZ = "Europe/Bucharest"


class Night:
    """One scratch folder, a publisher key per election, and the CLI run step by step."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.lines: list[str] = []

    def ledger(self, *args: str | Path, ok: tuple[int, ...] = (0,)) -> Any:
        """Run ``ledger ARGS --json``; its JSON object (exit status must be in ``ok``)."""
        command = [sys.executable, "-m", "election_ledger_cli", *map(str, args), "--json"]
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False,
                              timeout=3600)
        seconds = time.perf_counter() - started
        if done.returncode not in ok:
            raise SystemExit(f"{' '.join(command)}: exit {done.returncode}\n{done.stderr}")
        result = json.loads(done.stdout) if done.stdout.strip() else {}
        result["_seconds"] = seconds
        result["_exit"] = done.returncode
        return result

    def say(self, line: str) -> None:
        print(line, flush=True)
        self.lines.append(line)

    def new_ledger(self, name: str, origin: str, manifest: Path) -> tuple[Path, Path]:
        keys = self.work / name / "keys"
        self.ledger("keygen", "publisher", "--key-name", origin, "-o", keys)
        led = self.work / name / "led"
        self.ledger("init", led, "--origin", origin, "--key", keys / "publisher.key",
                    "--election", manifest)
        return led, keys / "publisher.key"

    def step(self, what: str, result: Any) -> None:
        rows = next(iter(result.get("summary", {}).get("rows_by_kind", {"": {}}).values()), {})
        by_code = Counter(w["code"] for w in result.get("warnings", []))
        errors = Counter(e["code"] for e in result.get("errors", []))
        self.say(f"| {what} | {rows.get('written', '')} | {rows.get('unchanged', '')} | "
                 f"{rows.get('stale', '')} | {rows.get('refused', '')} | "
                 f"{_codes(by_code)} | {_codes(errors)} | {result['_exit']} | "
                 f"{result['_seconds']:.1f} |")


def _codes(counts: Counter[str]) -> str:
    return ", ".join(f"{code} {n}" for code, n in sorted(counts.items())) or "-"


def _header(night: Night, title: str) -> None:
    night.say("")
    night.say(f"**{title}**")
    night.say("")
    night.say("| step | written | unchanged | stale | refused | warnings | errors | exit | s |")
    night.say("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")


def round_one(night: Night, data: Path) -> None:
    """2025 round 1: the final file's stations, the night snapshot, then the final file."""
    folder = data / "prezidentiale04052025"
    snapshot = folder / "pv_part_cntry_prsd.2025-05-05T0341.csv"
    final = folder / "pv_part_cntry_prsd.csv"
    manifest = night.work / "round1.json"
    night.ledger("manifest", "--format", "aep-pv", final, "--name", "Presidential 2025, round 1",
                 "--date", "2025-05-04", "--tz", TZ, "-o", manifest)
    led, key = night.new_ledger("round1", "prezenta.example.ro/prezidentiale04052025", manifest)
    _header(night, "2025 round 1: the night snapshot, then the final file")
    stations = night.ledger("station", "import", led, "--key", key, final, "--keys-out",
                            night.work / "round1" / "stations")
    night.say(f"| station import (final file) | {stations.get('registered', '')} | | | | | | "
              f"{stations['_exit']} | {stations['_seconds']:.1f} |")
    night.step("import the night snapshot", night.ledger(
        "import", led, "--format", "aep-pv", "--key", key, snapshot, ok=(0, 1)))
    night.step("import the final file", night.ledger(
        "import", led, "--format", "aep-pv", "--key", key, final, ok=(0, 1)))
    night.step("import the snapshot again (an older copy)", night.ledger(
        "import", led, "--format", "aep-pv", "--key", key, snapshot, ok=(0, 1)))
    night.ledger("seal", led, "--key", key)
    night.step("verify", night.ledger("verify", led, "--pub", key.with_suffix(".pub"),
                                      ok=(0, 1)))


def referendum(night: Night, data: Path) -> None:
    """The 2018 referendum's day-1 turnout snapshots in order, publisher-signed, corrected."""
    folder = data / "referendum07102018"
    snapshots = [folder / f"presence_RO_2018-10-06_{h}-00.csv" for h in (10, 13, 16, 19, 21)]
    manifest = night.work / "referendum.json"
    manifest.write_text(json.dumps({"election": {
        "kind": "election", "name": "Referendum 2018", "date": "2018-10-06", "tz": TZ,
        "categories": {"REFL1": {"rules": "referendum", "competitors": ["DA", "NU"]}}},
        "ballots": []}), encoding="utf-8")
    led, key = night.new_ledger("referendum", "prezenta.example.ro/referendum07102018", manifest)
    _header(night, "2018 referendum: day-1 turnout snapshots, publisher-signed, --corrections")
    night.ledger("station", "import", led, "--key", key, snapshots[0], "--keys-out",
                 night.work / "referendum" / "stations")
    for snapshot in snapshots:
        night.step(f"import {snapshot.name}", night.ledger(
            "import", led, "--format", "aep-turnout", "--key", key, snapshot, "--corrections",
            "AEP republished the station's counters lower", ok=(0, 1)))
    night.ledger("seal", led, "--key", key)
    audit = night.ledger("verify", led, "--pub", key.with_suffix(".pub"), ok=(0, 1))
    night.step("verify", audit)
    corrections = [w for w in audit.get("warnings", []) if w["code"] == "TO-CORRECTION"]
    night.say("")
    night.say(f"{len(corrections)} correction warnings at "
              f"{len({w['station'] for w in corrections})} stations; BH-189's: "
              + "; ".join(w["message"] for w in corrections if w["station"] == "BH-189"))
    shown = night.ledger("show", led, "--station", "BH-189")
    last = [e for e in shown.get("entries", []) if e.get("record", {}).get("kind") == "turnout"]
    if last:
        night.say(f"BH-189's last turnout: LT {last[-1]['record']['counts']['LT']}")


def senate_abroad(night: Night, data: Path) -> None:
    """The Senate 2020 abroad file through `ledger validate`: its soft-rule warnings."""
    _header(night, "Senate 2020 abroad (validate)")
    night.step("validate pv_prov_cnty_s_sr.csv", night.ledger(
        "validate", "--format", "aep-pv", "--tz", TZ,
        data / "parlamentare06122020" / "pv_prov_cnty_s_sr.csv", ok=(0, 1)))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA, help="the real AEP files")
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (kept)")
    args = parser.parse_args(argv)
    if not (args.data / "prezidentiale04052025").is_dir():
        raise SystemExit(f"no AEP data in {args.data}: give --data DIR")
    work = args.work or Path(tempfile.mkdtemp(prefix="election-night-"))
    night = Night(work)
    round_one(night, args.data)
    referendum(night, args.data)
    senate_abroad(night, args.data)
    print(f"\n(scratch folder: {work})")


if __name__ == "__main__":
    main()
