"""The publisher's files: ``.key`` (mode 0600) and ``.pub`` key files, record JSON, entry files.

A ``.key`` file holds one Go-form signer key ``PRIVATE+KEY+<name>+<hex8>+<base64(0x01||seed)>``,
a ``.pub`` file one verifier-key line, a record file the record's JSON form (bin values as
``{"$bin": "<hex>"}``), an entry file the raw entry bytes. New files are written whole or not at
all (a temporary file linked into place), and never over an existing file; missing output
directories are created (mode 0700 for key directories). Every read is bounded; a file that
cannot be read or is not that kind of file is an :class:`InputError`.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledger.errors import InputError, MalformedError, Where
from ledger.formats.keys import (
    PRIVATE_KEY_PREFIX,
    SIG_ED25519,
    NoteSigner,
    VerifierKey,
    format_signer_key,
    note_signer_for,
    parse_signer_key,
    parse_verifier_key,
)
from ledger.formats.policy import MAX_POLICY_SIZE, Policy, parse_policy
from ledger.formats.records import MAX_ENTRY_SIZE, Record, record_from_json, record_to_json
from ledger.formats.signing import Signer

KEY_SUFFIX = ".key"
PUB_SUFFIX = ".pub"
MAX_KEY_FILE = 4096
MAX_JSON_FILE = 1 << 20


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyFiles:
    """A key pair written to disk: where, and the signer."""

    key_path: Path
    pub_path: Path
    signer: NoteSigner


def read_bounded(path: str | os.PathLike[str], limit: int, what: str, *,
                 too_large: type[InputError] | type[MalformedError] = InputError) -> bytes:
    """The bytes of ``path`` if it holds at most ``limit`` bytes (never more is read).

    Raises:
        InputError: cannot be read; or too large (``too_large``: a receipt over its limit is a
            receipt that is wrong, ``MalformedError``, not a file of another kind).
    """
    where = Where(file=str(path))
    try:
        with Path(path).open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as e:
        raise InputError(f"cannot read {what}: {e.strerror or e}", where=where) from e
    if len(data) > limit:
        raise too_large(f"{what} larger than the {limit:,}-byte limit", where=where)
    return data


def make_directory(path: str | os.PathLike[str], *, mode: int = 0o755) -> Path:
    """Create output directory ``path`` and its parents when missing (``mode`` for new ones).

    Raises:
        InputError: it exists and is not a directory, or cannot be created.
    """
    folder = Path(path)
    try:
        folder.mkdir(mode=mode, parents=True, exist_ok=True)
    except FileExistsError as e:
        raise InputError("exists and is not a directory", where=Where(file=str(path))) from e
    except OSError as e:
        raise InputError(f"cannot create directory: {e.strerror or e}",
                         where=Where(file=str(path))) from e
    return folder


def write_new_file(path: str | os.PathLike[str], data: bytes, *, mode: int = 0o644,
                   durable: bool = True) -> None:
    """Write ``data`` to a new file atomically (all or nothing); refuse to replace a file.

    Its directory is created when missing. ``durable=False`` skips the fsync, for callers that
    write many files and sync once.

    Raises:
        InputError: the file exists or cannot be written.
    """
    target = Path(path)
    if not target.parent.is_dir():
        make_directory(target.parent)
    temp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        try:
            os.write(fd, data)
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(temp, target)
        finally:
            temp.unlink()
    except FileExistsError as e:
        raise InputError("file exists; not overwriting it", where=Where(file=str(path))) from e
    except OSError as e:
        raise InputError(f"cannot write: {e.strerror or e}", where=Where(file=str(path))) from e


# --- keys ------------------------------------------------------------------------------------


def _text(data: bytes, path: str | os.PathLike[str], what: str) -> str:
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError as e:
        raise InputError(f"not {what}: not ASCII text", where=Where(file=str(path))) from e
    return text.removesuffix("\n")


def read_signer_key(path: str | os.PathLike[str], *, insecure: bool = False) -> NoteSigner:
    """The signer key in a ``.key`` file, which only its owner may read (as ssh asks of its
    keys; ``insecure`` skips that check, for throw-away keys).

    Raises:
        InputError: unreadable, readable by others, or not one signer-key line.
    """
    text = _text(read_bounded(path, MAX_KEY_FILE, "a key file"), path, "a key file")
    if not text.startswith(PRIVATE_KEY_PREFIX) and "+" in text:
        raise InputError("this is a verifier key (a .pub file), not a secret key (.key)",
                         where=Where(file=str(path)))
    if not insecure:
        _check_private(Path(path))
    try:
        return parse_signer_key(text)
    except InputError as e:
        raise InputError(f"not a key file: {e.message}", where=Where(file=str(path))) from e


def _check_private(path: Path) -> None:
    """Refuse a secret key file that its group or others may read or write."""
    try:
        mode = path.stat().st_mode
    except OSError as e:
        raise InputError(f"cannot read a key file: {e.strerror or e}",
                         where=Where(file=str(path))) from e
    if mode & 0o077:
        raise InputError(f"this secret key is open to others (mode {mode & 0o777:04o}): only "
                         f"its owner may read it; run: chmod 600 {path}",
                         where=Where(file=str(path)))


def read_verifier_key(path: str | os.PathLike[str]) -> VerifierKey:
    """The verifier key in a ``.pub`` file.

    Raises:
        InputError: unreadable, or not one verifier-key line.
    """
    text = _text(read_bounded(path, MAX_KEY_FILE, "a .pub file"), path, "a .pub file")
    if text.startswith(PRIVATE_KEY_PREFIX):
        raise InputError("this is a secret key (a .key file), not a verifier key (.pub): keep it "
                         "secret, and give its .pub", where=Where(file=str(path)))
    try:
        return parse_verifier_key(text)
    except InputError as e:
        raise InputError(f"not a verifier key: {e.message}", where=Where(file=str(path))) from e


def write_key_files(
    directory: str | os.PathLike[str], stem: str, key_name: str, *, signer: Signer | None = None,
    durable: bool = True, sig_type: int = SIG_ED25519,
) -> KeyFiles:
    """Write ``<stem>.key`` (mode 0600) and ``<stem>.pub`` for a new (or the given) key;
    ``sig_type`` 0x04 makes a witness's cosignature/v1 key.

    ``directory`` is created (mode 0700) when missing.

    Raises:
        ValueError: ``key_name`` is not a valid note key name.
        InputError: a file exists or cannot be written.
    """
    note_signer = note_signer_for(key_name, signer or Signer.generate(), sig_type)
    folder = Path(directory)
    if not folder.is_dir():
        make_directory(folder, mode=0o700)
    key_path, pub_path = folder / (stem + KEY_SUFFIX), folder / (stem + PUB_SUFFIX)
    write_new_file(key_path, (format_signer_key(note_signer) + "\n").encode(), mode=0o600,
                   durable=durable)
    write_new_file(pub_path, (str(note_signer.verifier_key) + "\n").encode(), durable=durable)
    return KeyFiles(key_path=key_path, pub_path=pub_path, signer=note_signer)


class StationKeys:
    """A directory of station keys, ``<station id>.key``, read on first use and cached."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        """Raises InputError when ``directory`` is missing or not a directory."""
        self.directory = Path(directory)
        if not self.directory.is_dir():
            found = "not a directory" if self.directory.exists() else "no such directory"
            raise InputError(f"{found}: expected a directory of station keys, <station id>.key "
                             "(a station import that makes the keys writes one)",
                             where=Where(file=str(directory)))
        self._cache: dict[str, NoteSigner | None] = {}

    def get(self, station: str) -> NoteSigner | None:
        """The key of ``station``, or None when the directory has no ``<station>.key``.

        Raises:
            InputError: the file exists but is not a key file, or is named for another station.
        """
        if station in self._cache:
            return self._cache[station]
        path = self.directory / (station + KEY_SUFFIX)
        key = read_signer_key(path) if "/" not in station and path.is_file() else None
        if key is not None and key.name != station:
            raise InputError(f"key is named {key.name!r}, not {station!r}",
                             where=Where(file=str(path)))
        self._cache[station] = key
        return key


# --- records and entries -----------------------------------------------------------------


def read_json(path: str | os.PathLike[str], what: str, *, limit: int = MAX_JSON_FILE) -> Any:
    """A JSON document (UTF-8, at most ``limit`` bytes, 1 MiB unless said, no duplicate keys).

    Raises:
        InputError: unreadable or not JSON.
    """
    data = read_bounded(path, limit, what)
    try:
        return json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise InputError(f"not {what}: {e}", where=Where(file=str(path))) from e


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("a key appears twice in one object")
    return result


def read_record_json(path: str | os.PathLike[str]) -> Record:
    """The record in a JSON record file.

    Raises:
        InputError: unreadable, not JSON, or not a valid record.
    """
    obj = read_json(path, "a JSON record")
    try:
        return record_from_json(obj)
    except MalformedError as e:
        raise InputError(f"not a valid record: {e.message}", where=Where(file=str(path))) from e


def record_json_bytes(record: Record) -> bytes:
    """The JSON form of a record as file bytes (UTF-8, sorted keys, final newline)."""
    text = json.dumps(record_to_json(record), ensure_ascii=False, indent=1, sort_keys=True)
    return (text + "\n").encode("utf-8")


def read_entry_file(path: str | os.PathLike[str]) -> bytes:
    """The raw bytes of an entry file (at most 65,535 bytes; checked when appended).

    Raises:
        InputError: unreadable or larger than an entry can be.
    """
    return read_bounded(path, MAX_ENTRY_SIZE, "an entry file")


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


def fsync_files(paths: Sequence[Path]) -> None:
    """Make files written without a sync durable: each file, then each directory once."""
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    for directory in {path.parent for path in paths}:
        fsync_dir(directory)


def write_atomic(target: Path, data: bytes) -> None:
    """Replace ``target`` with ``data`` atomically and durably (file and directory entry)."""
    replace_file(target, data)
    fsync_dir(target.parent)


def read_policy(path: str | os.PathLike[str]) -> Policy:
    """The trust policy in a tlog-policy file.

    Raises:
        InputError: unreadable, or a line breaks a policy rule (the line is named).
    """
    return parse_policy(read_bounded(path, MAX_POLICY_SIZE, "a policy file"), file=str(path))
