"""Response hardening: security headers, the console's Content-Security-Policy, and CORS.

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
from dataclasses import dataclass
from urllib.parse import urlsplit

from fastapi import FastAPI
from starlette.datastructures import MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fleet_server.settings import Settings

# The report's one stylesheet is allowed by hash in the console's policy (see console_csp).
from missions.report import _CSS as REPORT_STYLESHEET

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
