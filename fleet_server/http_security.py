"""HTTP hardening: request body limits, security headers, the console's CSP, and CORS.

- Input no database can store is refused naming the field: NUL characters in the path,
  the query or a JSON or form body (PostgreSQL text cannot hold them), and values the
  database rejects (numbers out of a column's range) answer 422, not 500.
- Body limits: a declared `Content-Length` over the limit is refused (413) before the app
  runs; a body without one (chunked) is counted as it is read and refused the moment it
  passes the limit, so no request can make the server hold more than the limit in memory.
- Every response carries `X-Content-Type-Options`, `Referrer-Policy`, `X-Frame-Options`,
  `Permissions-Policy` and `Cross-Origin-Opener-Policy`; HSTS when the request came over
  TLS or the server is configured to sit behind a TLS proxy.
- A Content-Security-Policy: the console's allows only its own scripts and styles, images
  from itself, `blob:` floor plans and the configured basemap tile host, and connections
  to itself (the live WebSocket included). API answers may not load anything at all.
- CORS is off unless `FLEET_HTTP_CORS_ORIGINS` names origins.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fleet_server.errors import problem_response, request_id_of
from fleet_server.settings import Settings
from missions.report import _CSS as REPORT_STYLESHEET

log = logging.getLogger(__name__)

SITE_IMPORT = ("POST", "/api/v1/sites")
"""The one route whose body (map file and floor-plan images) has a limit of its own."""
_API_PREFIXES = ("/api/", "/metrics", "/healthz", "/readyz")
_DOCS_PREFIXES = ("/docs", "/redoc", "/openapi.json")
HSTS = "max-age=31536000"

COMMON_HEADERS: tuple[tuple[str, str], ...] = (
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "DENY"),
    ("permissions-policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()"),
    ("cross-origin-opener-policy", "same-origin"),
)
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
DOCS_CSP = "frame-ancestors 'none'"
"""Swagger UI and ReDoc load their scripts from a CDN and run inline ones: framing only."""


class PayloadTooLarge(StarletteHTTPException):
    """The request body is over the limit for its route."""

    def __init__(self, limit: int) -> None:
        super().__init__(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, body_limit_detail(limit))
        self.limit = limit


def body_limit_detail(limit: int) -> str:
    """The problem detail that names the limit."""
    return f"request body larger than the limit of {limit} bytes"


def _payload_too_large(request: Request, limit: int) -> JSONResponse:
    return problem_response(
        request,
        HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
        body_limit_detail(limit),
        problem="payload-too-large",
        extra={"max_bytes": limit},
    )


async def _on_payload_too_large(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, PayloadTooLarge):
        raise exc
    return _payload_too_large(request, exc.limit)


class BodySizeLimit:
    """Refuses request bodies over the limit (413 problem) without reading them whole."""

    def __init__(
        self, app: ASGIApp, default_limit: int, route_limits: dict[tuple[str, str], int]
    ) -> None:
        self.app = app
        self.default_limit = default_limit
        self.route_limits = route_limits

    def limit_for(self, method: str, path: str) -> int:
        """The body limit of a request to `method path`."""
        return self.route_limits.get((method, path.rstrip("/") or "/"), self.default_limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["method"], scope["path"])
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            # RFC 9110 §15.5.14: refused before a byte of the body is read.
            await _payload_too_large(Request(scope), limit)(scope, receive, send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise PayloadTooLarge(limit)
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except PayloadTooLarge:
            # Read outside a route (whose handler answers it): answer here if still possible.
            if started:
                raise
            await _payload_too_large(Request(scope), limit)(scope, receive, send)


NUL_MESSAGE = "must not contain NUL characters"
_SCANNED_BODIES = ("application/json", "application/x-www-form-urlencoded")


def _invalid_input(request: Request, field: str, message: str) -> JSONResponse:
    return problem_response(
        request,
        HTTPStatus.UNPROCESSABLE_ENTITY,
        f"{field}: {message}",
        problem="invalid-input",
        extra={"errors": [{"field": field, "message": message}]},
    )


def _nul_in_json(node: Any, path: str) -> str | None:
    """The path of the first key or string holding a NUL character, or None."""
    if isinstance(node, str):
        return path if "\x00" in node else None
    if isinstance(node, list):
        for i, item in enumerate(node):
            if (found := _nul_in_json(item, f"{path}[{i}]")) is not None:
                return found
    elif isinstance(node, dict):
        for key, value in node.items():
            where = f"{path}.{key}"
            if "\x00" in key:
                return where
            if (found := _nul_in_json(value, where)) is not None:
                return found
    return None


def nul_field(scope: Scope, body: bytes | None) -> str | None:
    """Where a request carries a NUL character (`path`, `query.x`, `body.a[0]`), or None."""
    if "\x00" in scope["path"]:
        return "path"
    query = scope.get("query_string", b"").decode("latin-1")
    for key, value in parse_qsl(query, keep_blank_values=True):
        if "\x00" in key or "\x00" in value:
            return f"query.{key.replace(chr(0), '')}"
    if not body:
        return None
    media = Headers(scope=scope).get("content-type", "").split(";")[0].strip().lower()
    if media == "application/x-www-form-urlencoded":
        for key, value in parse_qsl(body.decode("latin-1"), keep_blank_values=True):
            if "\x00" in key or "\x00" in value:
                return f"body.{key.replace(chr(0), '')}"
        return None
    # JSON escapes a NUL as \u0000 (a raw one is not JSON): only such bodies are parsed here.
    if b"\\u0000" not in body:
        return None
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return None  # the route answers what is wrong with it
    found = _nul_in_json(document, "body")
    return found.replace("\x00", "") if found else None


class RefuseNulCharacters:
    """422 naming the field for NUL characters in the path, query, or a JSON or form body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        field = nul_field(scope, None)
        media = Headers(scope=scope).get("content-type", "").split(";")[0].strip().lower()
        if field is None and media in _SCANNED_BODIES:
            # Bounded: the body limit around this middleware stops reading past the limit.
            chunks = []
            more = True
            while more:
                message = await receive()
                if message["type"] != "http.request":
                    break
                chunks.append(message.get("body", b""))
                more = message.get("more_body", False)
            body = b"".join(chunks)
            field = nul_field(scope, body)
            receive = _replay(body, receive)
        if field is not None:
            await _invalid_input(Request(scope), field, NUL_MESSAGE)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _on_unstorable_value(request: Request, exc: Exception) -> JSONResponse:
    # e.g. an integer beyond the column's range: the input is wrong, not the server.
    log.info("request %s: the database refused a value: %s", request_id_of(request), exc)
    return problem_response(
        request,
        HTTPStatus.UNPROCESSABLE_ENTITY,
        "a value is out of the range the database can store",
        problem="invalid-input",
    )


