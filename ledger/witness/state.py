"""The witness's durable state: per origin, the last checkpoint it cosigned (docs/witness.md).

One file per origin, ``<hex SHA-256 of the origin>.checkpoint``, holding the checkpoint note as
the log signed it with the witness's cosignature appended. A new state is written to a
temporary file, flushed to disk, renamed over the old one and the folder flushed, so a kill at
any moment leaves the old state or the new one, never a mix. Writes of several origins at once
share the folder's flush: a write returns once a flush of the folder that began after its rename
has ended (group commit).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from ledger.core.hashing import sha256
from ledger.errors import StoreError
from ledger.formats.notes import MAX_NOTE_SIZE

SUFFIX = ".checkpoint"


def origin_file_name(origin: str) -> str:
    """The file (and URL path segment) of an origin: hex SHA-256 of its UTF-8 bytes."""
    return sha256(origin.encode("utf-8")).hex()


class WitnessState:
    """The state folder of one witness."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._evidence = self.directory / "evidence"
        self._counter = threading.Lock()  # guards the two counts below
        self._flushing = threading.Lock()  # one flush of the folder at a time
        self._renamed = 0  # renames done in the folder
        self._flushed = 0  # renames covered by the last flush of the folder that ended

    def read(self, origin: str) -> bytes | None:
        """The cosigned note held for ``origin``, or None when it has none."""
        path = self.directory / (origin_file_name(origin) + SUFFIX)
        try:
            with path.open("rb") as handle:
                data = handle.read(MAX_NOTE_SIZE + 1)
        except FileNotFoundError:
            return None
        except OSError as e:
            raise StoreError(f"cannot read the witness state {path}: {e.strerror}") from e
        if len(data) > MAX_NOTE_SIZE:
            raise StoreError(f"the witness state {path} is larger than a note")
        return data

    def write(self, origin: str, note: bytes) -> None:
        """Replace the state of ``origin`` atomically and durably (returns once on disk)."""
        name = origin_file_name(origin) + SUFFIX
        _replace_durably(self.directory, name, note, sync_dir=False)
        with self._counter:
            self._renamed += 1
            mine = self._renamed
        with self._flushing:
            if self._flushed >= mine:
                return  # a flush that began after this rename has ended: it is durable
            with self._counter:
                upto = self._renamed  # every rename counted here ended before the flush begins
            _fsync_dir(self.directory)
            self._flushed = upto

    def keep_evidence(self, origin: str, size: int, evidence: bytes) -> Path:
        """Keep a split-view evidence file (never overwriting one already kept)."""
        self._evidence.mkdir(mode=0o700, exist_ok=True)
        stem = f"evidence-{origin_file_name(origin)[:8]}-{size}-{size}"
        n = 0
        while (self._evidence / f"{stem}{'' if n == 0 else f'.{n}'}.txt").exists():
            n += 1
        name = f"{stem}{'' if n == 0 else f'.{n}'}.txt"
        _replace_durably(self._evidence, name, evidence)
        return self._evidence / name


def _replace_durably(directory: Path, name: str, data: bytes, *, sync_dir: bool = True) -> None:
    tmp = directory / f".{name}.{os.getpid()}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, directory / name)
    except OSError as e:
        raise StoreError(f"cannot write the witness state {directory / name}: "
                         f"{e.strerror}") from e
    if sync_dir:
        _fsync_dir(directory)


def _fsync_dir(directory: Path) -> None:
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as e:
        raise StoreError(f"cannot flush the witness state folder {directory}: "
                         f"{e.strerror}") from e
