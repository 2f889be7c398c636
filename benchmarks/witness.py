"""The witness benchmark: C2SP ``add-checkpoint`` requests per second against a real
``ledger witness serve`` process on 127.0.0.1, over keep-alive connections (docs/witness.md,
"Performance").

Each request is a new checkpoint one leaf larger than the one the witness holds, with a valid
consistency proof, from a log of N entries (10M for the issue's figure), and must be answered
200. The log is synthetic: a random compact range stands for the first N leaves (a proof from
any size >= N to a larger one needs only the perfect subtrees of that range and of the leaves
after it, never a hash inside it), then real leaf hashes are appended. So the proofs have the
length and the hashes of a real N-entry log's, without building N entries.

(a) one origin, requests in sequence (C2SP serialises one origin's check and write), with the
durable write (one journal append and its data flush) timed beside it; (b) 43 origins (the
county logs) in parallel, one keep-alive connection each: target >= 1,000/s.

``python -m benchmarks.witness [--size N] [--seconds T]`` prints the rows as JSON; the harness
runs it as the ``witness`` workload (``python -m benchmarks.run --workloads witness``).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import http.client
import json
import os
import random
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.timing import NotAvailableError, Row
from ledger.core.hashing import leaf_hash
from ledger.core.merkle import CompactRange, consistency_proof_from_nodes
from ledger.formats.checkpoints import Checkpoint, format_checkpoint
from ledger.formats.keys import SIG_COSIGNATURE_V1, NoteSigner, format_signer_key, note_signer_for
from ledger.formats.notes import sign_note
from ledger.formats.signing import Signer
from ledger.publisher.witnesses import add_checkpoint_body
from ledger.witness.state import WitnessState

#: The county logs of docs/spec.md ("One log per county"): 41 counties, Bucharest, abroad.
ORIGINS = 43
LOG_SIZE = 10_000_000
START_TIMEOUT = 20.0


@dataclass(slots=True)
class SyntheticLog:
    """One origin's log: a random compact range for its first ``size`` leaves, then real ones."""

    origin: str
    key: NoteSigner
    size: int
    rng: random.Random
    nodes: dict[tuple[int, int], bytes] = field(default_factory=dict)
    tree: CompactRange = field(default_factory=CompactRange)

    def __post_init__(self) -> None:
        frontier, start = [], 0
        for level in range(self.size.bit_length() - 1, -1, -1):
            if self.size >> level & 1:
                h = self.rng.randbytes(32)
                self.nodes[(level, start >> level)] = h
                frontier.append(h)
                start += 1 << level
        self.tree = CompactRange.from_state(self.size, frontier)

    def note(self) -> bytes:
        cp = Checkpoint(origin=self.origin, size=self.tree.size, root=self.tree.root())
        return sign_note(format_checkpoint(cp), [self.key])

    def grow(self) -> bytes:
        """Append one leaf; the add-checkpoint body from the size before to the new size."""
        old = self.tree.size
        for node in self.tree.append_nodes(leaf_hash(b"entry %d" % old)):
            self.nodes[(node.level, node.position)] = node.hash
        proof = consistency_proof_from_nodes(lambda lv, i: self.nodes[(lv, i)], old, old + 1)
        return add_checkpoint_body(old, proof, self.note())


