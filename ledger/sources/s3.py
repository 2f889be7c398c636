"""A published tlog-tiles tree in an S3-compatible object store (``s3://BUCKET/PREFIX``): the one
home of the S3 client (boto3, the ``s3`` extra).

boto3 is the AWS tools' own client (botocore is the core of the AWS CLI), so the endpoint, region,
credentials and profile are read exactly as the AWS tools read them: the ``AWS_*`` environment
variables (``AWS_ENDPOINT_URL`` for a store that is not AWS), then ``~/.aws/config`` and
``~/.aws/credentials``. A reader with no credentials at all reads unsigned (a public bucket).
:class:`S3Bucket` is the small part of the S3 API the ledger needs (GET, HEAD, PUT of one
object); :class:`S3Source` reads a tree through it with the HTTP reader's size limits and errors.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.loaders
import botocore.session
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ledger.errors import InputError, SourceUnavailableError, Where
from ledger.formats.tiles import MAX_BUNDLE_BYTES, MAX_TILE_BYTES, BundleId, TileId
from ledger.sources.published import PublishedTree
from ledger.sources.source import CHECKPOINT_FILE, MAX_CHECKPOINT_BYTES, too_large

#: Requests in flight at once (reading ahead, or uploading), and the connection pool that serves
#: them; bounded, so a large publish never opens more.
S3_PARALLEL = 16
#: Attempts per request on a transient failure (botocore's "standard" retry mode: connection
#: errors, time-outs, throttling, 5xx), then the store is unavailable (exit 4).
S3_ATTEMPTS = 3
S3_CONNECT_TIMEOUT = 10.0
S3_READ_TIMEOUT = 30.0
#: Files fetched ahead at most (memory).
S3_AHEAD = 512
_NOT_FOUND = frozenset({"404", "NoSuchKey", "NotFound"})


@dataclass(frozen=True, slots=True, kw_only=True)
class S3Url:
    """``s3://BUCKET/PREFIX``: the bucket and the key prefix (empty, or ending in ``/``)."""

    bucket: str
    prefix: str

    @classmethod
    def parse(cls, url: str) -> S3Url:
        """Raises InputError when ``url`` is not ``s3://BUCKET[/PREFIX]``."""
        scheme, sep, rest = url.partition("://")
        if scheme.lower() != "s3" or not sep:
            raise InputError(f"not an s3:// URL: {url!r}")
        bucket, _, prefix = rest.partition("/")
        if not bucket or "?" in rest or "#" in rest:
            raise InputError(f"an s3 URL is s3://BUCKET/PREFIX, with no query: {url!r}")
        prefix = prefix.strip("/")
        if prefix and any(part in ("", ".", "..") for part in prefix.split("/")):
            raise InputError(f"the prefix of {url!r} has an empty, '.' or '..' part")
        return cls(bucket=bucket, prefix=prefix + "/" if prefix else "")

    def key(self, path: str) -> str:
        """The object key of the tree's relative ``path``."""
        return self.prefix + path

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


def is_s3_url(spec: str) -> bool:
    """Whether ``spec`` names an object store rather than a URL of the web or a path."""
    return spec[:5].lower() == "s3://"


@dataclass(frozen=True, slots=True, kw_only=True)
class ObjectHead:
    """What a HEAD of one object says: its size and the headers it is served with."""

    size: int
    content_type: str | None
    cache_control: str | None


