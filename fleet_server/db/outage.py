"""The database going away for a while: how to recognise it and how a loop reports it.

A background loop that meets an unreachable database logs it once (a warning, without a
traceback), keeps retrying on its usual schedule, and logs once more when the database
answers again; other errors are logged in full each time, as before.
"""

from __future__ import annotations

import logging
import time

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout


def database_unavailable(exc: BaseException) -> bool:
    """True for an error that means the database cannot be reached (not a bad query): no
    connection, a dropped connection, a pool that gave none, a server shutting down."""
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeout):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def reason(exc: BaseException) -> str:
    """The driver's first line, without SQLAlchemy's background link."""
    original = getattr(exc, "orig", None) or exc
    text = str(original).strip().splitlines()
    return text[0] if text else type(original).__name__


class OutageLog:
    """One loop's view of database outages: logged when one begins and when it ends."""

    def __init__(self, logger: logging.Logger, loop_name: str) -> None:
        self.logger = logger
        self.loop_name = loop_name
        self.since: float | None = None
        """Monotonic time of the first failure of the current outage (None: no outage)."""

    def failed(self, exc: BaseException, message: str, *args: object) -> None:
        """Report a failed step: an outage once, any other error in full (`message`)."""
        if not database_unavailable(exc):
            self.logger.error(message, *args, exc_info=exc)
            return
        if self.since is None:
            self.since = time.monotonic()
            self.logger.warning(
                "%s: database unavailable (%s); retrying until it is back",
                self.loop_name,
                reason(exc),
            )

    def succeeded(self) -> None:
        """Report a step that reached the database (ends an outage, if one was going on)."""
        if self.since is not None:
            self.logger.warning(
                "%s: database back after %.0f s; carrying on",
                self.loop_name,
                time.monotonic() - self.since,
            )
            self.since = None
