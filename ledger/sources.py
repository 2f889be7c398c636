"""Readers of a log for auditors: a published directory, an ``http(s)://`` URL, a ledger directory.

Each :class:`Source` hands out raw bytes (checkpoint, tiles, bundles, entries) and checks only
their framing; deciding whether they are right is :mod:`ledger.verify`'s job. Every read error
names the file. The ledger-directory reader imports :mod:`ledger.store` (and so lmdb) lazily, so
reading published trees needs neither.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Protocol, Self, runtime_checkable

from ledger.errors import InputError, MalformedError, SourceUnavailableError, Where
from ledger.hashing import HASH_SIZE
from ledger.merkle import NodeReader
from ledger.notes import MAX_NOTE_SIZE
from ledger.tiles import (
    MAX_BUNDLE_BYTES,
    MAX_TILE_BYTES,
    TILE_HEIGHT,
    TILE_WIDTH,
    TileNodeReader,
    bundle_path,
    bundles_for_size,
    format_entry_bundle,
    format_hash_tile,
    parse_entry_bundle,
    tile_path,
)

if TYPE_CHECKING:
    from ledger.store import Store

CHECKPOINT_FILE = "checkpoint"
LEDGER_JSON = "ledger.json"
#: The largest signed note :mod:`ledger.notes` opens.
MAX_CHECKPOINT_BYTES = MAX_NOTE_SIZE
MAX_LEDGER_JSON_BYTES = 64 << 10
HTTP_TIMEOUT = 30.0
#: Attempts per file on a transient failure (connection, time-out, 429, 5xx), and the pause
#: before each retry, doubling: bounded, so a dead source ends the command in seconds.
HTTP_ATTEMPTS = 3
HTTP_RETRY_PAUSE = 0.25
#: ``ledger.store.DATA_FILE``, repeated here so that recognising a ledger needs no lmdb.
STORE_DATA_FILE = "data.mdb"


@runtime_checkable
class Source(Protocol):
    """Where an auditor reads a log from; every method raises on a read error naming the file."""

    def read_checkpoint(self) -> bytes:
        """The latest signed checkpoint note, with the cosignatures collected so far."""
        ...

    def read_tile(self, level: int, index: int, width: int) -> bytes:
        """Hash tile bytes, exactly ``width`` hashes; MalformedError if missing or short."""
        ...

    def read_tile_if_present(self, level: int, index: int, width: int) -> bytes | None:
        """Like :meth:`read_tile`, but None when the tile is not there at all."""
        ...

    def read_entry_bundle(self, index: int, width: int) -> bytes:
        """Entry bundle bytes as published (framing unchecked); MalformedError if missing."""
        ...

    def read_entry_bundle_if_present(self, index: int, width: int) -> bytes | None:
        """Like :meth:`read_entry_bundle`, but None when the bundle is not there at all."""
        ...

    def iter_entries(self, start: int, size: int) -> Iterator[bytes]:
        """Entries ``start`` .. ``size - 1`` of the tree of ``size``, streamed."""
        ...

    def node_reader(self, size: int) -> NodeReader:
        """A merkle NodeReader for the tree of ``size`` leaves."""
        ...

    def entry_count(self) -> int | None:
        """Every entry held, unsealed tail included (ledger directory); None for published trees."""
        ...

    def publisher_vkey(self) -> str | None:
        """The publisher verifier key the source states (a convenience, never trusted)."""
        ...

    def describe(self) -> str:
        """The source in words, for messages."""
        ...

    def close(self) -> None:
        """Release what the source holds open."""
        ...

    def __enter__(self) -> Self:
        """The source itself; leaving the ``with`` block closes it."""
        ...

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Close the source."""
        ...


def _missing(path: str, what: str, category: str = "tiles") -> MalformedError:
    return MalformedError(
        f"{what} {path} is missing", category=category, code="missing-file", where=Where(file=path)
    )


