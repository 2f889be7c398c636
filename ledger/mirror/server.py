"""The mirror's HTTP server (aiohttp, as the witness's): the mirror's folder as static files.

Only the tlog-tiles files of each log are served, ``GET`` and ``HEAD``: ``<hex>/checkpoint``,
``<hex>/tile/...``, ``<hex>/ledger.json``, ``<hex>/audit.json``, ``<hex>/evidence/<file>`` and
the station index ``<hex>/stations/<id>.json`` and the observer's page (``<hex>/``,
``<hex>/index.html`` and its files under ``observer/``); nothing else (the mirror's private
``.mirror`` folder included) is found. Tiles and bundles are
immutable (``Cache-Control: public, max-age=31536000, immutable``); the rest is ``no-cache``.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from aiohttp import web

from ledger.publisher.page import PAGE_FILE, PAGE_FILES

LOG = logging.getLogger("ledger.mirror")
_PATH = re.compile(
    r"(?P<origin>[0-9a-f]{64})/(?P<file>checkpoint|ledger\.json|audit\.json"
    r"|evidence/evidence-[0-9a-f]{8}-[0-9]+-[0-9]+\.txt"
    r"|stations/(?:index|[A-Z]{1,2}-C?[1-9][0-9]*)\.json"
    r"|tile/(?:[0-9]+|entries)/(?:x[0-9]{3}/)*[0-9]{3}(?:\.p/[0-9]{1,3})?"
    + "".join("|" + re.escape(name) for name in PAGE_FILES) + r"|)")
IMMUTABLE = "public, max-age=31536000, immutable"


def content_type(file: str) -> str:
    """The content type of a served file (C2SP tlog-tiles: tiles are application/octet-stream)."""
    if file.endswith(".json"):
        return "application/json"
    if file.startswith("tile/"):
        return "application/octet-stream"
    if file.endswith(".html"):
        return "text/html; charset=utf-8"
    if file.endswith(".js"):
        return "text/javascript; charset=utf-8"
    if file.endswith(".css"):
        return "text/css; charset=utf-8"
    return "text/plain; charset=utf-8"


def make_app(root: Path) -> web.Application:
    """The aiohttp application serving the mirror folder ``root``."""

    async def get(request: web.Request) -> web.StreamResponse:
        found = _PATH.fullmatch(request.match_info["path"])
        if found is None:
            return web.Response(status=404, text="not found\n")
        file = found.group("file") or PAGE_FILE  # <hex>/ is the observer's page
        path = root / found.group("origin") / file
        try:
            data = path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return web.Response(status=404, text="not found\n")
        cache = IMMUTABLE if file.startswith("tile/") else "no-cache"
        kind, _, charset = content_type(file).partition("; charset=")
        return web.Response(body=data, content_type=kind, charset=charset or None,
                            headers={"Cache-Control": cache})

    app = web.Application()
    app.router.add_get("/{path:.+}", get)
    return app


def serve(root: Path, host: str, port: int) -> None:
    """Serve until interrupted (SIGINT or SIGTERM)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    web.run_app(make_app(root), host=host, port=port, print=None, access_log=None,
                handle_signals=True)
