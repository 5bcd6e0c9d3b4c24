"""One WebSocket connection of the live stream, from authentication to close.

Three tasks serve a connection: the reader (client messages), the writer (outbox →
socket) and the re-check (is the caller still signed in, still allowed?). The first to
end, or a close request from the hub (too slow, shutting down), ends the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from fleet_server.auth.roles import Principal, Role
from fleet_server.live.client import LiveClient
from fleet_server.live.hub import LiveHub
from fleet_server.live.protocol import (
    ALL_SITES,
    Auth,
    CloseCode,
    ProtocolError,
    Subscribe,
    encode,
    error_frame,
    parse_client_message,
)

log = logging.getLogger(__name__)

Authenticate = Callable[[str], Awaitable[Principal | None]]
"""A bearer token → its principal, or None when it is not (or no longer) valid."""
SiteExists = Callable[[str], Awaitable[bool]]

MAX_PROTOCOL_ERRORS = 20
"""Invalid messages one connection may send before it is closed (policy violation)."""
CLOSE_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class ConnectionSettings:
    """Timeouts of one connection."""

    auth_timeout_s: float = 10.0
    reauth_interval_s: float = 60.0


class _Closed(Exception):
    """End the connection with this code and reason."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def _forbidden_site(principal: Principal, sites: set[str] | tuple[str, ...]) -> str | None:
    """The first site the principal may not view, if any."""
    for site in sorted(sites):
        allowed = (
            principal.has(Role.VIEWER) if site == ALL_SITES else principal.has(Role.VIEWER, site)
        )
        if not allowed:
            return site
    return None


