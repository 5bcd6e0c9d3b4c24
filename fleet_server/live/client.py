"""One live-stream connection: what it subscribed to, what waits for it, its bounded outbox.

Updates for a client wait in `pending`, one entry per robot, mission, alarm or schedule:
a newer update replaces the older one, so a client that reads slowly gets fewer, fresher
updates instead of a growing backlog. At each flush the pending entries become one
`delta` frame, but only if the outbox has room; the outbox holds a few frames at most.
When missions, alarms or schedules pile up past `max_pending` the client is sent fresh
snapshots instead, and when it reads nothing for `stall_timeout_s` while updates wait it
is disconnected with `CloseCode.TOO_SLOW`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from fleet_server.auth.roles import Principal
from fleet_server.live.entries import Entry
from fleet_server.live.protocol import ALL_SITES, CloseCode, encode

SECTIONS = ("robots", "missions", "alarms", "schedules")
ROBOTS, MISSIONS, ALARMS, SCHEDULES = SECTIONS


@dataclass(frozen=True, slots=True)
class Update:
    """One entry for the clients of its site, encoded once for all of them."""

    site: str | None
    entry: Entry
    text: str

    @classmethod
    def of(cls, site: str | None, entry: Entry) -> Update:
        """The update of `entry` (JSON-encoded here, once)."""
        return cls(site, entry, encode(entry))

    @property
    def version(self) -> Any:
        """Orders updates of one record (missions carry one; others count as equal)."""
        return self.entry.get("version", 0)


@dataclass
class ClientStats:
    """What happened to one client's updates."""

    offered: int = 0
    """Updates offered (before coalescing): what an unbounded queue would have held."""
    deltas: int = 0
    deferred_flushes: int = 0
    """Flushes that found the outbox full (the pending updates kept coalescing)."""
    resnapshots: int = 0
    peak_outbox: int = 0


class LiveClient:
    """The server side of one authenticated live-stream connection."""

    def __init__(
        self,
        principal: Principal,
        token: str,
        *,
        outbox_frames: int,
        max_pending: int,
        stall_timeout_s: float,
    ) -> None:
        self.principal = principal
        self.token = token
        self.sites: set[str] = set()
        """Subscribed site ids; ALL_SITES stands for every site."""
        self.outbox: asyncio.Queue[str] = asyncio.Queue(maxsize=outbox_frames)
        self.awaiting_snapshot: set[str] = set()
        self.snapshot_task: asyncio.Task[None] | None = None
        self.max_pending = max_pending
        self.stall_timeout_s = stall_timeout_s
        self.seq = 0
        self.behind_since: float | None = None
        self.close_request: tuple[int, str] | None = None
        self.closing = asyncio.Event()
        self._room = asyncio.Event()
        self.stats = ClientStats()
        self._pending: dict[str, dict[Hashable, Update]] = {section: {} for section in SECTIONS}

    # -- subscriptions ---------------------------------------------------------------------

    def wants(self, site: str | None) -> bool:
        """Whether updates of `site` (None: a robot registered nowhere) go to this client."""
        return ALL_SITES in self.sites or (site is not None and site in self.sites)

    def forget_site(self, site: str) -> None:
        """Drop what waits for an unsubscribed site."""
        self.awaiting_snapshot.discard(site)
        for pending in self._pending.values():
            for key in [k for k, update in pending.items() if not self.wants(update.site)]:
                del pending[key]

    # -- updates in ------------------------------------------------------------------------

    def offer(self, section: str, key: Hashable, update: Update) -> None:
        """Queue an update; it replaces a pending one for the same key unless that is newer."""
        self.stats.offered += 1
        pending = self._pending[section]
        held = pending.get(key)
        if held is not None and held.version > update.version:
            return
        pending[key] = update
        if section != ROBOTS and held is None and self._pending_records() > self.max_pending:
            # Robots are bounded by the fleet; records are not. Past the cap the client
            # gets the current picture again rather than an ever longer list of changes.
            self._start_over()

    def _pending_records(self) -> int:
        return sum(len(self._pending[s]) for s in SECTIONS if s != ROBOTS)

    def _start_over(self) -> None:
        for pending in self._pending.values():
            pending.clear()
        self.awaiting_snapshot |= self.sites
        self.stats.resnapshots += 1

    def pending_count(self) -> int:
        """Updates waiting (all sections)."""
        return sum(len(p) for p in self._pending.values())

    def snapshot_sent(self, site: str, mission_versions: dict[str, int]) -> None:
        """A snapshot of `site` went out: pending updates it already covers are dropped."""
        robots = self._pending[ROBOTS]
        for key in [k for k, u in robots.items() if site in (u.site, ALL_SITES)]:
            del robots[key]
        missions = self._pending[MISSIONS]
        for key, update in list(missions.items()):
            if mission_versions.get(str(key), -1) >= update.version:
                del missions[key]

    # -- frames out --------------------------------------------------------------------------

    def flush(self, now: float) -> None:
        """Turn pending updates into one delta frame if the outbox has room."""
        if self.close_request is not None:
            return
        waiting = bool(self.awaiting_snapshot) or self.pending_count() > 0
        if not waiting:
            self.behind_since = None
            return
        if self.outbox.full():
            self.stats.deferred_flushes += 1
            if self.behind_since is None:
                self.behind_since = now
            elif now - self.behind_since >= self.stall_timeout_s:
                self.request_close(
                    CloseCode.TOO_SLOW,
                    f"too slow: nothing read for {self.stall_timeout_s:g} s while updates waited",
                )
            return
        self.behind_since = None
        if self.awaiting_snapshot:
            return  # deltas go out only after the snapshots they follow
        self.seq += 1
        # Entries are encoded already (once for every client): the frame is their join.
        parts = [f'{{"type":"delta","seq":{self.seq}']
        for section in SECTIONS:
            pending = self._pending[section]
            parts.append(f',"{section}":[')
            parts.append(",".join(update.text for update in pending.values()))
            parts.append("]")
            pending.clear()
        parts.append("}")
        self.outbox.put_nowait("".join(parts))
        self.stats.deltas += 1
        self.stats.peak_outbox = max(self.stats.peak_outbox, self.outbox.qsize())

    async def next_frame(self) -> str:
        """The next frame to write to the socket (waits for one)."""
        frame = await self.outbox.get()
        self._room.set()
        return frame

    async def wait_for_room(self) -> None:
        """Return once the outbox can take a frame (or the client is closing)."""
        while self.outbox.full() and self.close_request is None:
            self._room.clear()
            await self._room.wait()

    def send_now(self, frame: str) -> bool:
        """Queue a frame outside the delta stream (errors); False when the outbox is full."""
        try:
            self.outbox.put_nowait(frame)
        except asyncio.QueueFull:
            return False
        return True

    def request_close(self, code: int, reason: str) -> None:
        """Ask the connection to close with `code` (the endpoint does the closing)."""
        if self.close_request is None:
            self.close_request = (code, reason)
            self.closing.set()
            self._room.set()
