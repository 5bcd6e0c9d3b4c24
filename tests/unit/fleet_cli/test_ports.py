"""Port choice for the demo: fall back when a default is taken, fail when one was set."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from fleet_cli.ports import PortTakenError, choose_port


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_free_port_is_kept() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert choose_port("127.0.0.1", port, "FLEET_X_PORT", "X") == port


def test_taken_default_falls_back(busy_port: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLEET_X_PORT", raising=False)
    other = choose_port("127.0.0.1", busy_port, "FLEET_X_PORT", "X")
    assert other != busy_port and other > 0


def test_taken_explicit_port_fails_naming_the_variable(
    busy_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLEET_X_PORT", str(busy_port))
    with pytest.raises(PortTakenError, match="FLEET_X_PORT"):
        choose_port("127.0.0.1", busy_port, "FLEET_X_PORT", "X")
