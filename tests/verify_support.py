"""Helpers shared by the auditor's tests: golden keys, copies of published logs, a local server."""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ledger.auditor.verify import verify
from ledger.check.findings import AuditReport
from ledger.formats.keys import VerifierKey, parse_verifier_key
from ledger.formats.policy import Policy, parse_policy
from ledger.sources.published import PublishedDirSource
from tests.conftest import GOLDEN_DIR, load_json

VALID = GOLDEN_DIR / "valid"
VALID_SMALL = GOLDEN_DIR / "valid-small"
KEYS: dict[str, Any] = load_json(GOLDEN_DIR / "keys.json")
EXPECTED: dict[str, Any] = load_json(VALID / "expected.json")
CASES: dict[str, Any] = load_json(GOLDEN_DIR / "reject" / "cases.json")
PUBLISHER: VerifierKey = parse_verifier_key(KEYS["publisher"]["vkey"])
#: The golden log with its witness at quorum 1, as the vectors' README says to verify it.
WITNESSED: Policy = parse_policy(
    f"log {KEYS['publisher']['vkey']}\nwitness observer {EXPECTED['witness_vkey']}\n"
    "quorum observer\n".encode()
)


def copy_log(source: Path, target: Path) -> Path:
    """A writable copy of a published directory (without the receipts folder)."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("receipts", "expected.json"))
    return target


def audit(path: Path, publisher: VerifierKey = PUBLISHER, **options: Any) -> AuditReport:
    """``ledger verify`` of a published directory, in this process by default."""
    options.setdefault("workers", 1)
    return verify(PublishedDirSource(path), publisher, **options)


def comparable(report: AuditReport) -> dict[str, Any]:
    """The report as JSON without what depends on the clock."""
    value = report.to_json()
    value["summary"] = {
        k: v for k, v in value["summary"].items() if k not in ("seconds", "records_per_second")
    }
    return value


def embedded_checkpoint(entries_dir: Path, size: int) -> bytes:
    """The publisher-signed checkpoint of ``size`` that a later block of the log embeds."""
    from ledger.formats.records import Block, decode_entry_record

    source = PublishedDirSource(entries_dir)
    latest = int(source.read_checkpoint().split(b"\n")[1])
    for data in source.iter_entries(size, latest):
        record = decode_entry_record(data)[1]
        if type(record) is Block and record.checkpoint is not None:
            note = record.checkpoint.encode("utf-8")
            if int(note.split(b"\n")[1]) == size:
                return note
    raise LookupError(f"no block embeds a checkpoint of size {size}")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return None


@contextmanager
def serve(directory: Path) -> Iterator[str]:
    """Serve ``directory`` over HTTP on 127.0.0.1 (a real server, not a mock); yield its URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class ReadingSource(PublishedDirSource):
    """A published directory that notes where each read of the entries starts (how many passes
    over the log a publish makes, and from where)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.starts: list[int] = []

    def iter_entries(self, start: int, size: int) -> Iterator[bytes]:
        self.starts.append(start)
        return super().iter_entries(start, size)
