"""Crash safety: a writer process killed with SIGKILL at random points during import and seal.

Each child is forked from this process (cheap: the libraries are already loaded), opens the
ledger, and appends or imports and seals in a loop, printing each result only after the call
returned. The parent kills it, reopens the ledger (which re-verifies its latest checkpoint), and
checks that every printed append and seal is there. Some kills are injected at exact points of
a write transaction (before, inside, just after the commit).
"""

from __future__ import annotations

import csv as csv_module
import os
import random
import select
import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ledger.auditor.verify import verify
from ledger.core.hashing import leaf_hash
from ledger.files import StationKeys
from ledger.formats.checkpoints import open_ledger_checkpoint
from ledger.formats.records import Registered, Turnout
from ledger.publisher.ingest import (
    import_file,
    read_stations,
    register_stations,
    station_public_keys,
)
from ledger.publisher.ledger import Ledger
from ledger.sources.ledger_dir import LedgerDirSource
from ledger.store.store import Store
from tests.conftest import TURNOUT_2018
from tests.test_log import T0, new_ledger, publisher_key, signed

STATIONS = ("AB-1", "AB-2", "AB-3", "AB-4")
READY = b"ready\n"


def records_loop(lg: Ledger, say: Callable[[str], None]) -> None:
    """Append batches of station-signed turnout; seal every third batch."""
    rng = random.Random(lg.size)
    for round_ in range(1_000_000):
        voters = lg.size
        batch = [signed(Turnout(station=s, at=T0 + voters, registered=Registered(permanent=10**9),
                                counts={"LP": voters + i, "LS": 0, "UM": 0, "LT": voters + i}))
                 for i, s in enumerate(STATIONS[: rng.randint(1, 4)])]
        result = lg.append(batch)
        assert result.ok, result.rejected
        say(f"A {result.size} {leaf_hash(lg.entry(result.size - 1)).hex()}")
        if round_ % 3 == 2:
            cp = lg.seal(time=T0 + lg.size).checkpoint
            say(f"S {cp.size} {cp.root.hex()}")


def import_loop(csv: Path, keys: Path) -> Callable[[Ledger, Callable[[str], None]], None]:
    """Import a later turnout snapshot each round (every station one more voter on the
    supplementary lists, so no row is unchanged); seal after each import."""

    def loop(lg: Ledger, say: Callable[[str], None]) -> None:
        station_keys = StationKeys(keys)
        for _ in range(1_000_000):
            when = datetime(2018, 10, 7, tzinfo=UTC) + timedelta(seconds=lg.size)
            at = when.strftime("%Y-%m-%d %H:%M:%SZ")
            snapshot = _later_snapshot(csv, lg.size)
            result = import_file(lg, snapshot, fmt="aep-turnout", station_keys=station_keys,
                                 at=at)
            assert not result.refused, result.refused[:2]
            say(f"A {result.size} {leaf_hash(lg.entry(result.size - 1)).hex()}")
            cp = lg.seal(time=T0 + lg.size).checkpoint
            say(f"S {cp.size} {cp.root.hex()}")

    return loop


def _later_snapshot(csv_path: Path, more: int) -> Path:
    """The snapshot with ``more`` voters added to every station's LS and LT (a new file)."""
    with csv_path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv_module.reader(handle))
    header, body = rows[0], rows[1:]
    ls, lt = header.index("LS"), header.index("LT")
    for row in body:
        row[ls], row[lt] = str(int(row[ls]) + more), str(int(row[lt]) + more)
    target = csv_path.with_name(f"{csv_path.stem}-{more}.csv")
    with target.open("w", encoding="utf-8", newline="") as handle:
        csv_module.writer(handle, lineterminator="\n").writerows([header, *body])
    return target


def inject(point: str, nth: int) -> None:
    """Make the nth store write kill this process at ``point`` (in the child only)."""
    calls = {"n": 0}
    apply, commit = Store._apply, Store.commit

    def die() -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    def commit_hook(self: Store, change: object) -> None:
        calls["n"] += 1
        if calls["n"] == nth and point == "before-commit":
            die()
        commit(self, change)  # type: ignore[arg-type]
        if calls["n"] == nth and point == "after-commit":
            die()

    def apply_hook(self: Store, txn: object, change: object) -> None:
        apply(self, txn, change)  # type: ignore[arg-type]
        if calls["n"] == nth and point == "in-transaction":
            die()  # everything is written into the transaction, nothing committed

    Store.commit = commit_hook  # type: ignore[method-assign]
    Store._apply = apply_hook  # type: ignore[method-assign]


