"""Log setup: one JSON object per line (or plain text), request ids, and no secrets.

`configure_logging` installs one root handler for the whole process, uvicorn's loggers
included, so every line goes through the same redaction. The request id that
`RequestIdMiddleware` gives an HTTP request reaches log records through a context
variable set by `RequestContextMiddleware`; WebSocket connections get an id of their own.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

from starlette.types import ASGIApp, Receive, Scope, Send

LogFormat = Literal["text", "json"]

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "fleet_request_id", default=None
)
"""The id of the request (or WebSocket connection) the current task serves."""

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s%(request_suffix)s: %(message)s"
REDACTED = "***"
_HANDLER_MARK = "_fleet_log_handler"
_UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")

# Attributes every LogRecord has; anything else on a record came in through `extra=`.
_STANDARD_ATTRIBUTES = frozenset(
    logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None).__dict__
) | {"message", "asctime", "request_suffix"}

_SECRET_KEY = re.compile(
    r"(?i)(password|passwd|secret|token|authorization|credential|api[_-]?key|cookie)"
)
# (pattern, replacement): credentials in URLs, headers, query strings and JSON bodies,
# and anything shaped like one of our API tokens or a JWT wherever it appears.
_SECRET_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"(?i)\b(mqtts?|postgres(?:ql)?(?:\+\w+)?|https?)://([^:/@\s]+):[^@\s]+@"),
        r"\1://\2:***@",
    ),
    (
        re.compile(r"(?i)\b(authorization['\"]?\s*[:=]\s*['\"]?)((?:basic|bearer)\s+)?[^'\",\s]+"),
        r"\1\2***",
    ),
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]+"), r"\1 ***"),
    (
        re.compile(
            r"(?i)([?&;\s]|^)((?:access_|refresh_|api_|id_)?token|password|passwd|secret"
            r"|client_secret|api_key)=[^&\s\"']*"
        ),
        r"\1\2=***",
    ),
    (
        re.compile(
            r"(?i)(([\"'])(?:[a-z_]*token|password|passwd|secret|authorization)\2\s*:\s*)"
            r"([\"'])(?:(?!\3).)*\3"
        ),
        r"\1\3***\3",
    ),
    (re.compile(r"\bfleet_([0-9a-f]{12})_[A-Za-z0-9_-]+"), r"fleet_\1_***"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), "***"),
)


def redact(text: str) -> str:
    """`text` with credentials, tokens and passwords replaced by `***`."""
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _json_value(key: str, value: Any) -> Any:
    if _SECRET_KEY.search(key):
        return REDACTED
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {str(k): _json_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_json_value(key, v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return redact(str(value))


def current_request_id() -> str | None:
    """The request id of the task that logs, if it serves a request."""
    return request_id_var.get()


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, extras."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON, secrets redacted."""
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        request_id = current_request_id()
        if request_id is not None:
            entry["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRIBUTES and key not in entry and not key.startswith("_"):
                entry[key] = _json_value(key, value)
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        if record.stack_info:
            entry["stack"] = redact(self.formatStack(record.stack_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


class RedactingTextFormatter(logging.Formatter):
    """The classic one-line text format, with the request id and secrets redacted."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        """The record as text, `[request id]` after the logger name when there is one."""
        request_id = current_request_id()
        record.__dict__["request_suffix"] = f" [{request_id}]" if request_id else ""
        try:
            return redact(super().format(record))
        finally:
            del record.__dict__["request_suffix"]


def make_formatter(log_format: LogFormat) -> logging.Formatter:
    """The formatter for `text` or `json`."""
    if log_format == "json":
        return JsonLogFormatter()
    if log_format == "text":
        return RedactingTextFormatter()
    raise ValueError(f"log format must be 'text' or 'json', got {log_format!r}")


class _CurrentStderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is when a record comes, not when it was made."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def configure_logging(level: str, log_format: LogFormat, stream: TextIO | None = None) -> None:
    """Send every logger's records (uvicorn's too) to one handler on the root logger.

    Calling it again replaces the handler it installed before, so tests and the CLI can
    switch formats; handlers that others added to the root logger are left alone.
    """
    handler: logging.Handler = (
        logging.StreamHandler(stream) if stream is not None else _CurrentStderrHandler()
    )
    handler.setFormatter(make_formatter(log_format))
    setattr(handler, _HANDLER_MARK, True)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in _UVICORN_LOGGERS:
        # uvicorn's own handlers would print past the redaction; let records reach the root.
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
        uvicorn_logger.setLevel(logging.NOTSET)  # the root level governs


class RequestContextMiddleware:
    """Puts the request id into `request_id_var` for everything that serves the request.

    Installed inside `RequestIdMiddleware`, whose id it takes; WebSocket connections, which
    that middleware leaves alone, get one here (the client's `X-Request-ID` if sane).
    The variable is not reset on the way out: each request runs in a task of its own,
    and errors logged by the outermost error handler should still carry the id.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            state = scope.setdefault("state", {})
            request_id = state.get("request_id")
            if not isinstance(request_id, str):
                offered = dict(scope.get("headers", [])).get(b"x-request-id", b"")
                text = offered.decode("latin-1")
                request_id = text if _SANE_REQUEST_ID.match(text) else uuid.uuid4().hex
                state["request_id"] = request_id
            request_id_var.set(request_id)
        await self.app(scope, receive, send)
