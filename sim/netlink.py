"""A cuttable TCP link between one simulated robot and the broker.

A robot whose network may fail connects to the broker through its own `LinkProxy`. Cutting
the link aborts the open connections (the broker sees the TCP session die, as when a robot
drives out of Wi-Fi, and publishes the robot's last will) and refuses new ones until the
link is restored; the agent's MQTT client then reconnects on its own. Nothing in the agent
changes, so the fault exercises exactly the code that runs on a robot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

log = logging.getLogger(__name__)

_CHUNK = 65536


class LinkProxy:
    """Forwards TCP between a local port and the broker until cut."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream_host = upstream_host
        self.upstream_port = upstream_port
        self.cut_active = False
        self.cuts = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._pumps: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        """The local port robots connect to (only once started)."""
        if self._server is None:
            raise RuntimeError("link proxy is not started")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def start(self) -> int:
        """Listen on a free local port; returns it."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return self.port

    async def stop(self) -> None:
        """Close everything."""
        self._abort_all()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for pump in list(self._pumps):
            pump.cancel()
        await asyncio.gather(*self._pumps, return_exceptions=True)

    def cut(self) -> None:
        """Drop open connections abruptly and refuse new ones."""
        self.cut_active = True
        self.cuts += 1
        self._abort_all()

    def restore(self) -> None:
        """Accept connections again."""
        self.cut_active = False

    def _abort_all(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.cut_active:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(
                self.upstream_host, self.upstream_port
            )
        except OSError:
            writer.transport.abort()  # broker down: the robot sees a refused session
            return
        if self.cut_active:
            writer.transport.abort()
            up_writer.transport.abort()
            return
        self._writers.update((writer, up_writer))
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            pump = asyncio.create_task(self._pump(source, sink, writer, up_writer))
            self._pumps.add(pump)
            pump.add_done_callback(self._pumps.discard)

    async def _pump(
        self,
        source: asyncio.StreamReader,
        sink: asyncio.StreamWriter,
        *pair: asyncio.StreamWriter,
    ) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while data := await source.read(_CHUNK):
                sink.write(data)
                await sink.drain()
        # One side closed: close both gracefully (buffered bytes such as a DISCONNECT
        # still go out), so each end sees the session end.
        for writer in pair:
            self._writers.discard(writer)
            writer.close()
