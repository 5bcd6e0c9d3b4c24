"""Serve the web console's built bundle at `/`, and the console's own configuration.

The bundle is what `npm run build` writes to `fleet_server/console/dist/`. Files under
`assets/` carry a content hash in their names, so they are cached for a year as immutable;
`index.html` names the current hashes, so browsers revalidate it on every load (no-cache).
Any other GET for a path the API does not know is a client-side route of the single-page
app and answers `index.html`.

The fallback sits in an ASGI middleware that acts only on the app's own 404s, rather than
in a catch-all route: routers included after this one still win, whatever the order of
`include_router` calls in `create_app`.
"""

from __future__ import annotations

import hashlib
import mimetypes
from pathlib import Path

from fastapi import APIRouter, FastAPI
from pydantic import BaseModel
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fleet_server.deps import CurrentUser
from fleet_server.settings import ENV_PREFIX

CONSOLE_DIST_DIR = Path(__file__).resolve().parent / "console" / "dist"
"""Where `npm run build` puts the bundle."""

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
_HASHED_DIR = "assets"
_NOT_SPA_PREFIXES = ("/api/", "/docs", "/redoc", "/openapi.json")

BUILD_HINT_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Fleet console not built</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 3em auto">
<h1>The web console is not built</h1>
<p>The server is running (API at <a href="/docs">/docs</a>), but the console bundle is
missing from <code>{dist}</code>. Build it with Node 20.19 or newer:</p>
<pre>cd fleet_server/console
npm ci
npm run build</pre>
<p>then reload this page.</p>
</body></html>
"""


class ConsoleConfig(BaseSettings):
    """What the console reads from the server's environment (prefix `FLEET_`)."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    map_tile_url: str | None = None
    """XYZ basemap tiles for the city overview, e.g. `https://…/{z}/{x}/{y}.png`; None: no
    basemap (the overview draws sites on a plain background with a scale bar)."""
    map_tile_attribution: str | None = None
    """Credit line the tile provider requires, shown under the map."""


class ConsoleConfigPublic(BaseModel):
    """Settings the console needs at run time."""

    map_tile_url: str | None
    map_tile_attribution: str | None


def console_config_router(config: ConsoleConfig) -> APIRouter:
    """`GET /api/v1/console-config` for any signed-in user."""
    router = APIRouter(prefix="/api/v1", tags=["console"])
    answer = ConsoleConfigPublic(
        map_tile_url=config.map_tile_url or None,
        map_tile_attribution=config.map_tile_attribution or None,
    )

    @router.get("/console-config", response_model=ConsoleConfigPublic)
    def get_console_config(_user: CurrentUser) -> ConsoleConfigPublic:
        """Basemap tiles and other settings of the web console."""
        return answer

    return router


def _etag(path: Path) -> str:
    stat = path.stat()
    digest = hashlib.sha256(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return f'"{digest.hexdigest()[:32]}"'


def _bundle_file(dist_dir: Path, url_path: str) -> Path | None:
    """The file under `dist_dir` that `url_path` names, or None (also for escapes via ..)."""
    relative = url_path.lstrip("/")
    if not relative:
        return None
    candidate = (dist_dir / relative).resolve()
    if not candidate.is_relative_to(dist_dir) or not candidate.is_file():
        return None
    return candidate


class ConsoleFallback:
    """Answers GET/HEAD requests the app itself answers 404 with the console bundle."""

    def __init__(self, app: ASGIApp, dist_dir: Path) -> None:
        self.app = app
        self.dist_dir = dist_dir.resolve()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if (
            scope["type"] != "http"
            or scope["method"] not in ("GET", "HEAD")
            or path.startswith(_NOT_SPA_PREFIXES)
        ):
            await self.app(scope, receive, send)
            return
        not_found = False

        async def send_unless_not_found(message: Message) -> None:
            nonlocal not_found
            if message["type"] == "http.response.start" and message["status"] == 404:
                not_found = True
            if not not_found:
                await send(message)

        await self.app(scope, receive, send_unless_not_found)
        if not_found:
            await self._serve(scope, send)

    async def _serve(self, scope: Scope, send: Send) -> None:
        path: str = scope["path"]
        head_only = scope["method"] == "HEAD"
        index = self.dist_dir / "index.html"
        if not index.is_file():
            body = BUILD_HINT_HTML.format(dist=self.dist_dir).encode()
            await _respond(send, 503, body, "text/html; charset=utf-8", "no-store", head_only)
            return
        file = _bundle_file(self.dist_dir, path)
        if file is None:
            if path.startswith(f"/{_HASHED_DIR}/") or "." in path.rsplit("/", 1)[-1]:
                # A missing asset must stay a 404: index.html in its place breaks a module load.
                await _respond(send, 404, b"not found", "text/plain", "no-store", head_only)
                return
            file = index
        hashed = file.parent == self.dist_dir / _HASHED_DIR
        etag = _etag(file)
        cache = IMMUTABLE if hashed else REVALIDATE
        if Headers(scope=scope).get("if-none-match") == etag:
            await _respond(send, 304, b"", None, cache, head_only=True, etag=etag)
            return
        media = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        if media.startswith("text/") or media in ("application/javascript", "image/svg+xml"):
            media += "; charset=utf-8"
        await _respond(send, 200, file.read_bytes(), media, cache, head_only, etag=etag)


async def _respond(
    send: Send,
    status: int,
    body: bytes,
    media_type: str | None,
    cache_control: str,
    head_only: bool,
    *,
    etag: str | None = None,
) -> None:
    headers = [(b"cache-control", cache_control.encode())]
    if media_type is not None:
        headers.append((b"content-type", media_type.encode()))
        headers.append((b"content-length", str(len(body)).encode()))
        headers.append((b"x-content-type-options", b"nosniff"))
    if etag is not None:
        headers.append((b"etag", etag.encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head_only else body})


def mount_console(
    app: FastAPI, dist_dir: Path = CONSOLE_DIST_DIR, config: ConsoleConfig | None = None
) -> None:
    """Serve the console bundle in `dist_dir` at `/` and its configuration endpoint."""
    app.include_router(console_config_router(config or ConsoleConfig()))
    app.add_middleware(ConsoleFallback, dist_dir=dist_dir)
