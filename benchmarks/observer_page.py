"""The observer's page on a 100k-entry tree served on 127.0.0.1: the time from opening
``#station=<id>`` to the page's verdict (checkpoint verified, each of the station's records proved
included from the tiles and its signature checked), in headless Chromium, with WebCrypto and with
the vendored JavaScript, from the station index and without it (every bundle read).

``python -m benchmarks.observer_page [--size N] [--workdir DIR]`` (docs/observer.md, "How fast").
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from benchmarks.workloads import PUBLISHED_DIR, ingest
from ledger.formats.keys import parse_verifier_key
from ledger.formats.records import Election, decode_entry_record
from ledger.publisher.page import PageTrust, page_files
from ledger.sources.published import PublishedDirSource
from tests.browser_support import chromium, open_page
from tests.http_support import local_server
from tests.test_observer_page import station_index

RUNS = 3


def write_page(site: Path) -> None:
    """The page of this checkout into ``site`` (a tree built by an older one keeps working)."""
    vkey = parse_verifier_key(json.loads((site / "ledger.json").read_text())["vkey"])
    size = int((site / "checkpoint").read_bytes().split(b"\n")[1])
    election = decode_entry_record(next(iter(PublishedDirSource(site).iter_entries(0, size))))[1]
    if not isinstance(election, Election):
        raise SystemExit("entry 0 is not the election record")
    for path, data in page_files(PageTrust(vkey=vkey, election=election)).items():
        (site / path).parent.mkdir(parents=True, exist_ok=True)
        (site / path).write_bytes(data)


def measure(url: str, params: dict[str, str]) -> dict[str, float]:
    """Open the page RUNS times in a fresh browser (the first open is a first visit)."""
    times, proved = [], []
    with chromium() as driver:
        for _ in range(RUNS):
            started = time.perf_counter()
            got = open_page(driver, url, "station", **params)
            times.append(time.perf_counter() - started)
            if not got.ok:
                raise SystemExit(got.text)
            ms = driver.execute_script("return window.observer.timings()")
            proved.append((ms["station"] - ms["checkpoint"]) / 1000)
    return {"first_open_to_verdict_s": round(times[0], 3),
            "open_to_verdict_s": round(statistics.median(times), 3),
            "station_after_checkpoint_s": round(statistics.median(proved), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--workdir", type=Path, default=Path("bench-observer"))
    args = parser.parse_args()
    site = args.workdir / PUBLISHED_DIR
    if not (site / "checkpoint").exists():
        ingest(args.size, args.workdir, 1, 0)
    if not (site / "stations" / "index.json").exists():
        station_index(site)
    write_page(site)
    names = json.loads((site / "stations" / "index.json").read_text())
    station = sorted(names)[len(names) // 2]
    size = int((site / "checkpoint").read_bytes().split(b"\n")[1])
    records = sum(len(v) for v in json.loads(
        (site / "stations" / f"{station}.json").read_text())["entries"].values())
    rows = []
    with local_server(site) as server:
        for indexed in (True, False):
            if not indexed:
                (site / "stations").rename(site / "stations.off")
            try:
                for mode in ("webcrypto", "js"):
                    params = {"station": station} | ({"crypto": "js"} if mode == "js" else {})
                    rows.append({"mode": mode, "station_index": indexed,
                                 **measure(server.url, params)})
            finally:
                if not indexed:
                    (site / "stations.off").rename(site / "stations")
    sys.stdout.write(json.dumps({"tree_size": size, "station": station, "records": records,
                                 "runs": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
