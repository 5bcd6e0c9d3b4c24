"""Order recovery: the orders robots hold survive a server restart.

Before an order (or order update) goes out, the runtime writes it to `mission_orders`
(`record_dispatches`, `record_follow_ups`), with the compiler inputs that rebuild its
plan. A restarted server re-adopts every live mission from there (`adopt_live_missions`)
and reconciles each robot from its first `state`:

- the robot runs the same orderId: the mission goes on under that orderId; a missed
  update is sent again with the orderUpdateId it had (VDA 5050 §6.6.2: a repeat of the
  same orderId/orderUpdateId is ignored by a robot that has it); the order goes back under
  traffic control from the node the robot was last at (its place and released path are
  reserved, the rest is released as the way is free); only where traffic control cannot
  take it (no table for the site, a path the table refuses) is the rest released at once;
- it finished the order while the server was down: the progress tracker reads the
  finished nodes and action results from that state and the mission completes;
- it never received the order (mission still `dispatched`): the same order is sent again,
  under traffic control from where it starts;
- it lost the order (agent restarted) or never comes back: the runtime's lost/reassign
  path takes over after the grace period.

A mission marked live whose order cannot be rebuilt goes back to the queue, and the robot
that may still hold that order is cancelled when it shows it (the runtime's orphan rule).
No order is ever sent again under a new orderId.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from fleet_server.db.base import utcnow
from fleet_server.db.models import Mission, MissionOrder, Robot
from fleet_server.fleet.live_state import RobotEvent, RobotKey, RobotLive
from fleet_server.missions.resume import Resumption
from fleet_server.missions.resume_store import count_part_sent, resumption_of_order
from fleet_server.missions.state_machine import transition
from fleet_server.missions.states import TERMINAL_STATES, MissionState
from fleet_server.sites.store import SiteMapUnavailable, SiteNotFound
from missions.compiler import (
    CompiledMission,
    MissionCompileError,
    QuietHours,
    RobotProfile,
    StartPose,
    compile_mission,
)
from missions.sites import Site
from missions.types import MissionSpec, parse_mission
from missions.vda5050 import ActionStatus, Order, State

if TYPE_CHECKING:
    from fleet_server.missions.runtime import MissionRuntime

log = logging.getLogger(__name__)

S = MissionState
ACTOR = "dispatcher"
LIVE_STATES = (S.ASSIGNED, S.DISPATCHED, S.ACTIVE, S.PAUSED)


class Sent(Protocol):
    """A mission's order about to go out (the runtime's dispatch or running record)."""

    mission_id: uuid.UUID
    robot: RobotKey
    compiled: CompiledMission
    profile: RobotProfile
    quiet: QuietHours | None


QUIET_KEY = "quiet_hours"
"""Where a `start` record keeps the quiet hours its order was compiled with (their windows
count from the order's start, so they go with it; without them the same inputs compile
the silenced actions back in)."""


def plan_digest(compiled: CompiledMission) -> str:
    """A fingerprint of the plan: every node, edge and actionId in order."""
    parts = [compiled.order_id]
    for node in compiled.nodes:
        parts.append(f"n{node.node_id}/{node.sequence_id}")
        parts.extend(f"a{a.action_id}:{a.action_type}" for a in node.actions)
    for edge in compiled.edges:
        parts.append(f"e{edge.edge_id}/{edge.sequence_id}")
        parts.extend(f"a{a.action_id}:{a.action_type}" for a in edge.actions)
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def start_of(compiled: CompiledMission) -> StartPose:
    """The start pose that compiles to this plan's first node again."""
    waypoint = compiled.node_waypoints[0]
    if waypoint is not None:
        return StartPose(waypoint=waypoint)
    position = compiled.nodes[0].node_position
    if position is None:  # every node the compiler makes has a position
        raise ValueError(f"node {compiled.nodes[0].node_id} has no position")
    return StartPose.at(position.x, position.y, position.map_id)


