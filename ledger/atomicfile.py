"""Atomic, durable file replacement: temporary file, fsync, rename, then fsync the directory.

A reader sees the old bytes or the new ones, never a mix, and after a crash the rename has
either happened whole or not at all.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def replace_file(target: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``target``, fsync it and rename it over ``target``.

    The caller fsyncs the directory (:func:`fsync_dir`) once the names must be durable.
    """
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def fsync_dir(directory: Path) -> None:
    """Make the names created or renamed in ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(target: Path, data: bytes) -> None:
    """Replace ``target`` with ``data`` atomically and durably (file and directory entry)."""
    replace_file(target, data)
    fsync_dir(target.parent)
