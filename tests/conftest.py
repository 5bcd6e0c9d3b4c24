"""Fixtures shared by every test: real brokers on free ports, and a guard on logged errors."""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterator

import pytest

from fleet_server.broker import AmqttBroker, EmbeddedBroker, MosquittoBroker, find_free_port

_OUR_LOGGERS = ("fleet_server", "robot_agent", "sim", "missions", "fleet_cli")
LONG_TESTS = os.environ.get("FLEET_LONG_TESTS") == "1"
"""Run the tests marked `slow` (fuzz at full size) too."""


class _ExceptionCollector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.name.startswith(_OUR_LOGGERS):
            self.records.append(record)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "allow_logged_exceptions: the test expects our code to log exceptions"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `slow` are skipped unless FLEET_LONG_TESTS=1."""
    if LONG_TESTS:
        return
    skip = pytest.mark.skip(reason="long run: set FLEET_LONG_TESTS=1")
    for item in items:
        if item.get_closest_marker("slow") is not None:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def fail_on_logged_exceptions(request: pytest.FixtureRequest) -> Iterator[None]:
    """A handler exception that our code logs and swallows still fails the test."""
    collector = _ExceptionCollector()
    root = logging.getLogger()
    root.addHandler(collector)
    yield
    root.removeHandler(collector)
    if collector.records and not request.node.get_closest_marker("allow_logged_exceptions"):
        first = collector.records[0]
        pytest.fail(f"logged exception in {first.name}: {first.getMessage()}", pytrace=False)


def _start(broker: EmbeddedBroker) -> EmbeddedBroker:
    broker.start()
    return broker


@pytest.fixture
def mosquitto_broker() -> Iterator[EmbeddedBroker]:
    """A real Mosquitto on a free port, from the `mosquitto` binary."""
    if shutil.which("mosquitto") is None:
        pytest.fail("the mosquitto binary is required (Debian package 'mosquitto')")
    broker = _start(MosquittoBroker(find_free_port()))
    yield broker
    broker.stop()


@pytest.fixture
def amqtt_broker() -> Iterator[EmbeddedBroker]:
    """The embedded broker in its amqtt form on a free port."""
    broker = _start(AmqttBroker(find_free_port()))
    yield broker
    broker.stop()


@pytest.fixture(params=["mosquitto", "amqtt"])
def any_broker(request: pytest.FixtureRequest) -> EmbeddedBroker:
    """Each of the two brokers in turn."""
    fixture = "mosquitto_broker" if request.param == "mosquitto" else "amqtt_broker"
    broker: EmbeddedBroker = request.getfixturevalue(fixture)
    return broker
