"""The live stream's wire protocol: client messages, close codes, server frames.

Client → server (JSON text frames):
- `{"type": "auth", "token": "..."}` first, unless the token came as `?token=`; may be sent
  again at any time with a fresh token (access tokens are short-lived);
- `{"type": "subscribe", "sites": ["clinic", ...]}` (`"*"`: every site, which needs the
  viewer role for all sites; robots registered nowhere are only in that stream);
- `{"type": "unsubscribe", "sites": [...]}`.

Server → client: `ready` after authentication, then per subscribed site a `snapshot`
(robots, active missions, open alarms) followed by `delta`s numbered by `seq`, and
`error` frames for messages it could not use (naming the field).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

ALL_SITES = "*"
MAX_MESSAGE_CHARS = 64 * 1024
MAX_SITES_PER_MESSAGE = 100
MAX_SITE_ID_CHARS = 64


class CloseCode:
    """WebSocket close codes (RFC 6455 §7.4; 4000-4999 are ours, mirroring HTTP)."""

    GOING_AWAY = 1001
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009
    NOT_AUTHENTICATED = 4401
    FORBIDDEN = 4403
    INTERNAL_ERROR = 1011
    TOO_SLOW = 4408
    """The client read nothing for too long while updates waited."""


class ProtocolError(ValueError):
    """A client message that cannot be used; `field` names the offending part."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Auth:
    """Credentials: an access token or API token."""

    token: str


@dataclass(frozen=True)
class Subscribe:
    """Start streaming these sites (ALL_SITES: every site)."""

    sites: tuple[str, ...]


@dataclass(frozen=True)
class Unsubscribe:
    """Stop streaming these sites."""

    sites: tuple[str, ...]


ClientMessage = Auth | Subscribe | Unsubscribe


def _sites(body: dict[str, Any]) -> tuple[str, ...]:
    sites = body.get("sites")
    if not isinstance(sites, list) or not sites:
        raise ProtocolError("sites", "expected a non-empty list of site ids")
    if len(sites) > MAX_SITES_PER_MESSAGE:
        raise ProtocolError("sites", f"at most {MAX_SITES_PER_MESSAGE} sites per message")
    for index, site in enumerate(sites):
        if not isinstance(site, str) or not site or len(site) > MAX_SITE_ID_CHARS:
            raise ProtocolError(
                f"sites[{index}]", f"expected a site id of 1 to {MAX_SITE_ID_CHARS} characters"
            )
    return tuple(dict.fromkeys(sites))


def parse_client_message(text: str) -> ClientMessage:
    """One client frame, or `ProtocolError` naming what is wrong with it."""
    if len(text) > MAX_MESSAGE_CHARS:
        raise ProtocolError("message", f"longer than {MAX_MESSAGE_CHARS} characters")
    try:
        body = json.loads(text)
    except ValueError as exc:
        raise ProtocolError("message", f"not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise ProtocolError("message", "expected a JSON object")
    kind = body.get("type")
    if kind == "auth":
        token = body.get("token")
        if not isinstance(token, str) or not token:
            raise ProtocolError("token", "expected a non-empty string")
        return Auth(token)
    if kind == "subscribe":
        return Subscribe(_sites(body))
    if kind == "unsubscribe":
        return Unsubscribe(_sites(body))
    raise ProtocolError("type", "expected 'auth', 'subscribe' or 'unsubscribe'")


def encode(frame: dict[str, Any]) -> str:
    """A server frame as compact JSON text."""
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False)


def error_frame(field: str, message: str) -> str:
    """An `error` frame naming the field of the client message it is about."""
    return encode({"type": "error", "field": field, "message": message})
