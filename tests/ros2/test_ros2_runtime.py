"""run_with_executor: the executor's thread and the agent's asyncio loop stop each other."""

from __future__ import annotations

import asyncio
import signal
import threading

import pytest
from fleet_robot_agent.runtime import run_with_executor


class FakeExecutor:
    """Spins (blocks) in its thread until shut down, or ends on its own like a ROS shutdown."""

    def __init__(self, ends_by_itself: bool = False) -> None:
        self.ends_by_itself = ends_by_itself
        self.spinning = threading.Event()
        self.stopped = threading.Event()
        self.spin_thread: int | None = None
        self.shutdown_calls = 0

    def spin(self) -> None:
        self.spin_thread = threading.get_ident()
        self.spinning.set()
        if self.ends_by_itself:
            raise RuntimeError("context was shut down")
        self.stopped.wait(5.0)

    def shutdown(self, timeout_sec: float | None = None) -> bool:
        self.shutdown_calls += 1
        self.stopped.set()
        return True


async def test_the_executor_spins_in_its_own_thread_until_the_agent_ends() -> None:
    executor = FakeExecutor()
    seen: list[bool] = []

    async def agent(stop: asyncio.Event) -> None:
        await asyncio.to_thread(executor.spinning.wait, 5.0)
        seen.append(stop.is_set())

    await run_with_executor(agent, executor, install_signal_handlers=False)
    assert seen == [False]
    assert executor.spin_thread not in (None, threading.get_ident())
    assert executor.shutdown_calls == 1 and executor.stopped.is_set()


async def test_a_ros_shutdown_stops_the_agent(caplog: pytest.LogCaptureFixture) -> None:
    executor = FakeExecutor(ends_by_itself=True)
    loop_thread = threading.get_ident()
    woke_on: list[int] = []

    async def agent(stop: asyncio.Event) -> None:
        await asyncio.wait_for(stop.wait(), 5.0)
        woke_on.append(threading.get_ident())

    await run_with_executor(agent, executor, install_signal_handlers=False)
    assert woke_on == [loop_thread]
    assert "rclpy executor stopped: RuntimeError('context was shut down')" in caplog.text
    assert executor.shutdown_calls == 1


async def test_signal_handlers_are_installed_and_removed() -> None:
    executor = FakeExecutor()
    loop = asyncio.get_running_loop()

    async def agent(stop: asyncio.Event) -> None:
        loop.call_soon(lambda: signal.raise_signal(signal.SIGTERM))
        await asyncio.wait_for(stop.wait(), 5.0)

    await run_with_executor(agent, executor)
    assert executor.shutdown_calls == 1
    assert not loop.remove_signal_handler(signal.SIGTERM)  # already removed