def start_record(compiled: CompiledMission, quiet: QuietHours | None) -> dict[str, Any]:
    """The recorded `start`: the start pose, and the quiet hours the plan was compiled with."""
    record = start_of(compiled).model_dump(mode="json", exclude_none=True)
    if quiet is not None:
        record[QUIET_KEY] = {
            "windows": {
                zone: [list(span) for span in spans] for zone, spans in quiet.windows.items()
            },
            "delay_allowance": quiet.delay_allowance,
        }
    return record


def read_start(record: dict[str, Any]) -> tuple[StartPose, QuietHours | None]:
    """The start pose and quiet hours of a recorded `start` (ValueError if malformed)."""
    fields = dict(record)
    quiet = fields.pop(QUIET_KEY, None)
    return StartPose.model_validate(fields), None if quiet is None else _quiet_hours(quiet)


def _quiet_hours(data: Any) -> QuietHours:
    try:
        windows = {
            str(zone): tuple((float(start), float(end)) for start, end in spans)
            for zone, spans in data["windows"].items()
        }
        return QuietHours(windows, float(data["delay_allowance"]))
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise ValueError(f"start.{QUIET_KEY}: not quiet hours ({exc})") from exc


@dataclass
class Adopted:
    """A live mission rebuilt from its recorded order."""

    mission_id: uuid.UUID
    robot: RobotKey
    compiled: CompiledMission
    site_id: str
    profile: RobotProfile
    state: MissionState
    order_update_id: int
    rounds_done: int
    guide_released: bool
    priority: str = "normal"
    quiet: QuietHours | None = None
    """The quiet hours the order was compiled with."""
    site: Site | None = None
    """The site's map the order was rebuilt on (for traffic control)."""
    full_spec: MissionSpec | None = None
    """The mission as stored, when the order carries only what was left of it."""
    resumption: Resumption | None = None
    """What earlier parts did (stored with the mission), for a later part's order."""
    progress_kept: bool = False
    """The order's progress is in `resumption` already (taken off its robot before)."""


@dataclass
class _Loaded:
    adopted: list[Adopted]
    orphans: dict[RobotKey, str]
    """Robots that may still hold an order of a mission they no longer have."""


