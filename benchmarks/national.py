"""The audit of a national log with its county logs against the audit of one log of as many
records (docs/scale.md, "Writing at scale: one log per county").

Builds, under ``--workdir``: one log of ``--size`` signed records (election, stations, turnout,
reports, as the other benchmarks), and ``--counties`` county logs (origin
``<national>/<county code>``, each its own key, stations and records) totalling ``--size``
signed records, published, and the national log that registers them and records their latest
checkpoints. Then times ``verify`` of the one log and ``verify_national`` of the national log
with every county log, both on every core, and prints the ratio (one log's seconds over the
national audit's: at least 0.95 is the target). Build time is not timed.

    python -m benchmarks.national --size 1000000 --workdir /tmp/national-bench
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import time
from pathlib import Path

from benchmarks.generator import Keys, Plan, batched, log_records
from benchmarks.limits import cores
from ledger.auditor.national import verify_national
from ledger.auditor.verify import verify
from ledger.formats.keys import note_signer_for
from ledger.formats.records import encode_entry, encode_record, sign_body
from ledger.formats.records.ids import COUNTY_CODES_IN_ORDER
from ledger.national.writer import register_log, update
from ledger.publisher.ledger import Ledger
from ledger.publisher.publish import publish
from ledger.sources.open import open_source

NATIONAL = "bench.example.ro/parlamentare2028"
SINGLE = "bench.example.ro/parlamentare2028-one-log"
#: Entries per appended batch and sealed block, in every log.
BLOCK = 5_000


def build_log(path: Path, out: Path, origin: str, n: int, seed: int) -> None:
    """A published log of ``n`` station- and publisher-signed records, sealed every BLOCK."""
    plan = Plan.for_records(n, seed)
    keys = Keys.for_plan(plan, signing=True)
    publisher = note_signer_for(origin, keys.publisher)
    records = log_records(plan, keys)
    next(records)  # the election record: entry 0, written by Ledger.create
    with Ledger.create(path, origin, publisher, plan.election()) as ledger:
        for chunk in batched(records, BLOCK):
            data = [encode_entry(sign_body(keys.publisher if who < 0 else keys.signers[who],
                                           origin, encode_record(record)))
                    for who, record in chunk]
            result = ledger.append(data)
            if result.rejected:
                raise RuntimeError(f"{origin}: {result.rejected[0].error}")
            ledger.seal()
    publish(str(path), out)


def build(workdir: Path, size: int, counties: int, seed: int) -> None:
    """The one log, the county logs and the national log, published under ``workdir``."""
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    build_log(workdir / "single", workdir / "single-site", SINGLE, size, seed)
    codes = COUNTY_CODES_IN_ORDER[:counties]
    shares = [size // counties + (1 if i < size % counties else 0) for i in range(counties)]
    for i, (code, n) in enumerate(zip(codes, shares, strict=True)):
        build_log(workdir / "county" / code, workdir / "counties" / code, f"{NATIONAL}/{code}",
                  n, seed + 1 + i)
    plan = Plan.for_records(3, seed)
    national = note_signer_for(NATIONAL, Keys.for_plan(plan).publisher)
    with Ledger.create(workdir / "national", NATIONAL, national, plan.election()) as ledger:
        for i, code in enumerate(codes):
            county = Keys.for_plan(Plan.for_records(shares[i], seed + 1 + i)).publisher
            register_log(ledger, code, f"{NATIONAL}/{code}",
                         note_signer_for(f"{NATIONAL}/{code}", county).verifier_key)
        report = update(ledger, str(workdir / "counties"))
        if not report.ok:
            raise RuntimeError(f"national update: {[c.message for c in report.counties]}")
    publish(str(workdir / "national"), workdir / "national-site")


def measure(workdir: Path) -> dict[str, object]:
    """Seconds of each audit (on every core), and the ratio."""
    workers = cores()
    single_key = Ledger.open(workdir / "single", write=False)
    national_key = Ledger.open(workdir / "national", write=False)
    try:
        with open_source(str(workdir / "single-site")) as source:
            started = time.perf_counter()
            one = verify(source, single_key.verifier_key, workers=workers)
            one_seconds = time.perf_counter() - started
        with open_source(str(workdir / "national-site")) as source:
            started = time.perf_counter()
            all_ = verify_national(source, national_key.verifier_key,
                                   str(workdir / "counties"), workers=workers)
            national_seconds = time.perf_counter() - started
    finally:
        single_key.close()
        national_key.close()
    county_entries = sum(c["entries"] for c in all_.extra["county_logs"].values())
    return {
        "workers": workers,
        "one_log": {"ok": one.ok, "entries": one.entries, "seconds": round(one_seconds, 2)},
        "national": {"ok": all_.ok, "counties": len(all_.extra["county_logs"]),
                     "county_entries": county_entries, "national_entries": all_.entries,
                     "seconds": round(national_seconds, 2)},
        "ratio": round(one_seconds / national_seconds, 3),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=1_000_000,
                        help="signed records in the one log, and in the county logs together")
    parser.add_argument("--counties", type=int, default=43, choices=range(1, 44),
                        metavar="1..43")
    parser.add_argument("--workdir", type=Path, default=Path("national-bench"))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reuse", action="store_true", help="measure logs built before")
    parser.add_argument("--repeat", type=int, default=1, metavar="K",
                        help="measure K times, the two audits one after the other each time "
                             "(on a shared machine): medians and the ratio of the medians")
    args = parser.parse_args(argv)
    if not args.reuse:
        started = time.perf_counter()
        build(args.workdir, args.size, args.counties, args.seed)
        print(f"built in {time.perf_counter() - started:.1f} s (not timed)", flush=True)
    runs = [measure(args.workdir) for _ in range(max(1, args.repeat))]
    if len(runs) == 1:
        print(json.dumps(runs[0], indent=1))
        return
    one = statistics.median(r["one_log"]["seconds"] for r in runs)  # type: ignore[index]
    nat = statistics.median(r["national"]["seconds"] for r in runs)  # type: ignore[index]
    print(json.dumps({"runs": [r["ratio"] for r in runs], "one_log_median_seconds": one,
                      "national_median_seconds": nat, "ratio_of_medians": round(one / nat, 3)},
                     indent=1))


if __name__ == "__main__":
    main()
