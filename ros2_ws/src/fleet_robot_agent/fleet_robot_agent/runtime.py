"""Running the agent's asyncio loop beside the rclpy executor's thread.

The executor spins in its own thread; the agent runs on the main thread's asyncio
loop. The only thing that crosses back into asyncio is "the executor stopped" (a
ROS shutdown or a crash), and it crosses with ``loop.call_soon_threadsafe`` only.
No rclpy import here: the executor is anything with ``spin()`` and ``shutdown()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import Awaitable, Callable
from typing import Protocol

log = logging.getLogger(__name__)


class Spinner(Protocol):
    """What we use of rclpy.executors.Executor."""

    def spin(self) -> None:
        """Run callbacks until shut down."""

    def shutdown(self, timeout_sec: float | None = None) -> bool:
        """Stop spinning; True when it stopped in time."""
        ...


async def run_with_executor(
    run_agent: Callable[[asyncio.Event], Awaitable[None]],
    executor: Spinner,
    *,
    install_signal_handlers: bool = True,
    join_timeout_s: float = 5.0,
) -> None:
    """Spin `executor` in a thread and run the agent until SIGINT/SIGTERM or the executor ends."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    if install_signal_handlers:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)

    def spin() -> None:
        try:
            executor.spin()
        except Exception as exc:  # rclpy raises ExternalShutdownException on ROS shutdown
            log.warning("rclpy executor stopped: %r", exc)
        finally:
            # The loop may already be closed when the agent stopped first.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop.set)

    thread = threading.Thread(target=spin, name="rclpy-executor", daemon=True)
    thread.start()
    try:
        await run_agent(stop)
    finally:
        await asyncio.to_thread(executor.shutdown, join_timeout_s)
        await asyncio.to_thread(thread.join, join_timeout_s)
        if install_signal_handlers:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
