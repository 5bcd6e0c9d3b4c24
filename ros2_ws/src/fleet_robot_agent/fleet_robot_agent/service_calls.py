"""Service calls the agent polls for (doors, lifts) and fires (devices, charging).

The agent's handlers ask again on every tick ("is the door open yet?") and must never
block, so a request is sent once, its answer awaited in the background, and a refused
or unanswered request retried after `retry_s`. Callers serialise access.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class CallState(StrEnum):
    """What a poll of a service call found."""

    SEND = "send"
    """Nothing in flight and nothing to report: send a request now (marked in flight)."""
    WAITING = "waiting"
    """A request is in flight, or the last one was refused and the retry is not due."""
    DONE = "done"
    """The service answered success; the answer is consumed, the next poll asks anew."""


@dataclass
class _Call:
    in_flight: bool = False
    sent_at: float = 0.0
    success: bool | None = None
    message: str = ""


class ServiceCallTracker:
    """Per-service request state and availability, keyed by the full service name."""

    def __init__(self, retry_s: float = 1.0, answer_timeout_s: float = 10.0) -> None:
        self.retry_s = retry_s
        self.answer_timeout_s = answer_timeout_s
        self._calls: dict[str, _Call] = {}
        self._ready: dict[str, bool] = {}

    def poll(self, service: str, now: float) -> CallState:
        """Where a polled request stands; SEND means the caller must send one now."""
        call = self._calls.setdefault(service, _Call())
        if call.success is True and not call.in_flight:
            del self._calls[service]
            return CallState.DONE
        if call.in_flight and now - call.sent_at < self.answer_timeout_s:
            return CallState.WAITING
        if call.success is False and now - call.sent_at < self.retry_s:
            return CallState.WAITING
        # Never sent, refused long enough ago, or lost (no answer within the timeout).
        self.mark_sent(service, now)
        return CallState.SEND

    def mark_sent(self, service: str, now: float) -> None:
        """Record a request sent now (fire-and-forget calls use this directly)."""
        call = self._calls.setdefault(service, _Call())
        call.in_flight, call.sent_at, call.success = True, now, None

    def on_response(self, service: str, success: bool, message: str = "") -> None:
        """The service answered (or could not be reached: success False)."""
        call = self._calls.setdefault(service, _Call())
        call.in_flight, call.success, call.message = False, success, message

    def last_refusal(self, service: str) -> str | None:
        """The message of the last answer when it was a refusal, else None."""
        call = self._calls.get(service)
        if call is None or call.success is not False:
            return None
        return call.message or "refused"

    def set_ready(self, service: str, ready: bool) -> None:
        """Whether a server for `service` is up (from rclpy's ``service_is_ready()``)."""
        self._ready[service] = ready

    def is_ready(self, service: str) -> bool:
        """True once the service was seen up; unknown services are not ready."""
        return self._ready.get(service, False)