class LiveConnection:
    """Serves one accepted WebSocket until either side ends it."""

    def __init__(
        self,
        websocket: WebSocket,
        hub: LiveHub,
        authenticate: Authenticate,
        site_exists: SiteExists,
        settings: ConnectionSettings | None = None,
    ) -> None:
        self.websocket = websocket
        self.hub = hub
        self.authenticate = authenticate
        self.site_exists = site_exists
        self.settings = settings or ConnectionSettings()
        self._errors = 0

    async def serve(self) -> None:
        """Authenticate, then stream until the client leaves or must be closed."""
        try:
            token, principal = await self._sign_in()
        except _Closed as closed:
            await self._close(closed.code, closed.reason)
            return
        except WebSocketDisconnect:
            return
        client = self.hub.connect(principal, token)
        log.info("live client %s connected", principal.username)
        outcome = "client_left"
        try:
            await self.websocket.send_text(encode({"type": "ready", "user": principal.username}))
            outcome = await self._stream(client)
        except WebSocketDisconnect:
            pass
        finally:
            self.hub.disconnect(client, outcome)
        if client.close_request is not None:
            code, reason = client.close_request
            log.info("live client %s closed: %s (%s)", principal.username, reason, code)
            await self._close(code, reason)

    async def _sign_in(self) -> tuple[str, Principal]:
        token = self.websocket.query_params.get("token")
        if not token:
            token = await self._first_message_token()
        principal = await self.authenticate(token)
        if principal is None:
            raise _Closed(CloseCode.NOT_AUTHENTICATED, "invalid or expired credentials")
        if not principal.has_anywhere(Role.VIEWER):
            raise _Closed(CloseCode.FORBIDDEN, "requires the viewer role")
        return token, principal

    async def _first_message_token(self) -> str:
        try:
            message = await asyncio.wait_for(self.websocket.receive(), self.settings.auth_timeout_s)
        except TimeoutError as exc:
            raise _Closed(CloseCode.NOT_AUTHENTICATED, "no auth message in time") from exc
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1000))
        text = message.get("text")
        try:
            parsed = parse_client_message(text) if isinstance(text, str) else None
        except ProtocolError as exc:
            raise _Closed(CloseCode.NOT_AUTHENTICATED, f"first message: {exc}") from exc
        if not isinstance(parsed, Auth):
            raise _Closed(
                CloseCode.NOT_AUTHENTICATED, 'the first message must be {"type": "auth", ...}'
            )
        return parsed.token

    async def _stream(self, client: LiveClient) -> str:
        tasks = {
            asyncio.create_task(self._read(client), name="live-read"): "client_left",
            asyncio.create_task(self._write(client), name="live-write"): "client_left",
            asyncio.create_task(self._recheck(client), name="live-recheck"): "recheck",
            asyncio.create_task(client.closing.wait(), name="live-closing"): "closed",
        }
        try:
            done, _pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, OSError):
                    await task
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                if isinstance(task.exception(), WebSocketDisconnect | OSError):
                    return "client_left"
                log.error("live connection task failed", exc_info=task.exception())
                client.request_close(CloseCode.INTERNAL_ERROR, "internal error")
        if client.close_request is not None:
            return _outcome(client.close_request[0])
        return tasks[next(iter(done))]

    async def _write(self, client: LiveClient) -> None:
        while True:
            frame = await client.next_frame()
            await self.websocket.send_text(frame)

    async def _read(self, client: LiveClient) -> None:
        while client.close_request is None:
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if not isinstance(text, str):
                self._protocol_error(client, ProtocolError("message", "expected a text frame"))
                continue
            try:
                parsed = parse_client_message(text)
            except ProtocolError as exc:
                self._protocol_error(client, exc)
                continue
            if isinstance(parsed, Auth):
                await self._reauthenticate(client, parsed.token)
            elif isinstance(parsed, Subscribe):
                await self._subscribe(client, parsed.sites)
            else:
                self.hub.unsubscribe(client, parsed.sites)

    def _protocol_error(self, client: LiveClient, error: ProtocolError) -> None:
        self._errors += 1
        if self._errors > MAX_PROTOCOL_ERRORS:
            client.request_close(CloseCode.POLICY_VIOLATION, "too many invalid messages")
            return
        client.send_now(error_frame(error.field, error.message))

    async def _subscribe(self, client: LiveClient, sites: tuple[str, ...]) -> None:
        forbidden = _forbidden_site(client.principal, sites)
        if forbidden is not None:
            client.request_close(CloseCode.FORBIDDEN, f"may not view site {forbidden!r}")
            return
        wanted = []
        for index, site in enumerate(sites):
            if (
                site == ALL_SITES
                or site in self.hub.directory.sites
                or await self.site_exists(site)
            ):
                wanted.append(site)
            else:
                client.send_now(error_frame(f"sites[{index}]", f"no site {site!r}"))
        if wanted:
            self.hub.subscribe(client, tuple(wanted))

    async def _reauthenticate(self, client: LiveClient, token: str) -> None:
        principal = await self.authenticate(token)
        if principal is None:
            client.request_close(CloseCode.NOT_AUTHENTICATED, "invalid or expired credentials")
            return
        self._admit(client, principal)
        client.token = token

    def _admit(self, client: LiveClient, principal: Principal) -> None:
        forbidden = _forbidden_site(principal, client.sites)
        if forbidden is not None:
            client.request_close(CloseCode.FORBIDDEN, f"may no longer view site {forbidden!r}")
            return
        client.principal = principal

    async def _recheck(self, client: LiveClient) -> None:
        # Sessions end (expiry, password change, disabled account, revoked token) and
        # roles change; a long-lived stream must notice within one interval.
        while client.close_request is None:
            await asyncio.sleep(self.settings.reauth_interval_s)
            principal = await self.authenticate(client.token)
            if principal is None:
                client.request_close(
                    CloseCode.NOT_AUTHENTICATED, "session ended; authenticate again"
                )
                return
            self._admit(client, principal)

    async def _close(self, code: int, reason: str) -> None:
        websocket = self.websocket
        if websocket.application_state != WebSocketState.CONNECTED:
            return
        # A client that reads nothing cannot take a close frame either: do not wait on it.
        with contextlib.suppress(TimeoutError, WebSocketDisconnect, OSError, RuntimeError):
            await asyncio.wait_for(websocket.close(code, _close_reason(reason)), CLOSE_TIMEOUT_S)


def _close_reason(reason: str) -> str:
    """At most 123 bytes of UTF-8, the room a close frame has for its reason (RFC 6455 §5.5)."""
    return reason.encode()[:123].decode(errors="ignore")


def _outcome(code: int) -> str:
    return {
        CloseCode.NOT_AUTHENTICATED: "not_authenticated",
        CloseCode.FORBIDDEN: "forbidden",
        CloseCode.TOO_SLOW: "too_slow",
        CloseCode.GOING_AWAY: "shutdown",
        CloseCode.POLICY_VIOLATION: "policy_violation",
    }.get(code, "error")
