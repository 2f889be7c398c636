"""A published tlog-tiles tree over ``http(s)://``: kept-alive connections, files fetched ahead in
a bounded pool, gzip understood, transient failures retried with backoff (``Retry-After``
honoured), redirects followed a bounded number of times.

The standard library's ``http.client`` is enough here (one GET per immutable file, no cookies, no
auth), so there is no third-party HTTP client to keep up to date; each thread keeps its own
connection per host.
"""

from __future__ import annotations

import email.utils
import http.client
import ssl
import threading
import time
import urllib.parse
import zlib
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from ledger.errors import InputError, MalformedError, SourceUnavailableError, Where
from ledger.formats.station_index import MAX_STATION_FILE_BYTES, station_file
from ledger.formats.tiles import MAX_BUNDLE_BYTES, MAX_TILE_BYTES, BundleId, TileId
from ledger.sources.published import PublishedTree
from ledger.sources.source import (
    CHECKPOINT_FILE,
    MAX_CHECKPOINT_BYTES,
    too_large,
)

HTTP_TIMEOUT = 30.0
#: Attempts per file on a transient failure (connection, time-out, 429, 5xx), and the pause
#: before each retry, doubling: bounded, so a dead source ends the command in seconds.
HTTP_ATTEMPTS = 3
HTTP_RETRY_PAUSE = 0.25
#: The longest one file may take, whatever the server's pace: a server that sends a byte now
#: and then never times out a single read, so the whole answer has a deadline too.
HTTP_FILE_DEADLINE = 120.0
_READ_CHUNK = 1 << 16
#: Files fetched at once when reading ahead (a bounded pool: a server far away is read at the
#: pace of its bandwidth, not of its round trips), and files fetched ahead at most (memory).
HTTP_PARALLEL = 32
#: Redirects followed for one file (a loop ends there), and the longest Retry-After honoured.
HTTP_MAX_REDIRECTS = 5
HTTP_MAX_RETRY_AFTER = 10.0
USER_AGENT = "election-ledger/0.1 (+https://c2sp.org/tlog-tiles reader)"
_DISCARD_LIMIT = 1 << 16
HTTP_AHEAD = 512


