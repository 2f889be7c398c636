"""The single-writer lock of a ledger directory: a POSIX lock on ``<dir>/writer.lock``.

The file holds the writer's pid and host, so a refused writer can name the holder. POSIX
(``lockf``) locks belong to the process: they die with it, even by SIGKILL, and forked children
(signature workers, which could outlive it) do not inherit them.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import threading
from pathlib import Path

from ledger.errors import StoreError, StoreLockedError

LOCK_FILE = "writer.lock"


class WriteLock:
    """The exclusive write lock of one ledger directory, held until :meth:`release`.

    Closing any descriptor of a POSIX-locked file drops the lock, so a process opens each lock
    file once: :data:`_HELD` refuses a second writer in the same process before the file is
    touched.

    Raises StoreLockedError (another writer holds it) or StoreError (cannot open the file).
    """

    def __init__(self, directory: Path) -> None:
        path = directory / LOCK_FILE
        key = str(path)
        with _HELD_GUARD:
            if key in _HELD:
                raise StoreLockedError(f"ledger {directory} is being written by another writer "
                                       f"(pid {os.getpid()} on host {socket.gethostname()})")
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except OSError as e:
                raise StoreError(f"cannot open write lock {path}: {e.strerror}") from e
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                holder = _read_holder(fd)
                os.close(fd)
                raise StoreLockedError(
                    f"ledger {directory} is being written by another writer ({holder})"
                ) from e
            os.ftruncate(fd, 0)
            info = {"pid": os.getpid(), "host": socket.gethostname()}
            os.pwrite(fd, json.dumps(info).encode(), 0)
            _HELD.add(key)
        self._key = key
        self._fd: int | None = fd

    def release(self) -> None:
        """Drop the lock (idempotent)."""
        with _HELD_GUARD:
            if self._fd is not None:
                fd, self._fd = self._fd, None
                os.close(fd)
                _HELD.discard(self._key)


_HELD: set[str] = set()
_HELD_GUARD = threading.Lock()


def _read_holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0) or b"{}")
        return f"pid {int(info['pid'])} on host {info['host']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "holder unknown"
