"""A real local HTTP server that receives webhooks, for the feed tests.

Each path answers by a script of statuses (`/flaky`: 500 then 200 …); the last status of
the script repeats. Every request is kept with its headers and raw body.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from fleet_server.broker import find_free_port


@dataclass(frozen=True)
class Received:
    """One request as the receiver saw it."""

    path: str
    headers: dict[str, str]
    body: bytes
    answered: int


@dataclass
class Receiver:
    """What the server got, and what it answers per path."""

    port: int
    scripts: dict[str, list[int]] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        """The URL of a path on this receiver."""
        return f"http://127.0.0.1:{self.port}{path}"

    def answer(self, path: str) -> int:
        """The next status for `path` (the script's last one repeats)."""
        with self.lock:
            script = self.scripts.get(path, [200])
            status = script[0]
            if len(script) > 1:
                script.pop(0)
            return status

    def at(self, path: str) -> list[Received]:
        """Requests to `path` so far."""
        with self.lock:
            return [r for r in self.received if r.path == path]


@contextmanager
def webhook_receiver() -> Iterator[Receiver]:
    """A receiver on a free port, stopped afterwards."""
    receiver = Receiver(find_free_port())

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            status = receiver.answer(self.path)
            with receiver.lock:
                receiver.received.append(
                    Received(
                        self.path, {k.lower(): v for k, v in self.headers.items()}, body, status
                    )
                )
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", receiver.port), Handler)
    thread = threading.Thread(target=server.serve_forever, name="webhook-receiver", daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
