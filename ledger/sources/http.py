"""A published tlog-tiles tree over ``http(s)://``: gzip understood, transient failures retried."""

from __future__ import annotations

import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from http.client import HTTPResponse

from ledger.errors import InputError, MalformedError, SourceUnavailableError, Where
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
        give_up = time.monotonic() + self.deadline
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
                # gzip of incompressible bytes is a little longer than the bytes themselves
                raw_limit = limit + (limit >> 8) + 1024 if encoding == "gzip" else limit
                raw = self._read_body(response, raw_limit + 1, give_up)
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return None
            if e.code == 429 or e.code >= 500:
                raise _Transient(f"HTTP {e.code} {e.reason}") from e
            raise _http_error(path, url, f"HTTP {e.code} {e.reason}", category) from e
        except (urllib.error.URLError, OSError) as e:
            raise _Transient(str(getattr(e, "reason", None) or e)) from e
        if len(raw) > raw_limit:
            raise too_large(path, limit, category)
        if encoding == "gzip":
            raw = _gunzip(raw, limit, path, category)
        elif encoding != "identity":
            raise _http_error(path, url, f"unknown Content-Encoding {encoding!r}", category)
        if len(raw) > limit:
            raise too_large(path, limit, category)
        return raw


    def _read_body(self, response: HTTPResponse, limit: int, give_up: float) -> bytes:
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




