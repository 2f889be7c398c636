"""A real HTTP server on 127.0.0.1 for the tests: serves a folder, and can misbehave on demand
(fail with 503 a number of times, answer HTML, redirect in a loop, add latency, stop)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


@dataclass
class Behaviour:
    """What the server does; the tests change it while the server runs."""

    fail_503: int = 0  # answer this many more requests with 503
    retry_after: str | None = None  # the Retry-After header of those 503s
    html: bool = False  # answer every request with an HTML page
    redirect_loop: bool = False
    latency: float = 0.0  # seconds added before every answer
    requests: int = 0
    stop_after: int | None = None  # stop answering (close connections) after this many
    paths: list[str] = field(default_factory=list)
    #: Paths under these prefixes are answered 503, always (a proxy whose backend is down).
    down_prefixes: tuple[str, ...] = ()
    clients: set[tuple[str, int]] = field(default_factory=set)  # one per connection


class _Handler(SimpleHTTPRequestHandler):
    behaviour: Behaviour
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        b = self.behaviour
        b.requests += 1
        b.paths.append(self.path)
        b.clients.add(self.client_address)
        if b.stop_after is not None and b.requests > b.stop_after:
            self.close_connection = True
            self.connection.close()
            return
        if b.latency:
            time.sleep(b.latency)
        down = any(self.path.startswith(p) for p in b.down_prefixes)
        if b.fail_503 > 0 or down:
            b.fail_503 -= 0 if down else 1
            self.send_response(503)
            if b.retry_after is not None:
                self.send_header("Retry-After", b.retry_after)
            self.send_header("Content-Length", "5")
            self.end_headers()
            self.wfile.write(b"busy\n")
            return
        if b.redirect_loop:
            self.send_response(302)
            self.send_header("Location", self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if b.html:
            body = b"<html><body>Service temporarily down</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return None


@dataclass
class LocalServer:
    url: str
    behaviour: Behaviour
    httpd: ThreadingHTTPServer

    def stop(self) -> None:
        """Stop listening, and close the connections kept alive at their next request."""
        self.behaviour.stop_after = 0
        self.httpd.shutdown()
        self.httpd.server_close()


@contextmanager
def local_server(root: Path, behaviour: Behaviour | None = None) -> Iterator[LocalServer]:
    """Serve ``root`` on 127.0.0.1 (a free port) until the block ends."""
    b = behaviour or Behaviour()
    handler = type("Handler", (_Handler,), {"behaviour": b})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(root)))
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    server = LocalServer(url=f"http://127.0.0.1:{httpd.server_address[1]}", behaviour=b,
                         httpd=httpd)
    try:
        yield server
    finally:
        with suppress(OSError):
            server.stop()
        thread.join(timeout=10)