class HttpSource(PublishedTree):
    """A published tlog-tiles tree served over ``http(s)://`` (urllib, gzip understood).

    A connection failure, time-out, 429 or 5xx is retried :data:`HTTP_ATTEMPTS` times, then is
    :class:`~ledger.errors.SourceUnavailableError` (exit 4): nothing the source served was wrong.
    A checkpoint that is not found or refused means the URL is not a log (InputError, exit 2);
    any other refused fetch is a finding about the log (MalformedError naming the path, exit 1).
    """

    def __init__(self, url: str, *, timeout: float = HTTP_TIMEOUT,
                 attempts: int = HTTP_ATTEMPTS, deadline: float = HTTP_FILE_DEADLINE) -> None:
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
        self.deadline = deadline
        self._pool: ThreadPoolExecutor | None = None
        self._ahead: dict[str, Future[bytes | None]] = {}
        #: Station files fetched ahead (small, and read only once the entries are checked,
        #: so kept apart from the bounded read-ahead of tiles and bundles).
        self._stations_ahead: dict[str, Future[bytes | None]] = {}
        self._pool_lock = threading.Lock()
        self._local = threading.local()

    def read_ahead(self, refs: Sequence[TileId | BundleId]) -> None:
        """Start fetching ``refs`` in a bounded pool of threads; reading one of them later
        waits for its fetch (in order, so checking overlaps fetching)."""
        for ref in refs:
            path = ref.path
            if path in self._ahead:
                continue
            if len(self._ahead) >= HTTP_AHEAD:
                return
            limit = MAX_TILE_BYTES if isinstance(ref, TileId) else MAX_BUNDLE_BYTES
            self._ahead[path] = self._executor().submit(self._fetch_now, path, limit, "tiles")

    def read_ahead_station_files(self, stations: Sequence[str]) -> None:
        """Start fetching these ``stations/<id>.json`` in the pool (kept until read)."""
        for station in stations:
            path = station_file(station)
            if path not in self._stations_ahead:
                self._stations_ahead[path] = self._executor().submit(
                    self._fetch_now, path, MAX_STATION_FILE_BYTES, "tiles")

    def _executor(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(HTTP_PARALLEL, thread_name_prefix="ledger-http")
            return self._pool

    def close(self) -> None:
        """Stop fetching ahead: what was not started is dropped."""
        with self._pool_lock:
            pool, self._pool = self._pool, None
        for future in [*self._ahead.values(), *self._stations_ahead.values()]:
            future.cancel()
        self._ahead.clear()
        self._stations_ahead.clear()
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        for conn in self._local.__dict__.pop("connections", {}).values():
            conn.close()

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
        ahead = self._ahead.pop(path, None) or self._stations_ahead.pop(path, None)
        if ahead is not None and not ahead.cancelled():
            return ahead.result()  # what the fetch gave, or the error it raised
        return self._fetch_now(path, limit, category)

    def _fetch_now(self, path: str, limit: int, category: str) -> bytes | None:
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
                pause = HTTP_RETRY_PAUSE * 2 ** (attempt - 1)
                time.sleep(max(pause, min(e.retry_after or 0.0, HTTP_MAX_RETRY_AFTER)))
                attempt += 1

    def _connection(self, parts: urllib.parse.SplitResult) -> http.client.HTTPConnection:
        """This thread's kept-alive connection to the host of ``parts``."""
        pool: dict[tuple[str, str], http.client.HTTPConnection] = self._local.__dict__.setdefault(
            "connections", {})
        key = (parts.scheme, parts.netloc)
        conn = pool.get(key)
        if conn is None:
            if parts.scheme == "https":
                conn = http.client.HTTPSConnection(parts.netloc, timeout=self.timeout,
                                                   context=ssl.create_default_context())
            else:
                conn = http.client.HTTPConnection(parts.netloc, timeout=self.timeout)
            pool[key] = conn
        return conn

    def _drop(self, parts: urllib.parse.SplitResult) -> None:
        pool: dict[tuple[str, str], http.client.HTTPConnection] = self._local.__dict__.get(
            "connections", {})
        conn = pool.pop((parts.scheme, parts.netloc), None)
        if conn is not None:
            conn.close()

    def _get(self, url: str) -> tuple[urllib.parse.SplitResult, http.client.HTTPResponse]:
        """One GET on a kept-alive connection (a connection the server closed meanwhile is
        opened again once)."""
        parts = urllib.parse.urlsplit(url)
        target = parts.path or "/"
        headers = {"Accept-Encoding": "gzip, identity", "User-Agent": USER_AGENT}
        for fresh in (False, True):
            conn = self._connection(parts)
            reused = conn.sock is not None
            try:
                conn.request("GET", target, headers=headers)
                return parts, conn.getresponse()
            except (OSError, http.client.HTTPException) as e:
                self._drop(parts)
                if fresh or not reused:
                    raise _Transient(str(e) or type(e).__name__) from e
        raise _Transient("no answer")  # not reached: the second round returns or raises

    def _fetch_once(self, path: str, url: str, limit: int, category: str) -> bytes | None:
        give_up = time.monotonic() + self.deadline
        for _ in range(HTTP_MAX_REDIRECTS + 1):  # bounded: a redirect loop ends here
            parts, response = self._get(url)
            try:
                status = response.status
                if status in (301, 302, 303, 307, 308):
                    location = response.getheader("Location")
                    self._discard(parts, response)
                    if not location:
                        raise _http_error(path, url, f"HTTP {status} without a Location", category)
                    url = urllib.parse.urljoin(url, location)
                    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
                        raise _http_error(path, url, "redirected to a URL that is not http(s)",
                                          category)
                    continue
                if status != 200:
                    reason = f"HTTP {status} {response.reason}"
                    retry_after = _retry_after(response.getheader("Retry-After"))
                    self._discard(parts, response)
                    if status == 404:
                        return None
                    if status == 429 or status >= 500:
                        raise _Transient(reason, retry_after=retry_after)
                    raise _http_error(path, url, reason, category)
                encoding = (response.getheader("Content-Encoding") or "identity").strip().lower()
                # gzip of incompressible bytes is a little longer than the bytes themselves
                raw_limit = limit + (limit >> 8) + 1024 if encoding == "gzip" else limit
                try:
                    raw = self._read_body(response, raw_limit + 1, give_up)
                    if not response.isclosed() and response.length == 0:
                        response.read()  # the whole answer was read: free the connection
                except (OSError, http.client.HTTPException) as e:
                    self._drop(parts)
                    raise _Transient(str(e) or type(e).__name__) from e
                if len(raw) > raw_limit or not response.isclosed():
                    self._drop(parts)  # the rest of an answer over the limit is not read
                if response.will_close:
                    self._drop(parts)
                break
            except BaseException:
                if not response.isclosed():
                    self._drop(parts)
                raise
        else:
            raise _http_error(path, url, f"more than {HTTP_MAX_REDIRECTS} redirects", category)
        if len(raw) > raw_limit:
            raise too_large(path, limit, category)
        if encoding == "gzip":
            raw = _gunzip(raw, limit, path, category)
        elif encoding != "identity":
            raise _http_error(path, url, f"unknown Content-Encoding {encoding!r}", category)
        if len(raw) > limit:
            raise too_large(path, limit, category)
        return raw

    def _discard(self, parts: urllib.parse.SplitResult,
                 response: http.client.HTTPResponse) -> None:
        """Read a short answer we do not need, so the connection serves the next request."""
        try:
            response.read(_DISCARD_LIMIT)
        except (OSError, http.client.HTTPException):
            self._drop(parts)
            return
        if not response.isclosed() or response.will_close:
            self._drop(parts)

    def _read_body(self, response: http.client.HTTPResponse, limit: int, give_up: float) -> bytes:
        """At most ``limit`` bytes of the body, read as they come, within the file's deadline."""
        chunks: list[bytes] = []
        got = 0
        while got < limit:  # bounded: each round reads at least one byte or ends
            if time.monotonic() > give_up:
                raise _Transient(f"no whole answer within {self.deadline:g} s")
            chunk: bytes = response.read1(min(_READ_CHUNK, limit - got))
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)


class _Transient(Exception):  # noqa: N818 - internal signal, never leaves HttpSource
    """A failure worth retrying: no answer, or the server said it could not answer now."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def _retry_after(value: str | None) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait (delay-seconds or an HTTP date)."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


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
        raise too_large(path, limit, category)
    if not inflater.eof or inflater.unused_data:
        raise MalformedError(
            f"{path} is truncated or has bytes after its gzip stream", category=category,
            code="bad-gzip", where=Where(file=path),
        )
    return out




