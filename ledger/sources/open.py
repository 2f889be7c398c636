"""Open a SOURCE given on the command line: a URL (``http(s)://`` or ``s3://``), a ledger directory
or a published directory."""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from ledger.errors import InputError, Where
from ledger.sources.http import HttpSource
from ledger.sources.ledger_dir import LedgerDirSource
from ledger.sources.published import PublishedDirSource
from ledger.sources.source import CHECKPOINT_FILE, LEDGER_JSON, Source
from ledger.store.layout import DATA_FILE


def open_source(spec: str, *, endpoint_url: str | None = None) -> Source:
    """Open ``spec``: an ``http(s)://`` URL, an ``s3://BUCKET/PREFIX`` of an object store (at
    ``endpoint_url``, else where the AWS tools' settings say), a ledger directory, or a published
    directory.

    Raises:
        InputError: ``spec`` does not exist or is none of those, or an ``s3://`` URL without the
            ``s3`` extra installed (exit 2).
        StoreError: a ledger directory that LMDB cannot open (exit 3).
    """
    scheme = urllib.parse.urlsplit(spec).scheme.lower()
    if scheme in ("http", "https"):
        return HttpSource(spec)
    if scheme == "s3":
        return open_s3_source(spec, endpoint_url=endpoint_url)
    path = Path(spec)
    if not path.exists():
        raise InputError("no such file or directory", where=Where(file=spec))
    if not path.is_dir():
        raise InputError("not a directory: a SOURCE is a ledger or published directory or URL",
                         where=Where(file=spec))
    if (path / DATA_FILE).is_file():
        return LedgerDirSource(path)
    if any((path / name).exists() for name in (CHECKPOINT_FILE, "tile", LEDGER_JSON)):
        return PublishedDirSource(path)
    raise InputError("neither a ledger directory nor a published directory",
                     where=Where(file=spec))




def open_s3_source(url: str, *, endpoint_url: str | None = None) -> Source:
    """The tree under ``s3://BUCKET/PREFIX``; the S3 client is loaded only here (an extra).

    Raises:
        InputError: the ``s3`` extra (boto3) is not installed, or ``url`` is not an s3 URL.
    """
    try:
        from ledger.sources.s3 import S3Source
    except ImportError as e:
        raise InputError(f"reading {url} needs the S3 client: pip install "
                         "'election-ledger[s3]'") from e
    return S3Source(url, endpoint_url=endpoint_url)
