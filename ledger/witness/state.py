"""The witness's durable state: per origin, the last checkpoint it cosigned (docs/witness.md).

The state folder holds ``journal``, an append-only file of records ``origin -> cosigned note``;
the latest record of an origin is its state. A write appends one record and returns once a
data flush of the journal that began after the append has ended, so writes of many origins at
once share one flush (group commit): one disk flush per group, not two per request. A kill at
any moment leaves every answered record on disk; a record cut short by the kill (never
answered) is dropped when the journal is next opened. The journal is rewritten (one record
per origin, to a new file flushed and renamed into place) when it grows past a bound.
"""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path

from ledger.core.hashing import sha256
from ledger.errors import StoreError
from ledger.files import fsync_dir, replace_file
from ledger.formats.notes import MAX_NOTE_SIZE

JOURNAL = "journal"
LOCK = "lock"
MAGIC = b"election-ledger witness journal v1\n"
#: A record: 4-byte big-endian payload length, the first 8 bytes of its SHA-256, the payload
#: (``origin`` UTF-8, a newline, the cosigned note).
_HEAD = 4 + 8
#: The journal is rewritten with one record per origin once it is this large.
COMPACT_AT = 4 << 20
_MAX_PAYLOAD = 256 + 1 + MAX_NOTE_SIZE
#: The per-origin files of the state's first form, imported into a new journal when found.
LEGACY_SUFFIX = ".checkpoint"


def origin_file_name(origin: str) -> str:
    """The file name (and URL path segment) of an origin: hex SHA-256 of its UTF-8 bytes."""
    return sha256(origin.encode("utf-8")).hex()


def _record(origin: str, note: bytes) -> bytes:
    payload = origin.encode("utf-8") + b"\n" + note
    return len(payload).to_bytes(4, "big") + sha256(payload)[:8] + payload


