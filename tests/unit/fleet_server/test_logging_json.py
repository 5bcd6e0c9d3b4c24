"""Structured logs: one JSON object per line, request ids from the middleware, no secrets."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fleet_server.app import create_app
from fleet_server.observability.structured_logging import (
    JsonLogFormatter,
    configure_logging,
    redact,
    request_id_var,
)
from fleet_server.settings import Settings

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
API_TOKEN = "fleet_0123456789ab_s3cr3tS3cr3tS3cr3tS3cr3t"


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """Root logging into a buffer through `configure_logging`, restored afterwards."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    stream = io.StringIO()
    configure_logging("DEBUG", "json", stream)
    yield stream
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def _record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord(
        "fleet_server.test", logging.WARNING, __file__, 1, message, args, None
    )
    record.__dict__.update(extra)
    return record


def test_a_record_is_one_json_line_with_the_standard_fields_and_extras() -> None:
    formatted = JsonLogFormatter().format(
        _record("robot %s dropped %d messages", "acme/r1", 3, robot="acme/r1", count=3)
    )
    assert "\n" not in formatted
    entry = json.loads(formatted)
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "fleet_server.test"
    assert entry["message"] == "robot acme/r1 dropped 3 messages"
    assert (entry["robot"], entry["count"]) == ("acme/r1", 3)
    assert datetime.fromisoformat(entry["time"]).utcoffset() is not None
    assert "request_id" not in entry


def test_secrets_never_reach_the_log() -> None:
    record = _record(
        "GET /api/v1/live?token=%s&x=1 with Authorization: Bearer %s for mqtt://robot:hunter2@b:1883",
        JWT,
        API_TOKEN,
        password="hunter2",
        headers={"authorization": f"Bearer {JWT}", "accept": "json"},
        note=f"used {API_TOKEN}",
    )
    formatted = JsonLogFormatter().format(record)
    for secret in (JWT, "s3cr3tS3cr3t", "hunter2"):
        assert secret not in formatted
    entry = json.loads(formatted)
    assert "token=***&x=1" in entry["message"]
    assert "mqtt://robot:***@b:1883" in entry["message"]
    assert entry["password"] == "***"
    assert entry["headers"] == {"authorization": "***", "accept": "json"}
    assert entry["note"] == "used fleet_0123456789ab_***"  # the public prefix stays


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"password": "p4ss", "user": "kim"}', '{"password": "***", "user": "kim"}'),
        ("{'refresh_token': 'abc'}", "{'refresh_token': '***'}"),
        ("password=p4ss&username=kim", "password=***&username=kim"),
        ("a basic check of fleet_server.api", "a basic check of fleet_server.api"),
        ("authorization=Basic dXNlcjpwYXNz", "authorization=Basic ***"),
    ],
)
def test_redaction_of_common_shapes(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_exceptions_are_in_the_same_line(log_stream: io.StringIO) -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("other.module").warning("it failed", exc_info=True)
    (entry,) = lines(log_stream)
    assert entry["message"] == "it failed"
    assert "ValueError: boom" in entry["exception"]
    assert "Traceback" in entry["exception"]


def test_configuring_again_replaces_the_handler(log_stream: io.StringIO) -> None:
    configure_logging("INFO", "json", log_stream)
    logging.getLogger("other.module").info("once")
    assert [e["message"] for e in lines(log_stream)] == ["once"]


def test_text_format_names_the_request_and_redacts(log_stream: io.StringIO) -> None:
    configure_logging("INFO", "text", log_stream)
    token = request_id_var.set("req-42")
    try:
        logging.getLogger("other.module").info("sign-in with password=%s", "hunter2")
    finally:
        request_id_var.reset(token)
    line = log_stream.getvalue().strip()
    assert line.endswith("INFO other.module [req-42]: sign-in with password=***")


def test_uvicorn_records_reach_the_same_handler(log_stream: io.StringIO) -> None:
    logging.getLogger("uvicorn.error").info(
        '%s - "WebSocket %s" [accepted]', "127.0.0.1:5000", f"/api/v1/live?token={JWT}"
    )
    (entry,) = lines(log_stream)
    assert entry["logger"] == "uvicorn.error"
    assert entry["message"] == '127.0.0.1:5000 - "WebSocket /api/v1/live?token=***" [accepted]'


@pytest.fixture
def probe_client() -> TestClient:
    """The real app's middleware stack (services are not started) with two logging routes."""
    app = create_app(Settings(_env_file=None, environment="test"))  # type: ignore[call-arg]
    probe = logging.getLogger("fleet_server.probe")

    async def on_loop() -> dict[str, str]:
        probe.info("handled on the loop")
        return {"ok": "yes"}

    def in_thread() -> dict[str, str]:
        probe.info("handled in a worker thread")
        return {"ok": "yes"}

    def failing() -> None:
        raise RuntimeError("unexpected")

    app.add_api_route("/probe/loop", on_loop)
    app.add_api_route("/probe/thread", in_thread)
    app.add_api_route("/probe/fail", failing)
    return TestClient(app, raise_server_exceptions=False)


def test_request_ids_reach_the_logs_of_that_request(
    log_stream: io.StringIO, probe_client: TestClient
) -> None:
    sent = probe_client.get("/probe/loop", headers={"X-Request-ID": "trace-abc.1"})
    assert sent.headers["x-request-id"] == "trace-abc.1"
    generated = probe_client.get("/probe/thread")
    generated_id = generated.headers["x-request-id"]
    assert len(generated_id) == 32
    by_message = {e["message"]: e for e in lines(log_stream) if e["logger"] == "fleet_server.probe"}
    assert by_message["handled on the loop"]["request_id"] == "trace-abc.1"
    assert by_message["handled in a worker thread"]["request_id"] == generated_id


@pytest.mark.allow_logged_exceptions
def test_an_unhandled_error_is_logged_with_its_request_id(
    log_stream: io.StringIO, probe_client: TestClient
) -> None:
    response = probe_client.get("/probe/fail", headers={"X-Request-ID": "failing-1"})
    assert response.status_code == 500
    assert response.json()["request_id"] == "failing-1"
    errors = [e for e in lines(log_stream) if e["level"] == "ERROR"]
    assert errors, "the error was not logged"
    assert errors[0]["request_id"] == "failing-1"
    assert "RuntimeError: unexpected" in errors[0]["exception"]


def test_log_format_defaults_by_environment() -> None:
    def fmt(**values: Any) -> str:
        return Settings(_env_file=None, **values).effective_log_format  # type: ignore[call-arg]

    assert fmt(environment="development") == "text"
    assert fmt(environment="test") == "text"
    assert fmt(environment="production", jwt_secret="x" * 40) == "json"
    assert fmt(environment="production", jwt_secret="x" * 40, log_format="text") == "text"
    assert fmt(log_format="json") == "json"


def test_the_default_handler_follows_sys_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    try:
        configure_logging("INFO", "json")
        replaced = io.StringIO()
        monkeypatch.setattr(sys, "stderr", replaced)
        logging.getLogger("other.module").info("to the current stderr")
        assert json.loads(replaced.getvalue())["message"] == "to the current stderr"
    finally:
        for handler in list(root.handlers):
            if handler not in handlers:
                root.removeHandler(handler)
        root.setLevel(level)