class S3Bucket:
    """GET, HEAD and PUT of the objects under one ``s3://BUCKET/PREFIX``, thread-safe.

    Every failure the store gives (no answer after :data:`S3_ATTEMPTS`, refused credentials, no
    such bucket) is :class:`~ledger.errors.SourceUnavailableError` naming the object: nothing it
    served was wrong; a missing object is None.
    """

    def __init__(self, url: str, *, endpoint_url: str | None = None,
                 signed: bool | None = None) -> None:
        self.url = S3Url.parse(url)
        session = _session()
        if signed is None:  # a reader with no credentials reads a public bucket unsigned
            signed = session.get_credentials() is not None
        config = Config(
            max_pool_connections=S3_PARALLEL + 4, connect_timeout=S3_CONNECT_TIMEOUT,
            read_timeout=S3_READ_TIMEOUT, retries={"max_attempts": S3_ATTEMPTS, "mode": "standard"},
            **({} if signed else {"signature_version": UNSIGNED}))
        self._client: Any = session.client("s3", endpoint_url=endpoint_url, config=config)
        self.endpoint = str(self._client.meta.endpoint_url)

    def describe(self) -> str:
        return f"{self.url} (at {self.endpoint})"

    def get(self, path: str, limit: int, category: str = "tiles") -> bytes | None:
        """The bytes of ``path`` (at most ``limit``: MalformedError ``too-large`` past it, read
        no further), or None when there is no such object."""
        key = self.url.key(path)
        try:
            answer = self._client.get_object(Bucket=self.url.bucket, Key=key)
        except _STORE_ERRORS as e:
            if _not_found(e):
                return None
            raise self._failure("reading", path, e) from e
        body = answer["Body"]
        try:
            if int(answer.get("ContentLength") or 0) > limit:
                raise too_large(path, limit, category)  # read no further
            data: bytes = body.read(limit + 1)
        except _STORE_ERRORS as e:
            raise self._failure("reading", path, e) from e
        finally:
            body.close()
        if len(data) > limit:
            raise too_large(path, limit, category)
        return data

    def head(self, path: str) -> ObjectHead | None:
        """Size and headers of ``path``, or None when there is no such object."""
        try:
            answer = self._client.head_object(Bucket=self.url.bucket, Key=self.url.key(path))
        except _STORE_ERRORS as e:
            if _not_found(e):
                return None
            raise self._failure("reading", path, e) from e
        return ObjectHead(size=int(answer.get("ContentLength", 0)),
                          content_type=answer.get("ContentType"),
                          cache_control=answer.get("CacheControl"))

    def put(self, path: str, data: bytes, *, content_type: str, cache_control: str) -> None:
        """Replace ``path`` with ``data`` in one PUT (an object appears whole or not at all)."""
        try:
            self._client.put_object(Bucket=self.url.bucket, Key=self.url.key(path), Body=data,
                                    ContentType=content_type, CacheControl=cache_control)
        except _STORE_ERRORS as e:
            raise self._failure("uploading", path, e) from e

    def close(self) -> None:
        """Close the client's connections."""
        self._client.close()

    def _failure(self, doing: str, path: str, e: Exception) -> SourceUnavailableError:
        if isinstance(e, ClientError):
            error = e.response.get("Error", {})
            status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            why = f"{error.get('Code') or 'error'} (HTTP {status}) {error.get('Message') or ''}"
        else:
            why = str(e) or type(e).__name__
        return SourceUnavailableError(
            f"{doing} {self.url}{path} at {self.endpoint} failed: {why.strip()}",
            where=Where(file=path, source=str(self.url)))


#: What the store (or the way to it) can fail with; anything else is a bug, raised as it is.
_STORE_ERRORS = (BotoCoreError, ClientError, OSError)


#: botocore's reader of its service descriptions, shared by every session of this process: it
#: caches what it read, and reading the S3 description again costs most of a client's start.
_LOADER = botocore.loaders.create_loader()
_LOADER_LOCK = threading.Lock()


def _session() -> Any:
    """A new session (the AWS tools' settings as they are now) that reuses :data:`_LOADER`."""
    core = botocore.session.Session()
    with _LOADER_LOCK:
        core.register_component("data_loader", _LOADER)
    return boto3.session.Session(botocore_session=core)


def _not_found(e: Exception) -> bool:
    if not isinstance(e, ClientError):
        return False
    return str(e.response.get("Error", {}).get("Code")) in _NOT_FOUND


class S3Source(PublishedTree):
    """A published tlog-tiles tree under ``s3://BUCKET/PREFIX``, read through the S3 API.

    The size limits and errors are the HTTP reader's: a checkpoint that is not there means the
    URL is not a log (InputError, exit 2); a store that cannot be read is SourceUnavailableError
    (exit 4); a missing or wrong tile is a finding about the log (exit 1). Files hinted with
    :meth:`read_ahead` are fetched in a bounded pool of threads.
    """

    def __init__(self, url: str, *, endpoint_url: str | None = None,
                 bucket: S3Bucket | None = None) -> None:
        self._owns_bucket = bucket is None
        self.bucket = bucket if bucket is not None else S3Bucket(url, endpoint_url=endpoint_url)
        self._pool: ThreadPoolExecutor | None = None
        self._ahead: dict[str, Future[bytes | None]] = {}
        self._lock = threading.Lock()

    def describe(self) -> str:
        return str(self.bucket.url)

    def read_checkpoint(self) -> bytes:
        data = self._fetch(CHECKPOINT_FILE, MAX_CHECKPOINT_BYTES, "checkpoint")
        if data is None:
            raise InputError(f"{self.bucket.url}{CHECKPOINT_FILE} not found: not a log")
        return data

    def read_ahead(self, refs: Sequence[TileId | BundleId]) -> None:
        """Start fetching ``refs`` in a bounded pool; reading one later waits for its fetch."""
        for ref in refs:
            if ref.path in self._ahead:
                continue
            if len(self._ahead) >= S3_AHEAD:
                return
            limit = MAX_TILE_BYTES if isinstance(ref, TileId) else MAX_BUNDLE_BYTES
            self._ahead[ref.path] = self._executor().submit(self.bucket.get, ref.path, limit)

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(S3_PARALLEL, thread_name_prefix="ledger-s3")
            return self._pool

    def _fetch(self, path: str, limit: int, category: str) -> bytes | None:
        ahead = self._ahead.pop(path, None)
        if ahead is not None and not ahead.cancelled():
            return ahead.result()  # what the fetch gave, or the error it raised
        return self.bucket.get(path, limit, category)

    def close(self) -> None:
        """Stop fetching ahead (what was not started is dropped); close the connections of a
        bucket opened here."""
        with self._lock:
            pool, self._pool = self._pool, None
        for future in self._ahead.values():
            future.cancel()
        self._ahead.clear()
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        if self._owns_bucket:
            self.bucket.close()