def _logs(count: int, size: int, seed: int) -> list[SyntheticLog]:
    rng = random.Random(seed)
    out = []
    for i in range(count):
        origin = f"county{i:02d}.example.ro/bench"
        key = note_signer_for(origin, Signer(hashlib.sha256(origin.encode()).digest()))
        out.append(SyntheticLog(origin=origin, key=key, size=size, rng=rng))
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_witness(workdir: Path, logs: list[SyntheticLog]) -> tuple[subprocess.Popen[bytes], int]:
    try:
        import aiohttp  # noqa: F401 - only to say why the workload cannot run
    except ImportError as e:
        raise NotAvailableError("the witness extra (aiohttp) is not installed") from e
    workdir.mkdir(parents=True, exist_ok=True)
    key = note_signer_for("bench.example/witness",
                          Signer(hashlib.sha256(b"bench witness").digest()), SIG_COSIGNATURE_V1)
    key_file, policy = workdir / "witness.key", workdir / "logs.policy"
    key_file.write_text(format_signer_key(key) + "\n", encoding="ascii")
    key_file.chmod(0o600)
    policy.write_text("".join(f"log {lg.key.verifier_key}\n" for lg in logs) + "quorum none\n",
                      encoding="utf-8")
    port = _free_port()
    log = (workdir / "witness.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "election_ledger_cli", "witness", "serve", "--key",
         str(key_file), "--policy", str(policy), "--state", str(workdir / "state"),
         "--listen", f"127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=log)
    log.close()
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:  # bounded
        if process.poll() is not None:
            raise RuntimeError((workdir / "witness.log").read_text(errors="replace")[-400:])
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return process, port
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("the witness did not listen in time")


def _post(conn: http.client.HTTPConnection, body: bytes) -> None:
    conn.request("POST", "/add-checkpoint", body=body)
    response = conn.getresponse()
    answer = response.read()
    if response.status != 200:
        raise RuntimeError(f"HTTP {response.status}: {answer[:200]!r}")


async def _origin_in_sequence(port: int, bodies: list[bytes]) -> None:
    """One keep-alive connection; each request written, then its answer read (HTTP/1.1)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for body in bodies:
            writer.write(b"POST /add-checkpoint HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         b"Content-Length: %d\r\n\r\n" % len(body) + body)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            answer = await reader.readexactly(length)
            if status != 200:
                raise RuntimeError(f"HTTP {status}: {answer[:200]!r}")
    finally:
        writer.close()


async def _all_origins(port: int, bodies: list[list[bytes]]) -> None:
    await asyncio.gather(*(_origin_in_sequence(port, b) for b in bodies))


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process so far (Linux /proc), or None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _durable_writes(workdir: Path, note: bytes, count: int) -> float:
    """Seconds per durable state write (the witness's own: a journal append, its flush)."""
    state = WitnessState(workdir / "fsync-probe")
    started = time.perf_counter()
    for _ in range(count):
        state.write("probe.example/log", note)
    seconds = (time.perf_counter() - started) / count
    state.close()
    return seconds


def witness(n: int, workdir: Path, seed: int, seconds: float) -> list[Row]:
    """The workload: (a) one origin in sequence, the durable write beside it; (b) 43 origins."""
    size = max(n, 3)
    per_a = max(20, int(seconds * 400))
    per_b = max(5, int(seconds * 1500 / ORIGINS))
    logs = _logs(ORIGINS, size, seed)
    setup = [add_checkpoint_body(0, [], lg.note()) for lg in logs]
    bodies_a = [logs[0].grow() for _ in range(per_a)]
    bodies_b = [[lg.grow() for _ in range(per_b)] for lg in logs[1:]]
    bodies_b.insert(0, [logs[0].grow() for _ in range(per_b)])
    process, port = _start_witness(workdir / "witness", logs)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for body in setup:  # each origin's first checkpoint, from 0: not timed
            _post(conn, body)
        started = time.perf_counter()
        for body in bodies_a:
            _post(conn, body)
        seq_seconds = time.perf_counter() - started
        conn.close()
        cpu_before = _cpu_seconds(process.pid)
        started = time.perf_counter()
        asyncio.run(_all_origins(port, bodies_b))
        par_seconds = time.perf_counter() - started
        cpu_after = _cpu_seconds(process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    write = _durable_writes(workdir, logs[0].note(), max(20, per_a // 2))
    proof_lines = bodies_a[-1].split(b"\n\n", 1)[0].count(b"\n")
    common = {"log_size": size, "proof_hashes": proof_lines}
    return [
        Row(figure="witness", op="add-checkpoint, 1 origin", impl="ours", count=per_a,
            seconds=seq_seconds, extra={**common, "durable_write_ms": round(write * 1000, 3),
                                        "ms_per_request": round(seq_seconds / per_a * 1000, 3)}),
        Row(figure="witness", op="durable write", impl="ours", count=1, seconds=write,
            extra={"what": "one journal append and its data flush"}),
        Row(figure="witness", op=f"add-checkpoint, {ORIGINS} origins", impl="ours",
            count=per_b * ORIGINS, seconds=par_seconds,
            extra={**common, "witness_cpu_ms_per_request": None if cpu_before is None
                   or cpu_after is None else
                   round((cpu_after - cpu_before) / (per_b * ORIGINS) * 1000, 3)}),
    ]


def main(argv: list[str] | None = None) -> list[Row]:
    """Run the workload once and print its rows."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.witness", description=__doc__)
    parser.add_argument("--size", type=int, default=LOG_SIZE, help="entries in each log")
    parser.add_argument("--seconds", type=float, default=3.0, help="about how long each part runs")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    import tempfile

    with tempfile.TemporaryDirectory(prefix="witness-bench-", dir=args.workdir) as tmp:
        rows = witness(args.size, Path(tmp), args.seed, args.seconds)
    for row in rows:
        print(json.dumps(row.to_json()))
    print(f"# {os.cpu_count()} cores; log size {args.size:,}", file=sys.stderr)
    return rows


if __name__ == "__main__":
    main()
