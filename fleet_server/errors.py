"""RFC 9457 problem details for every error the API returns, and the request ids in them.

Each response carries an `X-Request-ID` (the caller's, if it sent a sane one) that also
appears in problem bodies, logs and audit records, so one failing call can be traced.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fleet_server.db.outage import database_unavailable, reason
from fleet_server.missions.state_machine import IllegalTransition

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
PROBLEM_TYPE_PREFIX = "urn:fleet:problem:"
REQUEST_ID_HEADER = "x-request-id"
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class FleetError(Exception):
    """An error with an HTTP status that the API turns into a problem document."""

    status: ClassVar[int] = HTTPStatus.INTERNAL_SERVER_ERROR
    problem: ClassVar[str | None] = None
    """Slug of the problem type; None means `about:blank` (the status says it all)."""

    def __init__(
        self,
        detail: str,
        *,
        extra: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = dict(extra or {})
        self.headers = dict(headers or {})


class InvalidInput(FleetError):
    """Input that is well-formed but cannot be used (the detail names the field)."""

    status = HTTPStatus.UNPROCESSABLE_ENTITY
    problem = "invalid-input"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(
            f"{field}: {message}", extra={"errors": [{"field": field, "message": message}]}
        )


class NotAuthenticated(FleetError):
    """No credentials, or credentials that are not valid (any more)."""

    status = HTTPStatus.UNAUTHORIZED

    def __init__(self, detail: str = "authentication required") -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class PermissionDenied(FleetError):
    """Authenticated, but the caller's roles do not allow this."""

    status = HTTPStatus.FORBIDDEN


class NotFound(FleetError):
    """The resource does not exist (or the caller may not know that it does)."""

    status = HTTPStatus.NOT_FOUND


class Conflict(FleetError):
    """The request contradicts what is stored (duplicate name, last admin, …)."""

    status = HTTPStatus.CONFLICT


class TooManyRequests(FleetError):
    """The caller must wait `retry_after_s` seconds before trying again."""

    status = HTTPStatus.TOO_MANY_REQUESTS
    problem = "too-many-requests"

    def __init__(self, detail: str, retry_after_s: float) -> None:
        seconds = max(1, int(retry_after_s + 0.999))
        super().__init__(
            detail, extra={"retry_after_s": seconds}, headers={"Retry-After": str(seconds)}
        )


def request_id_of(request: Request) -> str | None:
    """The id `RequestIdMiddleware` gave this request."""
    value = getattr(request.state, "request_id", None)
    return value if isinstance(value, str) else None


class RequestIdMiddleware:
    """Gives every HTTP request an id, kept in `request.state` and echoed in `X-Request-ID`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        offered = dict(scope["headers"]).get(REQUEST_ID_HEADER.encode(), b"").decode("latin-1")
        request_id = offered if _SANE_REQUEST_ID.match(offered) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER.encode(), request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_id)


def problem_response(
    request: Request,
    status: int,
    detail: str | None = None,
    *,
    problem: str | None = None,
    title: str | None = None,
    extra: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """A problem+json response (RFC 9457 §3) with the request's id as an extension member."""
    body: dict[str, Any] = {
        "type": f"{PROBLEM_TYPE_PREFIX}{problem}" if problem else "about:blank",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    body["instance"] = request.url.path
    request_id = request_id_of(request)
    if request_id:
        body["request_id"] = request_id
    body.update(extra or {})
    return JSONResponse(
        body, status_code=status, headers=dict(headers or {}), media_type=PROBLEM_JSON
    )


def field_path(location: Sequence[str | int]) -> tuple[str, str]:
    """(`body`/`query`/`path`/…, `grants[0].role`) from a pydantic error location."""
    where = str(location[0]) if location else "body"
    path = ""
    for part in location[1:]:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return where, path or where


def _validation_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    # The offending input is left out on purpose: it may be a password.
    errors = []
    for error in exc.errors():
        where, path = field_path(error.get("loc", ()))
        errors.append(
            {"field": path, "in": where, "message": str(error.get("msg")), "type": error["type"]}
        )
    return errors


async def _on_fleet_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, FleetError):
        raise exc
    return problem_response(
        request,
        exc.status,
        exc.detail,
        problem=exc.problem,
        extra=exc.extra,
        headers=exc.headers,
    )


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, RequestValidationError):
        raise exc
    errors = _validation_errors(exc)
    fields = ", ".join(sorted({e["field"] for e in errors}))
    return problem_response(
        request,
        HTTPStatus.UNPROCESSABLE_ENTITY,
        f"invalid request: {fields}",
        problem="validation-error",
        extra={"errors": errors},
    )


async def _on_http_exception(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, StarletteHTTPException):
        raise exc
    detail: str | None = exc.detail if isinstance(exc.detail, str) else None
    if detail == HTTPStatus(exc.status_code).phrase:
        detail = None
    return problem_response(request, exc.status_code, detail, headers=exc.headers)


async def _on_illegal_transition(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, IllegalTransition):
        raise exc
    return problem_response(
        request,
        HTTPStatus.CONFLICT,
        str(exc),
        problem="illegal-transition",
        extra={
            "current_state": exc.current_state.value,
            "requested_state": exc.requested_state.value,
        },
    )


async def _on_concurrent_change(request: Request, exc: Exception) -> JSONResponse:
    log.info("request %s conflicted with stored data: %s", request_id_of(request), exc)
    return problem_response(
        request,
        HTTPStatus.CONFLICT,
        "the resource changed or conflicts with stored data; reload and retry",
        problem="conflict",
    )


DATABASE_RETRY_AFTER_S = 5
"""What a caller is told to wait while the database is unavailable."""


async def _on_database_error(request: Request, exc: Exception) -> JSONResponse:
    if not database_unavailable(exc):
        return await _on_unexpected(request, exc)
    log.warning(
        "request %s %s: database unavailable (%s)", request.method, request.url.path, reason(exc)
    )
    return problem_response(
        request,
        HTTPStatus.SERVICE_UNAVAILABLE,
        "the database is unavailable; robots carry on with their orders. Try again shortly",
        problem="database-unavailable",
        extra={"retry_after_s": DATABASE_RETRY_AFTER_S},
        headers={"Retry-After": str(DATABASE_RETRY_AFTER_S)},
    )


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error in request %s %s", request.method, request.url.path)
    return problem_response(request, HTTPStatus.INTERNAL_SERVER_ERROR, "internal error")


def install_problem_handlers(app: FastAPI) -> None:
    """Make every error of `app` a problem+json response and give requests ids."""
    app.add_middleware(RequestIdMiddleware)
    app.add_exception_handler(FleetError, _on_fleet_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_exception)
    app.add_exception_handler(IllegalTransition, _on_illegal_transition)
    app.add_exception_handler(StaleDataError, _on_concurrent_change)
    app.add_exception_handler(IntegrityError, _on_concurrent_change)
    app.add_exception_handler(DBAPIError, _on_database_error)
    app.add_exception_handler(PoolTimeout, _on_database_error)
    app.add_exception_handler(Exception, _on_unexpected)
