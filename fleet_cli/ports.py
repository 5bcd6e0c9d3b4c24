"""Choosing listening ports for the demo when the defaults are taken."""

from __future__ import annotations

import logging
import os

from fleet_server.broker import find_free_port, port_is_free

log = logging.getLogger(__name__)


class PortTakenError(RuntimeError):
    """A port set explicitly in the environment is already in use."""


def choose_port(host: str, wanted: int, env_var: str, what: str) -> int:
    """`wanted` if free; another free port if `env_var` was not set; else fail naming it."""
    if wanted == 0:
        return find_free_port(host)
    if port_is_free(host, wanted):
        return wanted
    if env_var in os.environ:
        raise PortTakenError(f"{what} port {host}:{wanted} is in use; change {env_var}")
    port = find_free_port(host)
    log.warning(
        "%s port %s is in use; using %s instead (set %s to choose)", what, wanted, port, env_var
    )
    return port