def _source_of(tile_url: str) -> str | None:
    """The CSP source expression for an XYZ tile URL template (None: none usable)."""
    parts = urlsplit(tile_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    labels = parts.netloc.split(".")
    if any("{" in label for label in labels[1:]):
        return f"{parts.scheme}:"  # a placeholder deeper than the first label: scheme only
    if "{" in labels[0]:
        labels[0] = "*"  # `{s}.tile.example` subdomains
    return f"{parts.scheme}://{'.'.join(labels)}"


def _sha256_source(text: str) -> str:
    digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
    return f"'sha256-{digest}'"


def console_csp(tile_url: str | None) -> str:
    """The console's Content-Security-Policy, allowing basemap tiles from `tile_url`'s host."""
    images = ["'self'", "blob:", "data:"]
    tiles = _source_of(tile_url) if tile_url else None
    if tiles:
        images.append(tiles)
    directives = [
        "default-src 'self'",
        "script-src 'self'",
        # The disinfection report is shown in a srcdoc frame, which inherits this policy:
        # its one stylesheet is allowed by hash, no other inline style.
        f"style-src 'self' {_sha256_source(REPORT_STYLESHEET)}",
        f"img-src {' '.join(images)}",
        # 'self' covers ws:/wss: to the same host (CSP 3) for the live stream.
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
    return "; ".join(directives)


@dataclass(frozen=True)
class HeaderPolicy:
    """Which headers go on which responses."""

    console_csp: str
    hsts_always: bool

    def csp_for(self, path: str) -> str:
        """The Content-Security-Policy of a response to `path`."""
        if path.startswith(_API_PREFIXES):
            return API_CSP
        if path.startswith(_DOCS_PREFIXES):
            return DOCS_CSP
        return self.console_csp


class SecurityHeaders:
    """Adds the security headers to every HTTP response (replacing any the app set)."""

    def __init__(self, app: ASGIApp, policy: HeaderPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = self.policy.csp_for(scope["path"])
        hsts = self.policy.hsts_always or scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in COMMON_HEADERS:
                    headers[name] = value
                headers["content-security-policy"] = csp
                if hsts:
                    headers["strict-transport-security"] = HSTS
            await send(message)

        await self.app(scope, receive, send_with_headers)


def guard_request_input(app: FastAPI, settings: Settings) -> None:
    """Body limits and the NUL guard; add before the request-id and logging middlewares."""
    app.add_exception_handler(PayloadTooLarge, _on_payload_too_large)
    app.add_exception_handler(DataError, _on_unstorable_value)
    app.add_middleware(RefuseNulCharacters)
    app.add_middleware(
        BodySizeLimit,
        default_limit=settings.http_max_body_bytes,
        route_limits={SITE_IMPORT: settings.http_max_site_import_bytes},
    )


def add_security_headers(app: FastAPI, settings: Settings, tile_url: str | None) -> None:
    """CORS (when configured) and the security headers; add last, so they wrap everything."""
    if settings.http_cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.http_cors_origins),
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
            expose_headers=["X-Request-ID", "Retry-After", "Location"],
            max_age=600,
        )
    policy = HeaderPolicy(console_csp(tile_url), hsts_always=settings.http_behind_tls_proxy)
    app.add_middleware(SecurityHeaders, policy=policy)