class OrderRecovery:
    """Writes orders before they go out; re-adopts them after a restart."""

    def __init__(self, runtime: MissionRuntime) -> None:
        self.runtime = runtime
        self._reconcile: dict[RobotKey, Adopted] = {}
        self._remove_listener: list[Callable[[], None]] = []
        self.adopted = 0
        self.requeued = 0
        self.resent = 0

    # -- before sending (worker thread) --------------------------------------------------

    def record_dispatches(self, dispatches: Sequence[Sent]) -> None:
        """Store each new order (orderUpdateId 0) before it is published."""
        if not dispatches:
            return
        with self.runtime.db.session() as session:
            for sent in dispatches:
                compiled = sent.compiled
                self._store(
                    session,
                    sent,
                    order_update_id=0,
                    releases=[compiled.initial_release],
                    rounds_done=0,
                    guide_released=False,
                )
            session.commit()

    def record_follow_ups(
        self, orders: Iterable[tuple[RobotKey, Order]], runs: Iterable[Sent]
    ) -> None:
        """Store order updates and next rounds before they are published.

        Orders of no running mission (a guide's way back after a no-show) are not
        mission orders and are not kept.
        """
        orders = list(orders)
        if not orders:
            return
        by_robot = {run.robot: run for run in runs}
        stored = False
        with self.runtime.db.session() as session:
            for robot, order in orders:
                run = by_robot.get(robot)
                if run is None or run.compiled.order_id != order.order_id:
                    continue
                row = session.get(MissionOrder, run.mission_id)
                releases = list(row.releases) if row and row.order_id == order.order_id else []
                if order.order_update_id == 0:
                    releases = [run.compiled.initial_release]
                else:
                    releases = [*releases[: order.order_update_id], run.compiled.released_through]
                self._store(
                    session,
                    run,
                    order_update_id=order.order_update_id,
                    releases=releases,
                    rounds_done=getattr(run, "rounds_done", 0),
                    guide_released=getattr(run, "guide_released", False),
                )
                stored = True
            if stored:
                session.commit()

    @staticmethod
    def _store(
        session: Session,
        sent: Sent,
        *,
        order_update_id: int,
        releases: list[int | None],
        rounds_done: int,
        guide_released: bool,
    ) -> None:
        compiled = sent.compiled
        row = session.get(MissionOrder, sent.mission_id)
        if row is None:
            row = MissionOrder(mission_id=sent.mission_id)
            session.add(row)
        row.manufacturer, row.serial_number = sent.robot
        row.order_id = compiled.order_id
        row.order_update_id = order_update_id
        row.releases = releases
        row.spec = compiled.mission.model_dump(mode="json", by_alias=True)
        row.start = start_record(compiled, sent.quiet)
        row.profile = sent.profile.model_dump(mode="json")
        row.plan_digest = plan_digest(compiled)
        row.rounds_done = rounds_done
        row.guide_released = guide_released
        row.sent_at = utcnow()

    # -- after a restart ---------------------------------------------------------------

    async def adopt_live_missions(self) -> None:
        """Follow again every live mission recorded before the restart (on the loop)."""
        try:
            loaded = await asyncio.to_thread(self._load)
        except Exception:
            # The runtime must run even if recovery fails; the missions stay in the DB.
            log.exception("order recovery failed: live missions are not followed")
            return
        runtime = self.runtime
        for robot, order_id in loaded.orphans.items():
            runtime._orphans.setdefault(robot, order_id)
        for adopted in loaded.adopted:
            self._install(adopted)
        if loaded.adopted:
            remove = runtime.live.add_listener(self._on_robot_event)
            self._remove_listener.append(remove)
        for robot in list(self._reconcile):
            live = runtime.live.get(*robot)
            if live is not None and live.state is not None:
                self._on_robot_event(RobotEvent.STATE, live)
                runtime._on_robot_event(RobotEvent.STATE, live)
        log.info(
            "order recovery: %s missions followed again, %s back to the queue, %s orphans",
            self.adopted,
            self.requeued,
            len(loaded.orphans),
        )

    def close(self) -> None:
        """Stop listening to the fleet."""
        for remove in self._remove_listener:
            remove()
        self._remove_listener.clear()

    def _install(self, adopted: Adopted) -> None:
        from fleet_server.missions.runtime import Running

        runtime = self.runtime
        run = Running(
            adopted.mission_id,
            adopted.robot,
            adopted.compiled,
            adopted.site_id,
            adopted.profile,
            rounds_done=adopted.rounds_done,
            guide_released=adopted.guide_released,
            started=adopted.state in (S.ACTIVE, S.PAUSED) and not adopted.progress_kept,
        )
        # What the dispatcher weighs (priority), the mission as stored and what its earlier
        # parts did, where the runtime's record of a running mission keeps them.
        for name, value in (
            ("priority", adopted.priority),
            ("full_spec", adopted.full_spec),
            ("resumption", adopted.resumption),
        ):
            if name in Running.__dataclass_fields__:
                setattr(run, name, value)
        runtime.running[adopted.mission_id] = run
        run.quiet = adopted.quiet  # recorded again with every update of its order
        runtime._track(run)
        tracked = runtime.progress.get(adopted.robot)
        if tracked is not None and adopted.state is S.PAUSED:
            # A state that shows the robot driving again then resumes the mission.
            tracked.paused = True
        self._reconcile[adopted.robot] = adopted
        self.adopted += 1

    def _on_robot_event(self, event: str, robot: RobotLive) -> None:
        """On a robot's first state after the restart, settle what its order needs."""
        if event != RobotEvent.STATE or robot.state is None:
            return
        adopted = self._reconcile.pop(robot.key, None)
        if adopted is None:
            return
        state = robot.state
        run = self.runtime.running.get(adopted.mission_id)
        if run is None or run.compiled is not adopted.compiled:
            return
        compiled = adopted.compiled
        if state.order_id == compiled.order_id:
            self._catch_up(robot.key, adopted, state)
        elif state.order_id.startswith(str(adopted.mission_id)) and _runs_order(state):
            # Another order of this mission (a traffic reroute made after the last record):
            # it cannot be followed, so it is stopped and the mission goes the lost way.
            log.warning(
                "robot %s/%s runs unrecorded order %s of mission %s: cancelling it",
                *robot.key,
                state.order_id,
                adopted.mission_id,
            )
            self.runtime._orphans[robot.key] = state.order_id
            self.runtime._send_instant(robot.key, "cancelOrder", False)
        elif adopted.state in (S.ASSIGNED, S.DISPATCHED) and adopted.order_update_id == 0:
            # The robot never took the order over: the same order again, same orderId.
            self._resend(robot.key, compiled.order())
            released = compiled.released_through or 0
            self._under_traffic(robot.key, adopted, node=0, released=released, echoed=False)
        else:
            log.warning(
                "robot %s/%s no longer runs order %s of mission %s: lost/reassign path",
                *robot.key,
                compiled.order_id,
                adopted.mission_id,
            )

    def _catch_up(self, robot: RobotKey, adopted: Adopted, state: State) -> None:
        """The robot runs our order: bring the plan's updates level with it, then make sure
        the rest of the path gets released (under traffic control where it can be)."""
        compiled = adopted.compiled
        issued = compiled.last_update_id or 0
        node = state.last_node_sequence_id // 2
        if state.order_update_id < issued:
            # An update went out (or was about to) when the server died.
            self._resend(robot, compiled.order_update(issued, compiled.released_through))
            if state.node_states:
                sent = compiled.released_through or 0
                self._under_traffic(robot, adopted, node=node, released=sent)
            return
        released = [n.sequence_id // 2 for n in state.node_states if n.released]
        decision = max(released) if released else state.last_node_sequence_id // 2
        through = max(decision, compiled.released_through or 0)
        for update_id in range(issued + 1, state.order_update_id + 1):
            # Traffic control released further than the record says: take the robot's word.
            compiled.order_update(update_id, through)
        if state.node_states and self._under_traffic(robot, adopted, node=node, released=through):
            return
        last = len(compiled.nodes) - 1
        meeting = compiled.meeting_node_index
        cap = last if meeting is None or adopted.guide_released else max(meeting, through)
        if through < cap and state.node_states:
            # Traffic control cannot take the order back; the robot would wait at its
            # decision point for a release nobody sends. It goes on outside traffic control
            # until this order ends.
            log.warning(
                "order recovery: %s/%s released through node %s outside traffic control",
                *robot,
                cap,
            )
            self._resend(robot, compiled.next_order_update(cap))

    def _under_traffic(
        self, robot: RobotKey, adopted: Adopted, *, node: int, released: int, echoed: bool = True
    ) -> bool:
        """Hand the order back to traffic control: the robot at node ``node``, released through
        node ``released``. False if traffic control cannot take it."""
        traffic = self.runtime.traffic
        if adopted.site is not None:
            traffic.add_site(adopted.site_id, adopted.site)
        meeting = adopted.compiled.meeting_node_index
        managed = traffic.resume(
            adopted.site_id,
            robot,
            adopted.compiled,
            adopted.profile.robot_class,
            node=node,
            released=released,
            release_cap=None if meeting is None or adopted.guide_released else meeting,
            echoed=echoed,
        )
        traffic.flush()
        return managed

    def _resend(self, robot: RobotKey, order: Order) -> None:
        self.resent += 1
        log.info(
            "order recovery: order %s update %s to %s/%s",
            order.order_id,
            order.order_update_id,
            *robot,
        )
        self.runtime.orders.send_order(robot[0], robot[1], order)

    # -- loading (worker thread) -------------------------------------------------------

    def _load(self) -> _Loaded:
        loaded = _Loaded([], {})
        with self.runtime.db.session() as session:
            rows = {row.mission_id: row for row in session.scalars(select(MissionOrder))}
            missions = list(session.scalars(select(Mission).where(Mission.state.in_(LIVE_STATES))))
            lost: list[Mission] = []
            for mission in missions:
                row = rows.pop(mission.id, None)
                adopted = self._rebuild(session, mission, row)
                if adopted is not None:
                    loaded.adopted.append(adopted)
                    continue
                lost.append(mission)
                if row is not None:
                    loaded.orphans[(row.manufacturer, row.serial_number)] = row.order_id
            # Orders of missions that ended or went to another robot: their robot may
            # still hold one (it was away when that happened). The newest per robot.
            for row in sorted(rows.values(), key=lambda r: r.sent_at):
                loaded.orphans[(row.manufacturer, row.serial_number)] = row.order_id
            finished = [
                mission_id
                for mission_id, state in session.execute(
                    select(Mission.id, Mission.state).where(Mission.id.in_(list(rows)))
                )
                if MissionState(state) in TERMINAL_STATES
            ]
            if finished:
                session.execute(delete(MissionOrder).where(MissionOrder.mission_id.in_(finished)))
            # Transitions last: no query may follow them before the commit (see _commit).
            for mission in lost:
                self._requeue(session, mission)
            self.runtime._commit(session)
        for adopted in loaded.adopted:
            loaded.orphans.pop(adopted.robot, None)
        return loaded

    def _rebuild(
        self, session: Session, mission: Mission, row: MissionOrder | None
    ) -> Adopted | None:
        if row is None or mission.robot_id is None:
            log.warning("mission %s is %s but no order was recorded", mission.id, mission.state)
            return None
        robot = session.get(Robot, mission.robot_id)
        if robot is None or (robot.manufacturer, robot.serial_number) != (
            row.manufacturer,
            row.serial_number,
        ):
            log.warning("mission %s: recorded order is for another robot", mission.id)
            return None
        try:
            site = self.runtime.sites.load(session, mission.site_id)
            spec = parse_mission(row.spec)
            stored = parse_mission({**mission.spec, "site": site.name})
            profile = RobotProfile.model_validate(row.profile)
            releases = list(row.releases)
            start, quiet = read_start(row.start)
            compiled = compile_mission(
                spec,
                site,
                profile,
                start=start,
                order_id=row.order_id,
                release_until=releases[0],
                quiet=quiet,
            )
            compiled.order()
            for update_id, release in enumerate(releases[1:], start=1):
                compiled.order_update(update_id, release)
        except (SiteNotFound, SiteMapUnavailable, MissionCompileError, ValueError) as exc:
            log.warning("mission %s: its order cannot be rebuilt: %s", mission.id, exc)
            return None
        if plan_digest(compiled) != row.plan_digest:
            log.warning("mission %s: the site changed; its order cannot be rebuilt", mission.id)
            return None
        resumption, progress_kept = resumption_of_order(mission, row.order_id, site.name)
        return Adopted(
            mission_id=mission.id,
            robot=(row.manufacturer, row.serial_number),
            compiled=compiled,
            site_id=mission.site_id,
            profile=profile,
            state=MissionState(mission.state),
            order_update_id=row.order_update_id,
            rounds_done=row.rounds_done,
            guide_released=row.guide_released,
            priority=mission.priority,
            quiet=quiet,
            site=site,
            full_spec=None if stored == spec else stored,
            resumption=resumption,
            progress_kept=progress_kept,
        )

    def _requeue(self, session: Session, mission: Mission) -> None:
        """Back to the queue: the mission's order cannot be followed after the restart."""
        state = MissionState(mission.state)
        cause = "order not recoverable after a server restart; reassigning"
        if state is S.ACTIVE:
            transition(mission, S.PAUSED, "server restarted", ACTOR, session)
        # The part it ran may have reached its robot: the next one gets a new orderId.
        count_part_sent(mission)
        transition(mission, S.PENDING, cause, ACTOR, session)
        self.requeued += 1


def _runs_order(state: State) -> bool:
    """The robot still has nodes to drive or actions to finish."""
    return bool(state.node_states) or any(
        a.action_status not in (ActionStatus.FINISHED, ActionStatus.FAILED)
        for a in state.action_states
    )
