"""Where ``ledger publish`` writes the tree: a directory, or an S3-compatible object store.

Both take the same publish algorithm (:mod:`ledger.publisher.publish`); a destination only says
how one file is written, how one is compared, and how the files hold (docs/spec.md, "Published
form"): tiles and bundles immutable (``Cache-Control: public, max-age=31536000, immutable``),
everything else ``no-cache``, content types as C2SP tlog-tiles says.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ledger.errors import InputError, MalformedError, Where
from ledger.files import fsync_dir, replace_file
from ledger.sources.published import PublishedDirSource
from ledger.sources.source import Source

if TYPE_CHECKING:
    from ledger.sources.s3 import S3Bucket

IMMUTABLE = "public, max-age=31536000, immutable"
NO_CACHE = "no-cache"
#: Files written at once by a destination that gains from it (an object store: one round trip
#: each), and by one that does not (a directory: each file is fsynced).
OBJECT_STORE_PARALLEL = 16
DIRECTORY_PARALLEL = 4


def is_immutable(path: str) -> bool:
    """Tiles and entry bundles never change once written; every other published file may."""
    return path.startswith("tile/")


def cache_control(path: str) -> str:
    """The ``Cache-Control`` a published file is served with: a CDN may keep a tile or bundle
    for a year and never ask again; it must ask before it serves any other file."""
    return IMMUTABLE if is_immutable(path) else NO_CACHE


def content_type(path: str) -> str:
    """The content type of a published file (C2SP tlog-tiles: tiles and bundles are
    ``application/octet-stream``, the checkpoint ``text/plain; charset=utf-8``)."""
    if is_immutable(path):
        return "application/octet-stream"
    suffix = path.rpartition("/")[2].rpartition(".")[2] if "." in path.rpartition("/")[2] else ""
    return {"json": "application/json", "html": "text/html; charset=utf-8",
            "js": "text/javascript; charset=utf-8", "css": "text/css; charset=utf-8",
            "svg": "image/svg+xml"}.get(suffix, "text/plain; charset=utf-8")


class Destination(Protocol):
    """Where a tree is published; :meth:`put` may be called from several threads at once."""

    #: How many files :meth:`put` may be writing at once.
    parallel: int

    def describe(self) -> str:
        """The destination in words (a path or an ``s3://`` URL), for messages."""
        ...

    def read(self, path: str, limit: int) -> bytes | None:
        """The bytes at ``path`` (at most ``limit``), or None when there is none."""
        ...

    def size_of(self, path: str) -> int | None:
        """The size of the file at ``path``, or None: one cheap look (a stat, a HEAD)."""
        ...

    def is_current(self, path: str, data: bytes, *, presumed: bool) -> bool:
        """Whether ``path`` already holds ``data``. ``presumed`` says the previous checkpoint
        there needs this immutable file (so a complete publish wrote it): a destination where
        looking costs a round trip per file takes that for an answer; a local one looks."""
        ...

    def put(self, path: str, data: bytes) -> None:
        """Replace ``path`` with ``data`` whole (a reader sees the old bytes or the new)."""
        ...

    def flush(self) -> None:
        """Make every file put so far durable, before the checkpoint that needs them."""
        ...

    def source(self) -> Source:
        """A reader of the tree as published there."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


class DirectoryDestination:
    """A directory on this machine: each file written atomically (temp file, fsync, rename),
    the directories fsynced by :meth:`flush`; a file is compared byte for byte (cheap here, and
    it rewrites a damaged one)."""

    parallel = DIRECTORY_PARALLEL

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._dirty: set[Path] = set()
        self._lock = threading.Lock()

    def describe(self) -> str:
        return str(self.root)

    def read(self, path: str, limit: int) -> bytes | None:
        try:
            with open(self.root / path, "rb") as f:
                return f.read(limit)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None

    def size_of(self, path: str) -> int | None:
        try:
            return (self.root / path).stat().st_size
        except (FileNotFoundError, NotADirectoryError):
            return None

    def is_current(self, path: str, data: bytes, *, presumed: bool) -> bool:
        del presumed  # looking is cheap here, and finds a damaged file
        if self.size_of(path) != len(data):
            return False
        return self.read(path, len(data) + 1) == data

    def put(self, path: str, data: bytes) -> None:
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        replace_file(target, data)
        folders = [target.parent]
        while folders[-1] != self.root and self.root in folders[-1].parents:
            folders.append(folders[-1].parent)
        with self._lock:
            self._dirty.update(folders)

    def flush(self) -> None:
        """fsync every directory that got a new name, deepest first."""
        with self._lock:
            dirty, self._dirty = self._dirty, set()
        for folder in sorted(dirty, key=lambda p: len(p.parts), reverse=True):
            fsync_dir(folder)

    def source(self) -> Source:
        return PublishedDirSource(self.root)

    def close(self) -> None:
        return


class ObjectStoreDestination:
    """An S3-compatible object store: each file one PUT with its ``Cache-Control`` and content
    type (an object appears whole or not at all, so the checkpoint is replaced atomically).
    An immutable file the previous checkpoint needs is taken as there without asking (the
    publish algorithm checks the previous checkpoint's right edge once); a mutable one is read
    and compared (one GET of a small file)."""

    parallel = OBJECT_STORE_PARALLEL

    def __init__(self, bucket: S3Bucket) -> None:
        self.bucket = bucket

    def describe(self) -> str:
        return str(self.bucket.url)

    def read(self, path: str, limit: int) -> bytes | None:
        try:
            return self.bucket.get(path, limit)
        except MalformedError as e:
            if e.code == "too-large":
                return None  # differs from anything we would write there
            raise

    def size_of(self, path: str) -> int | None:
        head = self.bucket.head(path)
        return None if head is None else head.size

    def is_current(self, path: str, data: bytes, *, presumed: bool) -> bool:
        if is_immutable(path):
            return presumed
        return self.read(path, len(data)) == data

    def put(self, path: str, data: bytes) -> None:
        self.bucket.put(path, data, content_type=content_type(path),
                        cache_control=cache_control(path))

    def flush(self) -> None:
        return  # a PUT that returned is durable

    def source(self) -> Source:
        from ledger.sources.s3 import S3Source

        return S3Source(str(self.bucket.url), bucket=self.bucket)

    def close(self) -> None:
        self.bucket.close()


def open_destination(where: str | os.PathLike[str], *,
                     endpoint_url: str | None = None) -> Destination:
    """``where`` as a destination: ``s3://BUCKET/PREFIX`` (at ``endpoint_url``, else where the
    AWS tools' settings say) or a directory (made if missing).

    Raises:
        InputError: an ``s3://`` URL without the ``s3`` extra installed, or a malformed one.
    """
    spec = os.fspath(where)
    if spec[:5].lower() == "s3://":
        try:
            from ledger.sources.s3 import S3Bucket
        except ImportError as e:
            raise InputError(f"publishing to {spec} needs the S3 client: pip install "
                             "'election-ledger[s3]'") from e
        return ObjectStoreDestination(S3Bucket(spec, endpoint_url=endpoint_url, signed=True))
    if endpoint_url is not None:
        raise InputError("an endpoint URL applies to an s3:// destination only",
                         where=Where(file=spec))
    return DirectoryDestination(spec)
