"""The witness's HTTP server (aiohttp): ``POST /add-checkpoint`` and ``GET /<hex>/checkpoint``.

aiohttp is the one home of the HTTP server. Requests for one origin are serialised by a lock per
origin; the check and the durable write run in a pool of worker threads, one request per
origin at a time, so other origins go on and their journal appends share one flush (group
commit, ``ledger.witness.state``). Bodies are bounded (413 over the limit) and must arrive
within a time limit (408).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import defaultdict
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

from aiohttp import web

from ledger.witness.witness import MAX_BODY, Answer, Witness

LOG = logging.getLogger("ledger.witness")
#: Seconds a client has to send its whole body.
BODY_TIMEOUT = 10.0
#: Worker threads for checks and durable writes: at most one per origin is busy at a time, so
#: this many origins can wait on one journal flush at once.
WORKERS = 64
_ORIGIN_HASH = re.compile(r"[0-9a-f]{64}")
_ORIGIN_LINE = re.compile(rb"\n\n([^\n]{1,255})\n")


def make_app(witness: Witness, *, body_timeout: float = BODY_TIMEOUT) -> web.Application:
    """The aiohttp application of ``witness``."""
    locks: defaultdict[bytes, asyncio.Lock] = defaultdict(asyncio.Lock)
    pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="witness")

    async def add_checkpoint(request: web.Request) -> web.Response:
        try:
            body = await asyncio.wait_for(request.read(), body_timeout)
        except TimeoutError:
            return _answer(request, Answer(status=408, body=b"the body did not arrive in time\n",
                                           log="body timeout"))
        except web.HTTPRequestEntityTooLarge:
            return _answer(request, Answer(status=413, body=b"the body is over the limit\n",
                                           log="body over the limit"))
        found = _ORIGIN_LINE.search(body)
        async with locks[found.group(1) if found else b""]:
            answer = await asyncio.get_running_loop().run_in_executor(
                pool, witness.add_checkpoint, body)
        return _answer(request, answer)

    async def checkpoint(request: web.Request) -> web.Response:
        origin_hash = request.match_info["origin"]
        note = witness.latest(origin_hash) if _ORIGIN_HASH.fullmatch(origin_hash) else None
        if note is None:
            return web.Response(status=404, text="no cosigned checkpoint for that origin\n")
        return web.Response(status=200, body=note, content_type="text/plain",
                            charset="utf-8")

    async def workers(_app: web.Application) -> AsyncIterator[None]:
        yield
        pool.shutdown(wait=True)  # every answered write is on disk already; finish the rest

    app = web.Application(client_max_size=MAX_BODY)
    app.cleanup_ctx.append(workers)
    app.router.add_post("/add-checkpoint", add_checkpoint)
    app.router.add_get("/{origin}/checkpoint", checkpoint)
    return app


def _answer(request: web.Request, answer: Answer) -> web.Response:
    LOG.info("%s %s %s origin=%s: %s", request.remote, request.path, answer.status,
             answer.origin, answer.log)
    kind, _, charset = answer.content_type.partition("; charset=")
    return web.Response(status=answer.status, body=answer.body, content_type=kind,
                        charset=charset or None)


def serve(witness: Witness, host: str, port: int, *, body_timeout: float = BODY_TIMEOUT) -> None:
    """Serve until interrupted (SIGINT or SIGTERM)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    web.run_app(make_app(witness, body_timeout=body_timeout), host=host, port=port, print=None,
                access_log=None, handle_signals=True)