class WitnessState:
    """The state folder of one witness, held by one process at a time (a lock file says so)."""

    def __init__(self, directory: str | os.PathLike[str], *,
                 compact_at: int = COMPACT_AT) -> None:
        self.directory = Path(directory)
        self._compact_at = compact_at
        self._evidence = self.directory / "evidence"
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._lock_fd = os.open(self.directory / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as e:
            raise StoreError(f"cannot open the witness state {self.directory}: "
                             f"{e.strerror}") from e
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(self._lock_fd)
            raise StoreError(f"the witness state {self.directory} is in use by another "
                             "process") from e
        self._notes: dict[str, bytes] = {}
        self._append = threading.Lock()  # guards the journal's fd, the notes and the counts
        self._flushing = threading.Lock()  # one flush (or rewrite) of the journal at a time
        self._appended = 0  # records appended
        self._flushed = 0  # records covered by the last flush that ended
        self._broken: str | None = None  # why no write can be trusted any more
        path = self.directory / JOURNAL
        if path.exists():
            self._size = self._load(path)
        else:
            self._notes = self._legacy_notes()
            self._rewrite()
            for origin in self._notes:
                (self.directory / (origin_file_name(origin) + LEGACY_SUFFIX)).unlink()
        self._fd = self._open_journal()

    def close(self) -> None:
        """Close the journal and let another process hold the folder."""
        os.close(self._fd)
        os.close(self._lock_fd)

    def read(self, origin: str) -> bytes | None:
        """The cosigned note held for ``origin``, or None when it has none."""
        return self._notes.get(origin)

    def write(self, origin: str, note: bytes) -> None:
        """Make ``note`` the state of ``origin`` durably (returns once it is on disk).

        Raises:
            StoreError: the journal cannot be written or flushed; after a failed flush no later
                write is accepted (the kernel may have dropped the data: restart the witness).
        """
        if "\n" in origin or len(note) > MAX_NOTE_SIZE:
            raise ValueError("an origin is one line and a note at most MAX_NOTE_SIZE bytes")
        record = _record(origin, note)
        with self._append:
            self._check_usable()
            try:
                _write_all(self._fd, record)
            except OSError as e:
                self._broken = f"an append failed: {e.strerror}"
                raise StoreError(f"cannot write the witness journal: {e.strerror}") from e
            self._notes[origin] = note
            self._appended += 1
            mine = self._appended
            self._size += len(record)
            rewrite = self._size >= self._compact_at
        with self._flushing:
            if rewrite:
                with self._append:
                    self._check_usable()
                    self._rewrite()
                    os.close(self._fd)
                    self._fd = self._open_journal()
                    self._flushed = self._appended
            if self._flushed >= mine:
                return  # a flush (or rewrite) that began after this append has ended
            with self._append:
                upto, fd = self._appended, self._fd
            try:
                os.fdatasync(fd)
            except OSError as e:
                self._broken = f"a flush failed: {e.strerror}"
                raise StoreError(f"cannot flush the witness journal: {e.strerror}") from e
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

    def _check_usable(self) -> None:
        if self._broken is not None:
            raise StoreError(f"the witness journal in {self.directory} is not written any more: "
                             f"{self._broken}")

    def _open_journal(self) -> int:
        try:
            return os.open(self.directory / JOURNAL, os.O_WRONLY | os.O_APPEND)
        except OSError as e:
            raise StoreError(f"cannot open the witness journal in {self.directory}: "
                             f"{e.strerror}") from e

    def _rewrite(self) -> None:
        """Replace the journal by one record per origin (flushed, renamed, folder flushed)."""
        data = MAGIC + b"".join(_record(o, n) for o, n in self._notes.items())
        _replace_durably(self.directory, JOURNAL, data)
        self._size = len(data)

    def _load(self, path: Path) -> int:
        """Read the journal into the notes; drop a record cut short at its end; its size.

        Raises:
            StoreError: not a journal, or a damaged record before its end.
        """
        try:
            data = path.read_bytes()
        except OSError as e:
            raise StoreError(f"cannot read the witness journal {path}: {e.strerror}") from e
        if not data.startswith(MAGIC):
            raise StoreError(f"{path} is not a witness journal (its first line differs)")
        at = len(MAGIC)
        while at < len(data):
            length = int.from_bytes(data[at : at + 4], "big")
            end = at + _HEAD + length
            payload = data[at + _HEAD : end]
            whole = end <= len(data) and 0 < length <= _MAX_PAYLOAD
            if not whole or sha256(payload)[:8] != data[at + 4 : at + _HEAD]:
                if whole and data[end:].strip(b"\0"):
                    raise StoreError(f"the witness journal {path} is damaged at byte {at} "
                                     "(a record before its end does not match its checksum)")
                self._cut(path, at)  # the last record, cut short by a kill: never answered
                return at
            origin, sep, note = payload.partition(b"\n")
            if not sep:
                raise StoreError(f"the witness journal {path} has a record without an origin "
                                 f"at byte {at}")
            self._notes[origin.decode("utf-8", errors="replace")] = note
            at = end
        return at

    def _cut(self, path: Path, at: int) -> None:
        try:
            os.truncate(path, at)
            fd = os.open(path, os.O_WRONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as e:
            raise StoreError(f"cannot cut the unfinished record of {path}: {e.strerror}") from e

    def _legacy_notes(self) -> dict[str, bytes]:
        """The states of the per-origin files of the first form (origin read from the note)."""
        notes = {}
        for path in sorted(self.directory.glob("*" + LEGACY_SUFFIX)):
            note = path.read_bytes()
            origin = note.split(b"\n", 1)[0].decode("utf-8", errors="replace")
            if origin_file_name(origin) + LEGACY_SUFFIX != path.name:
                raise StoreError(f"the witness state {path} does not hold its origin's checkpoint")
            notes[origin] = note
        return notes


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _replace_durably(directory: Path, name: str, data: bytes) -> None:
    """The project's atomic replace (temp file flushed, renamed), then the folder flushed."""
    try:
        replace_file(directory / name, data)
        fsync_dir(directory)
    except OSError as e:
        raise StoreError(f"cannot write {directory / name}: {e.strerror}") from e
