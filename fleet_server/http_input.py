"""Request input the server refuses before a route sees it, and input no database stores.

- Body limits: a declared `Content-Length` over the limit is refused (413) before the app
  runs; a body without one (chunked) is counted as it is read and refused the moment it
  passes the limit, so no request can make the server hold more than the limit in memory.
  Site imports (map file and floor plans) have a limit of their own.
- NUL characters and unpaired surrogates in the path, the query or a JSON or form body
  are refused (422) naming the field: PostgreSQL text cannot hold NUL (SQLite would, and
  the two must agree), and no UTF-8 column or JSON answer can hold a lone surrogate.
- A value the database rejects (a number beyond a column's range) answers 422, not 500.
"""

from __future__ import annotations

import json
import logging
import re
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fleet_server.errors import problem_response, request_id_of
from fleet_server.settings import Settings

log = logging.getLogger(__name__)

SITE_IMPORT = ("POST", "/api/v1/sites")
"""The one route whose body (map file and floor-plan images) has a limit of its own."""


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


UNSTORABLE_MESSAGE = "must not contain NUL characters or unpaired surrogates"
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
"""Characters no UTF-8 database column holds (and no JSON answer can echo)."""
_ESCAPED_UNSTORABLE = re.compile(rb"\\u(?:0000|[dD][89abcdefABCDEF])")
"""How JSON text spells them; only bodies with such an escape are parsed here."""
_SCANNED_BODIES = ("application/json", "application/x-www-form-urlencoded")


def _invalid_input(request: Request, field: str, message: str) -> JSONResponse:
    return problem_response(
        request,
        HTTPStatus.UNPROCESSABLE_ENTITY,
        f"{field}: {message}",
        problem="invalid-input",
        extra={"errors": [{"field": field, "message": message}]},
    )


def _printable(field: str) -> str:
    # The field name itself may hold the offending character; the answer must not.
    return _UNSTORABLE.sub("\ufffd", field)


def _unstorable_in_json(node: Any, path: str) -> str | None:
    """The path of the first key or string holding an unstorable character, or None."""
    if isinstance(node, str):
        return path if _UNSTORABLE.search(node) else None
    if isinstance(node, list):
        for i, item in enumerate(node):
            if (found := _unstorable_in_json(item, f"{path}[{i}]")) is not None:
                return found
    elif isinstance(node, dict):
        for key, value in node.items():
            where = f"{path}.{key}"
            if _UNSTORABLE.search(key):
                return where
            if (found := _unstorable_in_json(value, where)) is not None:
                return found
    return None


def _unstorable_in_pairs(pairs: list[tuple[str, str]], prefix: str) -> str | None:
    for key, value in pairs:
        if _UNSTORABLE.search(key) or _UNSTORABLE.search(value):
            return f"{prefix}.{key}"
    return None


def unstorable_field(scope: Scope, body: bytes | None) -> str | None:
    """Where a request carries a NUL or unpaired surrogate (`path`, `query.x`, `body.a[0]`)."""
    if _UNSTORABLE.search(scope["path"]):
        return "path"
    query = scope.get("query_string", b"").decode("latin-1")
    found = _unstorable_in_pairs(parse_qsl(query, keep_blank_values=True), "query")
    if found is None and body:
        media = Headers(scope=scope).get("content-type", "").split(";")[0].strip().lower()
        if media == "application/x-www-form-urlencoded":
            pairs = parse_qsl(body.decode("latin-1"), keep_blank_values=True)
            found = _unstorable_in_pairs(pairs, "body")
        elif _ESCAPED_UNSTORABLE.search(body):
            try:
                found = _unstorable_in_json(json.loads(body), "body")
            except (ValueError, RecursionError):
                return None  # the route answers what is wrong with it
    return None if found is None else _printable(found)


class RefuseUnstorableText:
    """422 naming the field for NUL characters or unpaired surrogates in the path, the query,
    or a JSON or form body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        field = unstorable_field(scope, None)
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
            field = unstorable_field(scope, body)
            receive = _replay(body, receive)
        if field is not None:
            await _invalid_input(Request(scope), field, UNSTORABLE_MESSAGE)(scope, receive, send)
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


def guard_request_input(app: FastAPI, settings: Settings) -> None:
    """Body limits and the text guard; add before the request-id and logging middlewares."""
    app.add_exception_handler(PayloadTooLarge, _on_payload_too_large)
    app.add_exception_handler(DataError, _on_unstorable_value)
    app.add_middleware(RefuseUnstorableText)
    app.add_middleware(
        BodySizeLimit,
        default_limit=settings.http_max_body_bytes,
        route_limits={SITE_IMPORT: settings.http_max_site_import_bytes},
    )
