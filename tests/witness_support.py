"""A real `ledger witness serve` process on 127.0.0.1 for the tests, and a keep-alive client."""

from __future__ import annotations

import hashlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from ledger.formats.keys import SIG_COSIGNATURE_V1, NoteSigner, format_signer_key, note_signer_for
from ledger.formats.signing import Signer

LEDGER = [sys.executable, "-m", "election_ledger_cli"]


def witness_key(name: str) -> NoteSigner:
    return note_signer_for(name, Signer(hashlib.sha256(name.encode()).digest()),
                           SIG_COSIGNATURE_V1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class WitnessProcess:
    """One witness process: started with :meth:`start`, stopped (or killed) by the fixture."""

    folder: Path
    log_vkeys: list[str]
    key: NoteSigner = field(default_factory=lambda: witness_key("test.example/witness"))
    body_timeout: float = 1.0
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        key_file, policy = self.folder / "witness.key", self.folder / "logs.policy"
        if not key_file.exists():
            key_file.write_text(format_signer_key(self.key) + "\n", encoding="ascii")
            key_file.chmod(0o600)  # a secret key: its owner's only
            policy.write_text("".join(f"log {v}\n" for v in self.log_vkeys) + "quorum none\n",
                              encoding="utf-8")
        self.port = free_port()
        self.process = subprocess.Popen(
            [*LEDGER, "witness", "serve", "--key", str(key_file), "--policy", str(policy),
             "--state", str(self.folder / "state"), "--listen", f"127.0.0.1:{self.port}",
             "--body-timeout", str(self.body_timeout)],
            stdout=subprocess.DEVNULL, stderr=(self.folder / "witness.log").open("ab"),
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # bounded: the port answers or the test fails
            assert self.process.poll() is None, (self.folder / "witness.log").read_text()
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.02)
        raise AssertionError("the witness did not start listening within 20 s")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def client(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)


def post(conn: http.client.HTTPConnection, body: bytes) -> tuple[int, bytes, str]:
    """POST /add-checkpoint on a keep-alive connection: (status, body, content type)."""
    conn.request("POST", "/add-checkpoint", body=body)
    response = conn.getresponse()
    return response.status, response.read(), response.getheader("Content-Type", "")