def _too_large(path: str, limit: int, category: str = "tiles") -> MalformedError:
    return MalformedError(
        f"{path} is larger than the {limit}-byte limit",
        category=category,
        code="too-large",
        where=Where(file=path),
    )


class _FetchingSource:
    """Shared logic of the published-tree sources: fetch a relative path, check its framing."""

    def _fetch(self, path: str, limit: int, category: str) -> bytes | None:
        """Bytes at ``path`` (at most ``limit``), or None if it does not exist."""
        raise NotImplementedError

    def read_checkpoint(self) -> bytes:
        data = self._fetch(CHECKPOINT_FILE, MAX_CHECKPOINT_BYTES, "checkpoint")
        if data is None:
            raise _missing(CHECKPOINT_FILE, "checkpoint file", "checkpoint")
        return data

    def read_tile_if_present(self, level: int, index: int, width: int) -> bytes | None:
        path = tile_path(level, index, width)
        data = self._fetch(path, MAX_TILE_BYTES, "tiles")
        if data is not None and len(data) != width * HASH_SIZE:
            raise MalformedError(
                f"hash tile {path} is {len(data)} bytes, expected {width * HASH_SIZE}",
                category="tiles",
                code="tile-size",
                where=Where(file=path),
            )
        return data

    def read_tile(self, level: int, index: int, width: int) -> bytes:
        data = self.read_tile_if_present(level, index, width)
        if data is None:
            raise _missing(tile_path(level, index, width), "hash tile")
        return data

    def read_entry_bundle_if_present(self, index: int, width: int) -> bytes | None:
        return self._fetch(bundle_path(index, width), MAX_BUNDLE_BYTES, "tiles")

    def read_entry_bundle(self, index: int, width: int) -> bytes:
        data = self.read_entry_bundle_if_present(index, width)
        if data is None:
            raise _missing(bundle_path(index, width), "entry bundle")
        return data

    def iter_entries(self, start: int, size: int) -> Iterator[bytes]:
        for ref in bundles_for_size(size, start):
            data = self.read_entry_bundle(ref.index, ref.width)
            entries = parse_entry_bundle(data, ref.width, path=ref.path)
            yield from entries[max(0, start - ref.index * TILE_WIDTH) :]

    def node_reader(self, size: int) -> NodeReader:
        return TileNodeReader(self.read_tile, size)

    def entry_count(self) -> int | None:
        return None

    def publisher_vkey(self) -> str | None:
        data = self._fetch(LEDGER_JSON, MAX_LEDGER_JSON_BYTES, "tiles")
        if data is None:
            return None
        try:
            vkey = json.loads(data.decode("utf-8")).get("vkey")
        except (UnicodeDecodeError, ValueError, AttributeError):
            return None  # ledger.json is a convenience only: a bad one states nothing
        return vkey if isinstance(vkey, str) else None

    def close(self) -> None:
        return None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class PublishedDirSource(_FetchingSource):
    """A published tlog-tiles directory on the local file system."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if not self.path.is_dir():
            raise InputError("not a directory", where=Where(file=str(path)))

    def describe(self) -> str:
        return f"published directory {self.path}"

    def _fetch(self, path: str, limit: int, category: str) -> bytes | None:
        try:
            with open(self.path / path, "rb") as f:
                data = f.read(limit + 1)
        except FileNotFoundError:
            return None
        except OSError as e:
            raise MalformedError(
                f"cannot read {path}: {e.strerror or e}",
                category=category,
                code="unreadable",
                where=Where(file=path),
            ) from e
        if len(data) > limit:
            raise _too_large(path, limit, category)
        return data


class HttpSource(_FetchingSource):
    """A published tlog-tiles tree served over ``http(s)://`` (urllib, gzip understood).

    A connection failure, time-out, 429 or 5xx is retried :data:`HTTP_ATTEMPTS` times, then is
    :class:`~ledger.errors.SourceUnavailableError` (exit 4): nothing the source served was wrong.
    A checkpoint that is not found or refused means the URL is not a log (InputError, exit 2);
    any other refused fetch is a finding about the log (MalformedError naming the path, exit 1).
    """

    def __init__(self, url: str, *, timeout: float = HTTP_TIMEOUT,
                 attempts: int = HTTP_ATTEMPTS) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise InputError(f"not an http(s) URL: {url!r}")
        if parts.query or parts.fragment:
            raise InputError(f"a log URL takes no query or fragment: {url!r}")
        if attempts < 1:
            raise ValueError(f"attempts must be at least 1, got {attempts}")
        self.base = url if url.endswith("/") else url + "/"
        self.timeout = timeout
        self.attempts = attempts

    def describe(self) -> str:
        return self.base

    def read_checkpoint(self) -> bytes:
        try:
            data = self._fetch(CHECKPOINT_FILE, MAX_CHECKPOINT_BYTES, "checkpoint")
        except MalformedError as e:
            if e.code != "http-error":
                raise
            raise InputError(f"cannot fetch {self.base}{CHECKPOINT_FILE}: {e.message}") from e
        if data is None:
            raise InputError(f"{self.base}{CHECKPOINT_FILE} not found (HTTP 404): not a log")
        return data

    def _fetch(self, path: str, limit: int, category: str) -> bytes | None:
        url = self.base + path
        attempt = 1
        while True:  # bounded: at most self.attempts rounds
            try:
                return self._fetch_once(path, url, limit, category)
            except _Transient as e:
                if attempt >= self.attempts:
                    raise SourceUnavailableError(
                        f"fetching {url} failed {attempt} times: {e}",
                        where=Where(file=path, source=self.base)) from e
                time.sleep(HTTP_RETRY_PAUSE * 2 ** (attempt - 1))
                attempt += 1

    def _fetch_once(self, path: str, url: str, limit: int, category: str) -> bytes | None:
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked in __init__
            url, headers={"Accept-Encoding": "gzip, identity", "User-Agent": "election-ledger"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
                # gzip of incompressible bytes is a little longer than the bytes themselves
                raw_limit = limit + (limit >> 8) + 1024 if encoding == "gzip" else limit
                raw: bytes = response.read(raw_limit + 1)
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return None
            if e.code == 429 or e.code >= 500:
                raise _Transient(f"HTTP {e.code} {e.reason}") from e
            raise _http_error(path, url, f"HTTP {e.code} {e.reason}", category) from e
        except (urllib.error.URLError, OSError) as e:
            raise _Transient(str(getattr(e, "reason", None) or e)) from e
        if len(raw) > raw_limit:
            raise _too_large(path, limit, category)
        if encoding == "gzip":
            raw = _gunzip(raw, limit, path, category)
        elif encoding != "identity":
            raise _http_error(path, url, f"unknown Content-Encoding {encoding!r}", category)
        if len(raw) > limit:
            raise _too_large(path, limit, category)
        return raw


class _Transient(Exception):  # noqa: N818 - internal signal, never leaves HttpSource
    """A failure worth retrying: no answer, or the server said it could not answer now."""


def _http_error(path: str, url: str, why: str, category: str) -> MalformedError:
    return MalformedError(
        f"fetching {url} failed: {why}", category=category, code="http-error",
        where=Where(file=path),
    )


def _gunzip(data: bytes, limit: int, path: str, category: str) -> bytes:
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as e:
        raise MalformedError(
            f"{path} is not valid gzip: {e}", category=category, code="bad-gzip",
            where=Where(file=path),
        ) from e
    if len(out) > limit or inflater.unconsumed_tail:
        raise _too_large(path, limit, category)
    if not inflater.eof or inflater.unused_data:
        raise MalformedError(
            f"{path} is truncated or has bytes after its gzip stream", category=category,
            code="bad-gzip", where=Where(file=path),
        )
    return out


class LedgerDirSource:
    """A publisher's LMDB ledger directory, read through :mod:`ledger.store` (opened read-only).

    Tiles and bundles are rebuilt from the stored nodes and entries; :meth:`iter_entries` may go
    past the latest checkpoint, into the unsealed tail (:meth:`entry_count`).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        from ledger.store import Store  # lazily: published-tree readers never load lmdb

        self.path = Path(path)
        self.store: Store = Store(self.path)

    @classmethod
    def from_store(cls, store: Store) -> LedgerDirSource:
        """A source over an already open store (the publisher's own); closing it is the caller's."""
        self = cls.__new__(cls)
        self.path = store.path
        self.store = store
        return self

    def describe(self) -> str:
        return f"ledger directory {self.path}"

    def read_checkpoint(self) -> bytes:
        latest = self.store.latest_checkpoint()
        if latest is None:
            raise MalformedError(
                "the ledger has no signed checkpoint yet (no block sealed)",
                category="checkpoint", code="missing-file", where=Where(file=CHECKPOINT_FILE),
            )
        cosigned = self.store.meta("cosigned_checkpoint")
        if cosigned is not None and _note_body(cosigned) == _note_body(latest[1]):
            return cosigned
        return latest[1]

    def entry_count(self) -> int | None:
        return self.store.size()

    def _check_range(self, start: int, size: int, what: str) -> None:
        held = self.store.size()
        if not 0 <= start <= size:
            raise ValueError(f"need 0 <= start <= size, got {start}, {size}")
        if size > held:
            raise MalformedError(
                f"{what} needs entries up to {size - 1}, but the ledger holds {held}",
                category="checkpoint", code="missing-entries", where=Where(index=held),
            )

    def read_tile(self, level: int, index: int, width: int) -> bytes:
        first = index * TILE_WIDTH
        node_level = TILE_HEIGHT * level
        self._check_range(0, (first + width) << node_level, tile_path(level, index, width))
        return format_hash_tile(self.store.nodes(node_level, first, width))

    def read_tile_if_present(self, level: int, index: int, width: int) -> bytes | None:
        return self.read_tile(level, index, width)

    def read_entry_bundle(self, index: int, width: int) -> bytes:
        first = index * TILE_WIDTH
        self._check_range(first, first + width, bundle_path(index, width))
        return format_entry_bundle(list(self.store.iter_entries(first, first + width)))

    def read_entry_bundle_if_present(self, index: int, width: int) -> bytes | None:
        return self.read_entry_bundle(index, width)

    def iter_entries(self, start: int, size: int) -> Iterator[bytes]:
        self._check_range(start, size, "reading the log")
        return self.store.iter_entries(start, size)

    def node_reader(self, size: int) -> NodeReader:
        self._check_range(0, size, f"a tree of size {size}")
        return self.store.node_reader(size)

    def publisher_vkey(self) -> str | None:
        vkey = self.store.meta("vkey")
        return None if vkey is None else vkey.decode("utf-8", errors="replace")

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _note_body(note: bytes) -> bytes:
    """The signed text of a note, up to and including the blank line."""
    end = note.find(b"\n\n")
    return note if end < 0 else note[: end + 2]


def open_source(spec: str) -> Source:
    """Open ``spec``: an ``http(s)://`` URL, a ledger directory, or a published directory.

    Raises:
        InputError: ``spec`` does not exist or is none of those (exit 2).
        StoreError: a ledger directory that LMDB cannot open (exit 3).
    """
    scheme = urllib.parse.urlsplit(spec).scheme.lower()
    if scheme in ("http", "https"):
        return HttpSource(spec)
    path = Path(spec)
    if not path.exists():
        raise InputError("no such file or directory", where=Where(file=spec))
    if not path.is_dir():
        raise InputError("not a directory: a SOURCE is a ledger or published directory or URL",
                         where=Where(file=spec))
    if (path / STORE_DATA_FILE).is_file():
        return LedgerDirSource(path)
    if any((path / name).exists() for name in (CHECKPOINT_FILE, "tile", LEDGER_JSON)):
        return PublishedDirSource(path)
    raise InputError("neither a ledger directory nor a published directory",
                     where=Where(file=spec))
