"""``ledger verify`` of a published log through a server far away, against the same audit from
the directory: ``python -m benchmarks.http_latency [--published DIR] [--latency 0.025]``.

The server is Python's threading HTTP server on 127.0.0.1 with ``--latency`` seconds added
before every answer (the round trip of a server far away). Without ``--published``, the log of
the ingest workload (100,099 entries at N=100,000, blocks of 1,000) is built first in a temporary
folder (about 40 s). The two audits alternate ``--rounds`` times; the fastest of each is kept.
Prints one JSON object: both times and their ratio (target: 1.25 at most).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import tempfile
import time
from contextlib import closing
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from benchmarks.generator import ORIGIN, publisher_signer
from benchmarks.limits import cores
from benchmarks.workloads import PUBLISHED_DIR, ingest
from ledger.auditor.verify import verify
from ledger.formats.keys import verifier_key_for
from ledger.sources.http import HttpSource
from ledger.sources.published import PublishedDirSource
from ledger.sources.source import Source


class _Slow(SimpleHTTPRequestHandler):
    latency = 0.025
    requests = 0
    protocol_version = "HTTP/1.1"  # keep-alive, as any production server

    def do_GET(self) -> None:
        type(self).requests += 1
        time.sleep(self.latency)
        super().do_GET()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return None


def _serve(published: Path, latency: float, port: multiprocessing.Queue[int]) -> None:
    """The server, in a process of its own (as a real one is: it takes no time from the audit)."""
    handler = type("Slow", (_Slow,), {"latency": latency, "requests": 0})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(published)))
    httpd.daemon_threads = True
    port.put(int(httpd.server_address[1]))
    httpd.serve_forever()


def _audit(source: Source, seed: int, workers: int) -> tuple[float, bool, int]:
    vkey = verifier_key_for(ORIGIN, publisher_signer(seed).public_key)
    started = time.perf_counter()
    with closing(source):
        report = verify(source, vkey, workers=workers)
    return time.perf_counter() - started, report.ok, report.entries


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--published", type=Path, default=None)
    parser.add_argument("--latency", type=float, default=0.025)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        published = args.published
        if published is None:
            ingest(args.n, Path(tmp), args.seed, 0)
            published = Path(tmp) / PUBLISHED_DIR
        port: multiprocessing.Queue[int] = multiprocessing.Queue()
        server = multiprocessing.Process(target=_serve, args=(published, args.latency, port),
                                         daemon=True)
        server.start()
        url = f"http://127.0.0.1:{port.get(timeout=30)}/"
        workers = cores()
        try:
            local, remote = [], []
            for _ in range(args.rounds):  # alternated: a busy moment slows both alike
                local.append(_audit(PublishedDirSource(published), args.seed, workers))
                remote.append(_audit(HttpSource(url), args.seed, workers))
        finally:
            server.terminate()
            server.join(timeout=10)
    directory = min(t for t, _, _ in local)
    http = min(t for t, _, _ in remote)
    print(json.dumps({
        "entries": local[0][2], "ok": all(ok for _, ok, _ in local + remote),
        "latency_seconds": args.latency, "workers": workers,
        "directory_seconds": round(directory, 2), "http_seconds": round(http, 2),
        "ratio": round(http / directory, 2),
    }))


if __name__ == "__main__":
    main()
