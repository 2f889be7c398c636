"""Open a SOURCE given on the command line: a URL, a ledger directory or a published directory."""

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
    if (path / DATA_FILE).is_file():
        return LedgerDirSource(path)
    if any((path / name).exists() for name in (CHECKPOINT_FILE, "tile", LEDGER_JSON)):
        return PublishedDirSource(path)
    raise InputError("neither a ledger directory nor a published directory",
                     where=Where(file=spec))