def run_child(path: Path, loop: Callable[[Ledger, Callable[[str], None]], None], *,
              delay: float | None, point: tuple[str, int] | None) -> list[str]:
    """Fork a writer, kill it after ``delay`` s past ready (or let it kill itself at
    ``point``), and return the lines it printed."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.close(read_fd)

            def say(line: str) -> None:
                os.write(write_fd, line.encode() + b"\n")

            if point is not None:
                inject(*point)
            lg = Ledger.open(path, publisher_key())
            os.write(write_fd, READY)
            loop(lg, say)
        except BaseException as e:  # report and die: never return into pytest
            os.write(write_fd, f"E {e!r}\n".encode())
        finally:
            os._exit(3)
    os.close(write_fd)
    output = b""
    try:
        deadline = time.monotonic() + 60
        while READY not in output and time.monotonic() < deadline:
            if select.select([read_fd], [], [], 1.0)[0]:
                chunk = os.read(read_fd, 65536)
                if not chunk:
                    break
                output += chunk
        if delay is not None:
            time.sleep(delay)
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    finally:
        _, status = os.waitpid(pid, 0)
        while chunk := os.read(read_fd, 65536):
            output += chunk
        os.close(read_fd)
    lines = output.decode().splitlines()
    errors = [line for line in lines if line.startswith("E ")]
    assert not errors, errors
    assert os.WIFSIGNALED(status), lines[-3:]
    assert os.WTERMSIG(status) == signal.SIGKILL
    return lines


History = dict[str, list[tuple[int, str]]]


def check_recovered(path: Path, lines: list[str], history: History) -> None:
    """Reopen after the kill: checkpoint verifies, every printed append and seal is there."""
    for line in lines:
        tag, size, digest = line.split() if line != "ready" else ("", "", "")
        if tag == "A":
            history["appends"].append((int(size), digest))
        elif tag == "S":
            history["seals"].append((int(size), digest))
    with Ledger.open(path, publisher_key()) as lg:  # re-verifies the latest checkpoint
        for size, leaf in history["appends"]:
            assert leaf_hash(lg.entry(size - 1)).hex() == leaf
        for size, root in history["seals"]:
            assert lg.root(size).hex() == root
        blocks = list(lg.store.iter_blocks())
        for height, index in blocks:  # a block entry is never without its checkpoint
            cp = open_ledger_checkpoint(lg.store.checkpoint(height), lg.verifier_key)
            assert cp.checkpoint.size == index + 1
        if history["seals"]:
            latest = lg.latest_checkpoint()
            assert latest is not None
            assert latest.checkpoint.size >= history["seals"][-1][0]


def audit_clean(path: Path) -> None:
    with LedgerDirSource(path) as source:
        report = verify(source, publisher_key().verifier_key, workers=1)
    assert report.ok, report.errors[:3]


def crash_many(path: Path, loop: Callable[[Ledger, Callable[[str], None]], None],
               random_kills: int, points: list[tuple[str, int]], seed: int) -> None:
    rng = random.Random(seed)
    history: History = {"appends": [], "seals": []}
    for _ in range(random_kills):
        lines = run_child(path, loop, delay=rng.uniform(0.0, 0.25), point=None)
        check_recovered(path, lines, history)
    for point in points:
        lines = run_child(path, loop, delay=None, point=point)
        check_recovered(path, lines, history)
    assert history["appends"]
    assert history["seals"]
    audit_clean(path)


POINTS = [(where, nth) for where in ("before-commit", "in-transaction", "after-commit")
          for nth in (1, 2, 3)]


@pytest.mark.slow
def test_sigkill_during_appends_and_seals_loses_nothing_that_returned(tmp_path: Path) -> None:
    path = tmp_path / "led"
    new_ledger(path, STATIONS).close()
    crash_many(path, records_loop, random_kills=24, points=POINTS, seed=1)


@pytest.mark.slow
def test_sigkill_during_file_imports_and_seals_loses_nothing_that_returned(
    tmp_path: Path,
) -> None:
    csv = tmp_path / "presence.csv"
    lines = TURNOUT_2018.read_bytes().split(b"\n")
    csv.write_bytes(b"\n".join(lines[:201]) + b"\n")
    path = tmp_path / "led"
    keys = tmp_path / "keys"
    keys.mkdir()
    stations = read_stations(csv)
    with new_ledger(path, ()) as lg:
        register_stations(lg, stations, station_public_keys(stations, keys_out=keys))
    crash_many(path, import_loop(csv, keys), random_kills=16, points=POINTS[::2], seed=2)
